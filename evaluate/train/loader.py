"""The training batches: each the same tensor whoever loads it and when, so that a resumed run
sees exactly the batches an uninterrupted one would (see loop.py for the whole argument).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from converter.errors import UserError
from evaluate.runtime.distributed import DistInfo


class BatchSettings(Protocol):
    """What the loader reads from a run's settings (loop.LoopConfig has them), named here so
    that the loader does not import the loop that imports it."""

    seed: int
    batch_size: int
    workers: int


class SeededSamples(Dataset):
    """Item (epoch, index) -> (augmented image, label, error): augmentation seeded per sample."""

    def __init__(self, paths: list[Path], labels: list[int], transform: Callable, seed: int):
        self.paths, self.labels = paths, labels
        self.transform = transform
        self.seed = seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor | None, int, str | None]:
        epoch, index = key
        words = np.random.SeedSequence([self.seed, epoch, index]).generate_state(2)
        generator = torch.Generator().manual_seed(int(words[0]) << 31 ^ int(words[1]))
        path = self.paths[index]
        try:
            return self.transform(path, generator), self.labels[index], None
        except UserError as e:  # a worker would bury an exception in a traceback: pass it on
            message = str(e) if str(path) in str(e) else f"{path}: {e}"
            return None, self.labels[index], message


class ResumableSampler(DistributedSampler):
    """DistributedSampler (seed+epoch shuffling, rank shards) that yields (epoch, index) and can
    start an epoch after the samples it already delivered."""

    def __init__(self, dataset: Dataset, info: DistInfo, seed: int):
        super().__init__(
            dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed
        )
        self.start = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = list(super().__iter__())[self.start :]
        return iter([(self.epoch, i) for i in indices])

    def __len__(self) -> int:
        return super().__len__() - self.start


def collate(items: list) -> tuple[torch.Tensor | None, torch.Tensor, list[str]]:
    """Stack a batch's readable images (None when there are none) and their labels; unreadable
    images come back as messages, for the main process to raise or, with --skip-bad, report."""
    good = [(img, label) for img, label, e in items if e is None]
    errors = [e for _, _, e in items if e is not None]
    labels = torch.tensor([label for _, label in good], dtype=torch.long)
    images = torch.stack([img for img, _ in good]) if good else None
    return images, labels, errors


def per_process_batch(batch_size: int, info: DistInfo) -> int:
    if batch_size % info.world_size:
        raise UserError(
            f"--batch-size {batch_size} is the global batch and must divide evenly over "
            f"{info.world_size} processes"
        )
    return batch_size // info.world_size


def make_loader(
    samples: SeededSamples, cfg: BatchSettings, info: DistInfo, pin: bool
) -> DataLoader:
    sampler = ResumableSampler(samples, info, cfg.seed)
    return DataLoader(
        samples,
        batch_size=per_process_batch(cfg.batch_size, info),
        sampler=sampler,
        num_workers=cfg.workers,
        collate_fn=collate,
        pin_memory=pin,
        persistent_workers=False,
        generator=torch.Generator().manual_seed(cfg.seed),  # never the global RNG
    )


def iters_per_epoch(n_samples: int, batch_size: int, info: DistInfo) -> int:
    """Batches per epoch on every rank: ceil(N / batch) in one process, like the Lua loader."""
    per_rank = math.ceil(n_samples / info.world_size)
    return math.ceil(per_rank / per_process_batch(batch_size, info))
