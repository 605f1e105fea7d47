"""User-facing errors: every mistake a user can make ends as one clear line, never a traceback.

Command-line entry points catch `UserError` (and its subclasses), print `str(error)` on stderr
and exit with status 2. Library callers get an ordinary exception with the same message. An
error may carry `details`, further lines (e.g. every problem of a mapping) that a command
prints under its one-line message where they help. Ctrl-C ends a command with one line and
status 130 (128 + SIGINT, what shells report), not click's "Aborted!" and 1: scripts can tell
an interrupt from a failure.
"""

from collections.abc import Sequence


class UserError(Exception):
    """A problem with the user's input (file, option, data) that they can fix."""

    exit_code = 2

    def __init__(self, message: str = "", details: Sequence[str] = ()):
        super().__init__(message)
        self.details = list(details)


class T7FormatError(UserError):
    """The file is not a readable Torch7 serialization (truncated, corrupt, unsupported)."""


class NotTorch7Error(T7FormatError):
    """The file is some other known format (PyTorch pickle, Git LFS pointer, ...)."""


class MappingError(UserError):
    """The checkpoint's tensors do not fit the mapping table (missing, unused, wrong shape)."""


INTERRUPTED_STATUS = 130


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying the line the command ends with (what was kept, how to go on)."""


def exit_interrupted(error: KeyboardInterrupt):  # noqa: ANN201 - never returns
    """One line on stderr for Ctrl-C and exit status 130."""
    import click

    note = str(error) if isinstance(error, Interrupted) else ""
    click.echo(f"interrupted{'; ' + note if note else ''}", err=True)
    raise SystemExit(INTERRUPTED_STATUS) from None


def exit_on_user_error(func):  # noqa: ANN001, ANN201 - a decorator for click commands
    """Run a CLI body; a UserError (or an OS error on a file the user named) becomes one line
    on stderr and exit status 2, never a traceback; Ctrl-C becomes one line and status 130."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        import click

        try:
            return func(*args, **kwargs)
        except UserError as e:
            click.echo(f"error: {e}", err=True)
            for line in e.details:
                click.echo(f"  {line}", err=True)
            raise SystemExit(e.exit_code) from None
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"error: {where}{e.strerror or e}", err=True)
            raise SystemExit(UserError.exit_code) from None
        except KeyboardInterrupt as e:
            exit_interrupted(e)

    return wrapper
