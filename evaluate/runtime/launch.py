"""Running a command body as this process's part of a torchrun group (or alone), shared by
irv2-eval and irv2-features: it lives here, not in either command, so that neither imports
the other's command-line module."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from converter.errors import ending_errors


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
        with ending_errors("no summary, no file written (they come at the end)"):
            local_rank = int(os.environ["LOCAL_RANK"]) if under_torchrun() else None
            torch_device = resolve_device(device, local_rank)
            info = distributed.init_from_env(torch_device.type == "cuda")
            body(info, torch_device, **options)
            distributed.barrier(info)  # no rank leaves the group while rank 0 still writes
    finally:
        distributed.cleanup(info)
