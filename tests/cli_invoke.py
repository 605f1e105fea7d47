"""Running a click command in-process as a user would: its exit status and all it printed."""

from __future__ import annotations

from click.testing import CliRunner, Result


def _invoked(main, *args: object) -> Result:  # noqa: ANN001 - any click command
    """The run's result; an exception other than SystemExit is a bug: raised."""
    result = CliRunner().invoke(main, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def invoke(main, *args: object) -> tuple[int, str]:  # noqa: ANN001 - any click command
    """(exit status, stdout + stderr); an exception other than SystemExit is a bug: raised."""
    result = _invoked(main, *args)
    return result.exit_code, result.output


def invoke_streams(main, *args: object) -> tuple[int, str, str]:  # noqa: ANN001 - any click command
    """(exit status, stdout, stderr); an exception other than SystemExit is a bug: raised."""
    result = _invoked(main, *args)
    return result.exit_code, result.stdout, result.stderr


def run(*args: object) -> Result:
    """t7convert ARGS as click's Result (exceptions stay in it, as CliRunner leaves them)."""
    from converter.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])
