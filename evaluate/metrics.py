"""Top-k counting: exact per-image error, and the per-batch mean the Lua fork reported.

The Lua world speaks in error percentages, the PyTorch world in accuracy; both come from the
same counts here. Inputs are numpy arrays of each image's top-5 classes (best first) and label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TopK:
    """Counts over n images and the percentages they imply."""

    n: int
    top1_correct: int
    top5_correct: int

    def percent(self) -> dict[str, float]:
        """top1/top5 error and accuracy in percent (NaN for zero images: no number to report)."""
        if self.n == 0:
            nan = float("nan")
            return {"top1_err": nan, "top5_err": nan, "top1_acc": nan, "top5_acc": nan}
        acc1 = 100.0 * self.top1_correct / self.n
        acc5 = 100.0 * self.top5_correct / self.n
        return {
            "top1_err": 100.0 - acc1,
            "top5_err": 100.0 - acc5,
            "top1_acc": acc1,
            "top5_acc": acc5,
        }


def hits(top5_classes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image: is the label the best class (top-1), is it among the best five (top-5)?

    With fewer than five classes the rows are shorter, and top-5 means "any of them".
    """
    match = top5_classes == labels[:, None]
    return match[:, :1].any(axis=1), match[:, :5].any(axis=1)


def count(top5_classes: np.ndarray, labels: np.ndarray) -> TopK:
    """Exact counts: every image weighs the same."""
    top1, top5 = hits(top5_classes, labels)
    return TopK(n=len(labels), top1_correct=int(top1.sum()), top5_correct=int(top5.sum()))


def lua_batch_mean(
    top5_classes: np.ndarray, labels: np.ndarray, batch_size: int
) -> dict[str, float]:
    """The fork's figure: the mean over batches of each batch's error percentage.

    lim0606's test loop averaged per-BATCH percentages, so the last, smaller batch weighs as much
    as a full one. Batches here are consecutive runs of `batch_size` images in dataset order; the
    Lua loader also shuffled the validation set (fb.resnet.torch `DataLoader:run` draws a
    `torch.randperm` for every split, and a ten-crop batch held floor(batchSize / 10) images), so
    this reproduces the statistic, not its exact value for a given run.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    top1, top5 = hits(top5_classes, labels)
    starts = range(0, len(labels), batch_size)
    if not starts:
        nan = float("nan")
        return {"top1_err": nan, "top5_err": nan}
    err1 = [100.0 * (1.0 - top1[s : s + batch_size].mean()) for s in starts]
    err5 = [100.0 * (1.0 - top5[s : s + batch_size].mean()) for s in starts]
    return {"top1_err": float(np.mean(err1)), "top5_err": float(np.mean(err5))}
