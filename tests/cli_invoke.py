"""Running a click command in-process as a user would: its exit status and all it printed."""

from __future__ import annotations

from click.testing import CliRunner


def invoke(main, *args: object) -> tuple[int, str]:  # noqa: ANN001 - any click command
    """(exit status, stdout + stderr); an exception other than SystemExit is a bug: raised."""
    result = CliRunner().invoke(main, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output
