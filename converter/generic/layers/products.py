"""Products and distances of whole vectors or matrices: nn.MM, nn.Bilinear, nn.Euclidean,
nn.CosineDistance.

Their inputs are tables ({A, B}) except Euclidean's. Layouts are Torch7's: Euclidean's weight is
inSize x outSize (transposed relative to Linear); Bilinear's out x in1 x in2 is F.bilinear's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.layers.arithmetic import put_tensor
from converter.generic.registry import register_translation


def _pair(xs: list[torch.Tensor], what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if len(xs) != 2:
        raise ValueError(f"{what} takes a table of 2 tensors, not {len(xs)}")
    return xs[0], xs[1]


class MM(nn.Module):
    """nn.MM(transA, transB) on {A, B}: 2-D matrices, or 3-D batches of them."""

    def __init__(self, trans_a: bool, trans_b: bool):
        super().__init__()
        self.trans_a, self.trans_b = trans_a, trans_b

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        a, b = _pair(xs, "MM")
        if a.dim() not in (2, 3) or b.dim() != a.dim():
            raise ValueError(f"MM takes two 2D or two 3D tensors, not {a.dim()}D and {b.dim()}D")
        a = a.transpose(-2, -1) if self.trans_a else a
        b = b.transpose(-2, -1) if self.trans_b else b
        return torch.mm(a, b) if a.dim() == 2 else torch.bmm(a, b)

    def extra_repr(self) -> str:
        return f"trans_a={self.trans_a}, trans_b={self.trans_b}"


class Bilinear(nn.Module):
    """nn.Bilinear(in1, in2, out[, bias]): y_k = x1ᵀ W_k x2 + b_k on {x1, x2}, both 2-D."""

    def __init__(self, in1: int, in2: int, out: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out, in1, in2))
        self.bias = nn.Parameter(torch.empty(out)) if bias else None

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        x1, x2 = _pair(xs, "Bilinear")
        if x1.dim() != 2 or x2.dim() != 2:
            raise ValueError("Bilinear's input tensors should be two-dimensional")
        return F.bilinear(x1, x2, self.weight, self.bias)


class Euclidean(nn.Module):
    """nn.Euclidean(in, out): y_j = ||x - W[:, j]||_2, for a 1-D sample or each row of a batch."""

    def __init__(self, in_size: int, out_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_size, out_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (1, 2):
            raise ValueError(f"Euclidean takes a 1D or 2D input, not {x.dim()}D")
        return torch.linalg.vector_norm(x.unsqueeze(-1) - self.weight, 2, dim=-2)


class CosineDistance(nn.Module):
    """nn.CosineDistance on {x1, x2}: per row Σx1x2 / sqrt((Σx1² + 1e-12)(Σx2² + 1e-12)), in nn's
    order of operations; 1-D inputs are one row and give a 1-element output."""

    EPS = 1e-12

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        x1, x2 = _pair(xs, "CosineDistance")
        if x1.dim() == 1:
            x1, x2 = x1.view(1, -1), x2.view(1, -1)
        dot = (x1 * x2).sum(1)
        inv1 = 1 / ((x1 * x1).sum(1) + self.EPS)
        inv2 = 1 / ((x2 * x2).sum(1) + self.EPS)
        return dot * torch.sqrt(inv1 * inv2)


@register_translation("nn.MM")
def _mm(m, ctx):
    return MM(bool(m.get("transA", False)), bool(m.get("transB", False)))


@register_translation("nn.Bilinear")
def _bilinear(m, ctx):
    weight, bias = put_tensor(ctx, "weight"), put_tensor(ctx, "bias", required=False)
    out, in1, in2 = weight.shape
    return Bilinear(in1, in2, out, bias is not None)


@register_translation("nn.Euclidean")
def _euclidean(m, ctx):
    return Euclidean(*put_tensor(ctx, "weight").shape)


@register_translation("nn.CosineDistance")
def _cosine_distance(m, ctx):
    return CosineDistance()
