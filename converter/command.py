"""What every command of the package shares, so that a user who learnt one knows the others:
-h and --help, --version, -q/--quiet spelt and meant alike (docs/cli.md lists the rest).

click only: --help and --version answer before torch is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

PACKAGE = "irv2-torch7"
CONTEXT = {"help_option_names": ["-h", "--help"]}


def command(group: bool = False, **kwargs: Any) -> Callable[[Callable], click.Command]:
    """click.command (or click.group) with -h/--help and --version."""
    make = click.group if group else click.command

    def decorate(func: Callable) -> click.Command:
        func = click.version_option(
            package_name=PACKAGE, message=f"%(prog)s ({PACKAGE}) %(version)s"
        )(func)
        return make(context_settings=CONTEXT, **kwargs)(func)

    return decorate


def quiet_option(help: str = "Print errors only.") -> Callable[[Callable], Callable]:  # noqa: A002
    """-q/--quiet: progress lines and notes off; results and errors stay."""
    return click.option("-q", "--quiet", is_flag=True, help=help)
