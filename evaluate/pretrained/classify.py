"""Classify image files, as fb.resnet.torch's `pretrained/classify.lua` does: the model with
nn.SoftMax appended, in evaluate mode, top-k probabilities per image, one result per file in
the order given.

Batched through a DataLoader (classify.lua reads one image at a time; the results are the same
within float32 batching noise, see tests/test_pretrained.py). An unreadable file gives a
result with its error instead of stopping the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from converter.errors import UserError
from evaluate.data.datasets import ImageDataset
from evaluate.data.imagelist import ImageList
from evaluate.data.options import default_workers
from evaluate.data.preprocess import ValTransform, model_input
from evaluate.pretrained.model import PretrainedModel
from evaluate.pretrained.presets import Preset
from evaluate.pretrained.softmax import torch7_softmax
from evaluate.validate import indexed_loader


@dataclass(frozen=True)
class Prediction:
    rank: int  # 1 = most probable
    index: int  # 0-based class index (Lua's index - 1)
    wnid: str | None
    name: str
    prob: float  # the float32 probability, widened (as Lua prints it)
    logit: float


@dataclass(frozen=True)
class ImageResult:
    file: str  # as given
    predictions: list[Prediction] = field(default_factory=list)
    error: str | None = None  # why the file could not be classified


def file_list(files: Sequence[str], notes: Sequence[str] = ()) -> ImageList:
    """The files as an ImageList (no labels) for the DataLoader; results keep the names given."""
    paths = [Path(f) for f in files]
    return ImageList(Path("."), paths, [-1] * len(files), None, "files", list(notes))


def loader_workers(requested: int | None, n_images: int, batch_size: int) -> int:
    """DataLoader workers: as requested, else min(8, CPUs); never more than there are batches."""
    workers = default_workers() if requested is None else requested
    return min(workers, math.ceil(n_images / batch_size))


def forward(
    module: torch.nn.Module,
    images: torch.Tensor,
    device: torch.device,
    channels_last: bool = False,
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """A batch as ValTransform ships it (1 or K crops per image) through `module`: N x [K x] D
    float32. A crop size the model cannot take is a UserError, not a traceback."""
    x = model_input(images.to(device, non_blocking=True), channels_last)
    crops = x.shape[1] if x.dim() == 5 else None
    if crops is not None:
        x = x.flatten(0, 1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(device.type, amp_dtype) if amp_dtype is not None else nullcontext()
    try:
        with torch.inference_mode(), autocast:
            out = module(x).float()
    except RuntimeError as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise UserError(
            f"the model cannot run on {x.shape[-1]}x{x.shape[-1]} crops ({first}); "
            "choose the preset it was trained with (--preset)"
        ) from None
    return out if crops is None else out.view(-1, crops, out.shape[-1])


def classify(
    model: PretrainedModel,
    files: Sequence[str],
    preset: Preset,
    *,
    mode: str = "torch7",
    topk: int = 5,
    batch_size: int = 16,
    workers: int | None = None,
    device: torch.device | str = "cpu",
    channels_last: bool = False,
    amp_dtype: torch.dtype | None = None,
) -> Iterator[ImageResult]:
    """One ImageResult per file, in the order given, as the batches finish."""
    device = torch.device(device)
    model.check_preset(preset)
    network = model.network.to(device)
    if channels_last:
        network = network.to(memory_format=torch.channels_last)
    dataset = ImageDataset(
        file_list(files), ValTransform(mode, 1, preset.scale_size, preset.crop_size)
    )
    loader = indexed_loader(
        dataset, range(len(files)), batch_size, loader_workers(workers, len(files), batch_size),
        device,
    )  # fmt: skip
    for indices, images, _, bad in loader:
        results = {index: ImageResult(files[index], error=message) for index, message in bad}
        if images is not None:
            logits = forward(network, images, device, channels_last, amp_dtype)
            for index, predictions in zip(indices, _top(model, logits, topk)):
                results[index] = ImageResult(files[index], predictions)
        yield from (results[i] for i in sorted(results))


def _top(model: PretrainedModel, logits: torch.Tensor, topk: int) -> list[list[Prediction]]:
    """classify.lua's `output:topk(k, true, true)` of the softmax, largest first (ties: the
    lower class index first). A `topk` over the class count is the user's to fix, said on the
    first batch: cutting it silently would pass off fewer classes as all that were asked for."""
    if topk > logits.shape[1]:
        raise UserError(
            f"--topk {topk}: the model has {logits.shape[1]} classes; give --topk "
            f"{logits.shape[1]} or less"
        )
    names = model.class_names(logits.shape[1])
    probs = torch7_softmax(logits)
    order = torch.sort(probs, dim=1, descending=True, stable=True).indices[:, :topk]
    top_probs = probs.gather(1, order).cpu().tolist()
    top_logits = logits.gather(1, order).cpu().tolist()
    return [
        [
            Prediction(rank, index, names.wnids[index], names.names[index], p, z)
            for rank, (index, p, z) in enumerate(zip(row, row_probs, row_logits), start=1)
        ]
        for row, row_probs, row_logits in zip(order.cpu().tolist(), top_probs, top_logits)
    ]
