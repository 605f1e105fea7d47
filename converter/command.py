"""What every command of the package shares, so that a user who learnt one knows the others:
-h and --help, --version, -q/--quiet spelt and meant alike (docs/cli.md lists the rest).

click only: --help and --version answer before torch is imported.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import click

PACKAGE = "irv2-torch7"
CONTEXT = {"help_option_names": ["-h", "--help"]}


def command(group: bool = False, **kwargs: Any) -> Callable[[Callable], click.Command]:
    """click.command (or click.group) with -h/--help and --version, whose Python warnings are
    one `warning: ...` line each (none under -q)."""
    make = click.group if group else click.command

    def decorate(func: Callable) -> click.Command:
        func = _warnings_as_lines(func)
        func = click.version_option(
            package_name=PACKAGE, message=f"%(prog)s ({PACKAGE}) %(version)s"
        )(func)
        return make(context_settings=CONTEXT, **kwargs)(func)

    return decorate


def quiet_option(help: str = "Print errors only.") -> Callable[[Callable], Callable]:  # noqa: A002
    """-q/--quiet: progress lines and notes off; results and errors stay."""
    return click.option("-q", "--quiet", is_flag=True, help=help)


def _warnings_as_lines(func: Callable) -> Callable:
    """Run `func` with every warning shown as one line on stderr, not Python's two (the second
    is the warning's source line, which means nothing to a user); -q silences them."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            if kwargs.get("quiet"):
                warnings.simplefilter("ignore")
            else:
                warnings.showwarning = _show
            return func(*args, **kwargs)

    return run


def _show(message: Warning | str, *_: Any, **__: Any) -> None:
    click.echo(f"warning: {message}", err=True)
