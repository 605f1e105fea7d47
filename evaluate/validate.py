"""The evaluation loop: a model over a validation set -> every image's top-5, reduced to rank 0.

`evaluate_model` is what `irv2-eval` runs and what the trainer calls for per-epoch validation.
It keeps per-image results (dataset index, label, top-5 classes and scores), not running means,
so metrics are exact, a torchrun run can be merged by index into exactly the single-process
result, and the predictions can be written out for later analysis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from converter.errors import UserError
from evaluate import metrics
from evaluate.data.datasets import unreadable
from evaluate.data.preprocess import model_input
from evaluate.pretrained.softmax import torch7_softmax
from evaluate.runtime import distributed
from evaluate.runtime.distributed import DistInfo

TOP_K = 5


@dataclass
class EvalResult:
    """Per-image results in dataset order, plus the images that could not be read.

    `top5_scores` are the model's outputs (logits), summed over crops as fb.resnet.torch does;
    `top5_probs` the softmax probabilities of the same classes: nn.SoftMax's (classify.lua's) of
    the logits, of the crops' mean logits for several crops.
    """

    indices: np.ndarray  # int64 (N,): dataset index of each evaluated image, ascending
    labels: np.ndarray  # int64 (N,)
    top5_classes: np.ndarray  # int64 (N, k), best first; k = min(5, classes)
    top5_scores: np.ndarray  # float32 (N, k)
    top5_probs: np.ndarray  # float32 (N, k)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (index, message)
    seconds: float = 0.0  # wall time of the slowest rank's loop

    @property
    def n_images(self) -> int:
        return len(self.indices)

    def counts(self) -> metrics.TopK:
        return metrics.count(self.top5_classes, self.labels)

    def summary(self, lua_batch_size: int | None = None) -> dict[str, Any]:
        """Exact percentages and counts; with `lua_batch_size`, the fork's per-batch mean too."""
        topk = self.counts()
        out: dict[str, Any] = {
            **topk.percent(),
            "n_images": topk.n,
            "n_top1_correct": topk.top1_correct,
            "n_top5_correct": topk.top5_correct,
            "n_skipped": len(self.skipped),
        }
        if lua_batch_size is not None:
            out["lua_batch_mean"] = {
                **metrics.lua_batch_mean(self.top5_classes, self.labels, lua_batch_size),
                "batch_size": lua_batch_size,
            }
        return out


def prepare_model(
    model: nn.Module, device: torch.device, channels_last: bool = False, compile: bool = False
) -> nn.Module:
    """The model on `device` in eval mode, optionally channels-last and torch.compile'd."""
    model = model.to(device).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile:
        model = torch.compile(model)
    return model


def evaluate_model(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 32,
    workers: int = 0,
    device: torch.device | str = "cpu",
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    skip_bad: bool = False,
    dist: DistInfo | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult | None:
    """Evaluate `model` on `data`; the merged result on rank 0, None on the other ranks.

    `data` is a map-style dataset whose items are `(image, label)` or, like
    `datasets.ImageDataset`, `(image | None, label, error | None)`; images are 3xHxW, or KxCxHxW
    for K crops whose scores are summed, or such crops as uint8 bytes as `ValTransform("fast")`
    ships them (HxWx3, KxHxWx3), normalised on the device by `transforms.model_input`. Under
    torchrun each rank takes a contiguous shard of whole batches (no padding duplicates; the
    batches of a single process) and rank 0 merges by dataset index. `data` may instead be a ready
    DataLoader of `(images, labels)` batches: it is evaluated as given (its sampler decides the
    sharding) and images are numbered in rank order.

    A bad image (an item with an error) stops the run with its message on every rank, or with
    `skip_bad` is left out and listed in `EvalResult.skipped`. `progress(done, total)` is called
    after each batch with this rank's image counts.
    """
    dist = dist or DistInfo()
    device = torch.device(device)
    from_loader = isinstance(data, torch.utils.data.DataLoader)
    if from_loader:
        loader, total = data, _loader_size(data)
    else:
        shard = distributed.shard(len(data), dist, batch_size)
        total = len(shard)
        loader = indexed_loader(data, shard, batch_size, workers, device)
    part, error = _run(model, loader, device, amp_dtype, channels_last, skip_bad, total, progress)
    distributed.raise_together(error, dist)
    parts = distributed.gather_to_main(part, dist)
    if parts is None:
        return None
    return _merge(parts, renumber=from_loader)


def indexed_loader(
    data: Any, indices: Sequence[int], batch_size: int, workers: int, device: torch.device
) -> torch.utils.data.DataLoader:
    """Batches `(indices, images, labels, bad)` of the dataset items `indices`, in that order:
    the readable images stacked, and `(index, message)` for each unreadable one."""
    return torch.utils.data.DataLoader(
        _Indexed(data, indices),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
    )


class _Indexed:
    """This rank's shard of a dataset, each item tagged with its global index."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[int, Any, int, str | None]:
        index = self.indices[k]
        item = self.dataset[index]
        image, label, error = item if len(item) == 3 else (*item, None)
        return index, image, int(label), error


def _collate(items: list[tuple[int, Any, int, str | None]]) -> tuple:
    """A batch of the readable items, and (index, message) for the unreadable ones."""
    good = [it for it in items if it[3] is None]
    bad = [(it[0], it[3]) for it in items if it[3] is not None]
    images = torch.stack([it[1] for it in good]) if good else None
    return [it[0] for it in good], images, [it[2] for it in good], bad


def _loader_size(loader: torch.utils.data.DataLoader) -> int:
    try:
        return len(loader.sampler)  # type: ignore[arg-type]
    except TypeError:
        return 0  # an iterable dataset: progress shows counts without a total


def _batches(loader: Any, from_collate: bool) -> Any:
    """(indices, images, labels, bad) for our own collate; numbered on the fly for a loader."""
    if from_collate:
        yield from loader
        return
    seen = 0
    for images, labels in loader:
        n = len(labels)
        yield list(range(seen, seen + n)), images, labels, []
        seen += n


def _run(
    model: nn.Module,
    loader: Any,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    channels_last: bool,
    skip_bad: bool,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[dict[str, Any], UserError | None]:
    """This rank's loop; a bad image ends it early (unless skipped) and comes back as the error."""
    was_training = model.training
    model.eval()
    indices: list[int] = []
    labels: list[int] = []
    classes: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    skipped: list[tuple[int, str]] = []
    error: UserError | None = None
    autocast = (
        torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    )
    start = time.perf_counter()
    done = 0
    from_collate = getattr(loader, "collate_fn", None) is _collate
    try:
        with autocast:  # data loading stays outside inference mode; only the model is in it
            for batch_indices, images, batch_labels, bad in _batches(loader, from_collate):
                if bad and not skip_bad:
                    error = unreadable(bad[0][1])
                    break
                skipped += bad
                done += len(batch_indices) + len(bad)
                if images is not None:
                    top_scores, top_probs, top_classes = _top5(model, images, device, channels_last)
                    indices += list(batch_indices)
                    labels += [int(x) for x in batch_labels]
                    classes.append(top_classes)
                    scores.append(top_scores)
                    probs.append(top_probs)
                if progress is not None:
                    progress(done, total)
    finally:
        model.train(was_training)
    part = {
        "indices": indices,
        "labels": labels,
        "classes": classes,
        "scores": scores,
        "probs": probs,
        "skipped": skipped,
        "seconds": time.perf_counter() - start,
    }
    return part, error


def _top5(
    model: nn.Module, images: torch.Tensor, device: torch.device, channels_last: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k scores, probabilities and classes of a batch; K crops (a 5-D batch) have their
    scores summed."""
    with torch.inference_mode():
        return _top5_scores(model, images, device, channels_last)


def _top5_scores(
    model: nn.Module, images: torch.Tensor, device: torch.device, channels_last: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images = model_input(images.to(device, non_blocking=True), channels_last)
    crops = images.shape[1] if images.dim() == 5 else 1
    if images.dim() == 5:
        images = images.flatten(0, 1)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    out = model(images).float()
    out = out.view(-1, crops, out.shape[-1]).sum(dim=1)
    top_scores, top_classes = out.topk(min(TOP_K, out.shape[-1]), dim=1)
    top_probs = torch7_softmax(out / crops).gather(1, top_classes)
    return (
        top_scores.cpu().numpy(),
        top_probs.cpu().numpy(),
        top_classes.cpu().numpy().astype(np.int64),
    )


def _merge(parts: list[dict[str, Any]], renumber: bool) -> EvalResult:
    """Rank parts -> one result sorted by dataset index (rank order when `renumber`)."""
    classes = [c for p in parts for c in p["classes"]]
    scores = [s for p in parts for s in p["scores"]]
    probs = [s for p in parts for s in p["probs"]]
    width = classes[0].shape[1] if classes else TOP_K
    indices = np.array([i for p in parts for i in p["indices"]], dtype=np.int64)
    if renumber:
        indices = np.arange(len(indices), dtype=np.int64)
    order = np.argsort(indices, kind="stable")
    return EvalResult(
        indices=indices[order],
        labels=np.array([y for p in parts for y in p["labels"]], dtype=np.int64)[order],
        top5_classes=(np.concatenate(classes) if classes else np.zeros((0, width), np.int64))[
            order
        ],
        top5_scores=(np.concatenate(scores) if scores else np.zeros((0, width), np.float32))[order],
        top5_probs=(np.concatenate(probs) if probs else np.zeros((0, width), np.float32))[order],
        skipped=sorted(s for p in parts for s in p["skipped"]),
        seconds=max(p["seconds"] for p in parts),
    )
