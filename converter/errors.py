"""User-facing errors: every mistake a user can make ends as one clear line, never a traceback.

Command-line entry points catch `UserError` (and its subclasses), print `str(error)` on stderr
and exit with status 2. Library callers get an ordinary exception with the same message. An
error may carry `details`, further lines (e.g. every problem of a mapping) that a command
prints under its one-line message where they help. Ctrl-C ends a command with one line and
status 130 (128 + SIGINT, what shells report), not click's "Aborted!" and 1: scripts can tell
an interrupt from a failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager


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


class CollectiveUserError(UserError):
    """A user error every torchrun rank raises together; only rank 0 prints it."""


INTERRUPTED_STATUS = 130


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying the line the command ends with (what was kept, how to go on)."""


PIPE_CLOSED_STATUS = 141  # 128 + SIGPIPE, what shells report for `yes | head`


def exit_pipe_closed():  # noqa: ANN201 - never returns
    """The reader of our stdout has gone (`irv2-logs csv LOG | head`): end quietly, as a Unix
    tool does, with no error line and no traceback from the final flush."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's own flush at exit is silent
    except (OSError, ValueError):  # stdout is no file descriptor (a test's capture)
        pass
    raise SystemExit(PIPE_CLOSED_STATUS) from None


def exit_interrupted(error: KeyboardInterrupt):  # noqa: ANN201 - never returns
    """One line on stderr for Ctrl-C and exit status 130."""
    import click

    note = str(error) if isinstance(error, Interrupted) else ""
    click.echo(f"interrupted{'; ' + note if note else ''}", err=True)
    raise SystemExit(INTERRUPTED_STATUS) from None


def out_of_memory(error: BaseException) -> UserError | None:
    """The one line for an allocation failure (CPU or CUDA, in the process or a DataLoader
    worker), naming the command's --batch-size and what to lower; None for any other error."""
    text = str(error)
    if not isinstance(error, MemoryError) and not (
        isinstance(error, RuntimeError)
        and ("out of memory" in text or "can't allocate memory" in text)
    ):
        return None
    import click

    ctx = click.get_current_context(silent=True)
    params = {} if ctx is None else ctx.params
    batch, val_batch = params.get("batch_size"), params.get("val_batch_size")
    if batch is None:
        return UserError("out of memory; close other programs or run on a machine with more memory")
    lower = f"lower --batch-size (e.g. --batch-size {max(1, batch // 2)})"
    if "val_batch_size" in params:
        given = f", --val-batch-size {val_batch}" if val_batch else ""
        lower += " or --val-batch-size"
    else:
        given = ""
    return UserError(f"out of memory with --batch-size {batch}{given}: it did not fit; {lower}")


def exit_with(error: UserError, rank: int | None = None):  # noqa: ANN201 - never returns
    """One line on stderr (and its details under it), exit status 2. Under torchrun an error
    every rank raised together is printed by rank 0 alone, another rank's own error with its
    rank."""
    import os

    import click

    rank = int(os.environ.get("RANK", "0")) if rank is None else rank
    if rank == 0 or not isinstance(error, CollectiveUserError):
        click.echo(f"error: {f'rank {rank}: ' if rank else ''}{error}", err=True)
        for line in error.details:
            click.echo(f"  {line}", err=True)
    raise SystemExit(error.exit_code) from None


def as_user_error(error: BaseException) -> UserError | None:
    """The one line for an error the user can act on: a UserError itself, an OS error on a
    file they named (or its disk), running out of memory; None for a bug."""
    if isinstance(error, UserError):
        return error
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return UserError(f"{where}{error.strerror or error}")
    return out_of_memory(error)


@contextmanager
def ending_errors(interrupted: str | None = None) -> Iterator[None]:
    """The body of a command: an error the user can act on (`as_user_error`) becomes one line
    on stderr and exit status 2, never a traceback; a closed stdout ends quietly; Ctrl-C
    becomes one line (`interrupted`, when given, says what was kept) and status 130."""
    try:
        yield
    except BrokenPipeError:
        exit_pipe_closed()
    except (UserError, OSError, RuntimeError, MemoryError) as e:
        error = as_user_error(e)
        if error is None:
            raise
        exit_with(error)
    except KeyboardInterrupt as e:
        exit_interrupted(e if interrupted is None else Interrupted(interrupted))


def exit_on_user_error(func):  # noqa: ANN001, ANN201 - a decorator for click commands
    """Run a CLI body within `ending_errors`."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with ending_errors():
            return func(*args, **kwargs)

    return wrapper
