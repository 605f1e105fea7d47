"""torch.distributed plumbing for torchrun: set-up, sharding, gathering to rank 0, shared errors.

A few plain functions (as in torchvision's references), used by `irv2-eval` and the trainer.
Without torchrun's environment (WORLD_SIZE unset or 1) everything degrades to a single process
and no process group is created, so the same code runs everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from converter.errors import CollectiveUserError, UserError


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: rank among world_size, and its rank on this node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int | None = None
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(use_cuda: bool) -> DistInfo:
    """Join the process group torchrun describes in the environment (NCCL on GPU, gloo on CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    import torch
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        # NCCL collectives (and gather_object) run on the current device: it must be ours.
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, backend=backend)


def shard(n: int, info: DistInfo, batch: int = 1) -> range:
    """This rank's contiguous slice of range(n): every index exactly once, no padding.

    DistributedSampler pads the last shard with duplicates, which would count some images twice;
    contiguous slices avoid that. Slices hold whole `batch`es of a single process's batching
    (sizes differ by at most one batch), so every batch a rank evaluates holds the very images
    of a single-process batch: a model's output for an image depends on what shares its batch.
    """
    units = -(-n // batch)
    start, end = units * info.rank // info.world_size, units * (info.rank + 1) // info.world_size
    return range(min(n, start * batch), min(n, end * batch))


def gather_to_main(obj: Any, info: DistInfo) -> list[Any] | None:
    """Every rank's `obj` (picklable) as a list in rank order on rank 0; None on the others."""
    if not info.enabled:
        return [obj]
    import torch.distributed as dist

    out: list[Any] | None = [None] * info.world_size if info.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def all_reduce_sum(tensor: Any, info: DistInfo) -> Any:
    """Sum a tensor over ranks in place (a no-op in a single process); returns it."""
    if info.enabled:
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def raise_together(error: UserError | None, info: DistInfo) -> None:
    """A collective checkpoint: if any rank failed, every rank raises the lowest rank's error.

    Without it, a rank that stops on a bad image leaves the others waiting forever in the next
    collective, and torchrun prints the same message once per process.
    """
    if not info.enabled:
        if error is not None:
            raise error
        return
    import torch.distributed as dist

    messages: list[str | None] = [None] * info.world_size
    dist.all_gather_object(messages, None if error is None else str(error))
    for rank, message in enumerate(messages):
        if message is not None:
            prefix = f"rank {rank}: " if rank else ""
            raise CollectiveUserError(prefix + message)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def unwrap(model: Any) -> Any:
    """The network inside DistributedDataParallel (whose names carry a `module.` prefix)."""
    from torch import nn

    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def cleanup(info: DistInfo) -> None:
    """Leave the process group (torch warns at exit when one is left open)."""
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
