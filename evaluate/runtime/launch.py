"""Running a command body as this process's part of a torchrun group (or alone), shared by
irv2-eval and irv2-features: it lives here, not in either command, so that neither imports
the other's command-line module."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from converter.errors import Interrupted, UserError, exit_interrupted


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def run_distributed(body: Callable[..., None], device: str, options: dict[str, Any]) -> None:
    """`body(info, torch_device, **options)` as this process's part of a torchrun group (or
    alone): a user error becomes one line on stderr and exit status 2, an error every rank
    shares printed once, by rank 0."""
    from evaluate.runtime import distributed
    from evaluate.runtime.devices import resolve_device

    info = distributed.DistInfo()
    try:
        local_rank = int(os.environ["LOCAL_RANK"]) if under_torchrun() else None
        torch_device = resolve_device(device, local_rank)
        info = distributed.init_from_env(torch_device.type == "cuda")
        body(info, torch_device, **options)
        distributed.barrier(info)  # no rank leaves the group while rank 0 still writes
    except UserError as e:
        exit_on(e, info)
    except OSError as e:  # a file the user named, or its disk, failing after the checks
        exit_on(os_error(e), info)
    except KeyboardInterrupt:
        exit_interrupted(Interrupted("no summary, no file written (they come at the end)"))
    finally:
        distributed.cleanup(info)


def exit_on(error: UserError, info: Any) -> None:
    """One line on stderr and exit status 2; an error every rank raised is printed by rank 0."""
    from evaluate.runtime import distributed

    if info.is_main or not isinstance(error, distributed.CollectiveUserError):
        prefix = "" if info.is_main else f"rank {info.rank}: "
        click.echo(f"error: {prefix}{error}", err=True)
    raise SystemExit(error.exit_code) from None


def os_error(error: OSError) -> UserError:
    """An OS error on a file the user named, as the one line a user error is."""
    where = f"{error.filename}: " if error.filename else ""
    return UserError(f"{where}{error.strerror or error}")
