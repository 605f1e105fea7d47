"""Extract a model's penultimate features for a set of images into one HDF5 file, as
fb.resnet.torch's pretrained/extract-features.lua does into features.t7, at scale.

Images go through DataLoader workers in batches. Under torchrun each rank takes a contiguous
shard (distributed.shard) and the ranks move in lockstep, one batch each per step: rank 0
gathers the step's blocks and writes them at their rows, so the file is in the original order,
and nothing grows with the number of images but the list of paths. A bad image stops every
rank at the same step, naming the file, and no file is left behind; with `skip_bad` its row
is left NaN, the file lists it in `skipped_paths` and the run names it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from converter.errors import UserError
from evaluate.data.datasets import ImageDataset, unreadable
from evaluate.data.imagelist import ImageList
from evaluate.data.preprocess import ValTransform
from evaluate.pretrained.classify import forward
from evaluate.pretrained.features_file import feature_file
from evaluate.pretrained.presets import Preset
from evaluate.runtime import distributed
from evaluate.runtime.distributed import DistInfo
from evaluate.validate import indexed_loader, prepare_model


@dataclass(frozen=True)
class FeatureSettings:
    """How the images become features; every field is recorded in the file."""

    preset: Preset
    mode: str = "torch7"
    crops: int = 1
    batch_size: int = 32
    workers: int = 0
    device: torch.device = torch.device("cpu")
    channels_last: bool = False
    amp_dtype: torch.dtype | None = None
    skip_bad: bool = False


@dataclass(frozen=True)
class FeatureRun:
    n_images: int
    dim: int
    seconds: float
    skipped: list[str]  # the unreadable images' messages (--skip-bad), in file order


def crop_mean(features: torch.Tensor) -> torch.Tensor:
    """N x D as it is; N x K x D (K crops) averaged over the crops."""
    return features.mean(dim=1) if features.dim() == 3 else features


def extract_features(
    module: torch.nn.Module,
    layer: str,
    images: ImageList,
    names: Sequence[str],
    output: Path,
    settings: FeatureSettings,
    *,
    force: bool = False,
    record: dict[str, Any] | None = None,
    dist: DistInfo | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureRun | None:
    """Write `module`'s features of `images` (row i named `names[i]`) to `output`; the run's
    size and time on rank 0, None on the other ranks. `record` adds settings to the file."""
    dist = dist or DistInfo()
    s = settings
    dataset = ImageDataset(
        images, ValTransform(s.mode, s.crops, s.preset.scale_size, s.preset.crop_size)
    )
    shard = distributed.shard(len(images), dist)
    steps = max(
        math.ceil(len(distributed.shard(len(images), DistInfo(r, dist.world_size))) / s.batch_size)
        for r in range(dist.world_size)
    )
    batches = iter(indexed_loader(dataset, shard, s.batch_size, s.workers, s.device))
    module = prepare_model(module, s.device, channels_last=s.channels_last)
    attrs = {
        **(record or {}),
        **s.preset.record(s.mode, s.crops),
        "crop_reduction": "mean" if s.crops > 1 else None,
        "layer": layer,
        "n_images": len(images),
        "batch_size": s.batch_size,
        "world_size": dist.world_size,
        "device": str(s.device),
        "amp": str(s.amp_dtype).replace("torch.", "") if s.amp_dtype else None,
        "channels_last": s.channels_last,
        "skip_bad": s.skip_bad,
    }
    start = time.perf_counter()
    done = 0
    if not dist.is_main:
        for _ in range(steps):
            _step(module, batches, s, dist, None)
        return None
    labels = None if images.classes is None else images.labels
    with feature_file(output, force, names, labels, images.classes, attrs) as writer:
        for _ in range(steps):
            done += _step(module, batches, s, dist, writer)
            if progress is not None:
                progress(done, len(shard))
        dim = 0 if writer.dataset is None else int(writer.dataset.shape[1])
    skipped = [message for _, message in sorted(writer.skipped)]
    return FeatureRun(len(images), dim, time.perf_counter() - start, skipped)


def _step(
    module: torch.nn.Module, batches: Any, s: FeatureSettings, dist: DistInfo, writer: Any
) -> int:
    """One batch on every rank: computed here, gathered and written by rank 0 (`writer`).
    Returns how many of this rank's images it took."""
    batch = next(batches, None)
    block, error, taken = None, None, 0
    if batch is not None:
        indices, images, _, bad = batch
        taken = len(indices) + len(bad)
        if bad and not s.skip_bad:
            error = unreadable(bad[0][1])
        else:
            try:
                rows = None
                if images is not None:
                    out = forward(module, images, s.device, s.channels_last, s.amp_dtype)
                    rows = crop_mean(out).cpu().numpy()
                block = (list(indices), rows, bad)
            except UserError as e:  # every rank must hear of it, or the others wait forever
                error = e
    distributed.raise_together(error, dist)
    parts = distributed.gather_to_main(block, dist)
    for part in parts or []:
        if part is not None:
            indices, rows, bad = part
            if rows is not None:
                writer.write_rows(indices, np.ascontiguousarray(rows, dtype=np.float32))
            writer.skip(bad)
    return taken
