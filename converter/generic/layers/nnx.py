"""nnx's layers (clementfarabet/lua---nnx) other than its resamplers (nnx_sampling.py):
SpatialPadding, SpatialClassifier and SpatialNormalization, as found in published 2012 models
(torch/demos' face detector; the semantics of 301a2c3, 2012-06-04, which nnx HEAD 1c28e23 keeps),
and SpatialLinear, MultiSoftMax, SaturatedLU, Minus, PixelSort (MANIFEST-zoo3 §5.10).

Most predate nn's batch conventions: they take one K x H x W sample, as Torch7 ran them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation


class SpatialPadding(nn.Module):
    """nnx SpatialPadding(l, r, t, b, y_dim=2, x_dim=3): zeros added (negative: cropped) along
    the 1-based dims y_dim (top/bottom) and x_dim (left/right), whatever the input's rank."""

    def __init__(self, pads: tuple[int, int, int, int], y_dim: int = 2, x_dim: int = 3):
        super().__init__()
        self.pads, self.y_dim, self.x_dim = pads, y_dim - 1, x_dim - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        moved = x.movedim((self.y_dim, self.x_dim), (-2, -1))
        return F.pad(moved, self.pads).movedim((-2, -1), (self.y_dim, self.x_dim))

    def extra_repr(self) -> str:
        return f"pads(l,r,t,b)={self.pads}, y_dim={self.y_dim + 1}, x_dim={self.x_dim + 1}"


class SpatialClassifier(nn.Module):
    """nnx SpatialClassifier(classifier): the classifier on every pixel of a K x H x W input
    (as an HW x K batch); the outputs back as N x H x W, or HW x N without spatialOutput."""

    def __init__(self, classifier: nn.Module, spatial_output: bool = True):
        super().__init__()
        self.add_module("1", classifier)  # Torch7's path: modules = {classifier}
        self.spatial_output = spatial_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"nnx SpatialClassifier takes a 3-D K x H x W input, not {x.dim()}-D")
        k, h, w = x.shape
        out = getattr(self, "1")(x.reshape(k, h * w).t())
        return out.t().reshape(-1, h, w) if self.spatial_output else out


class SpatialNormalization(nn.Module):
    """nnx SpatialNormalization: local mean removed, then division by the local std, both
    estimated with the stored kernel convolutions (`convo`, `convostd`) and corrected at the
    borders by the same convolution of an all-ones input (`coef`, recomputed per size as
    nnx does). The std is thresholded at `fixedThres`, or at max(mean std, 1e-3)."""

    def __init__(self, convo: nn.Module, convostd: nn.Module, n_features: int, thres=None):  # noqa: ANN001
        super().__init__()
        self.convo, self.convostd = convo, convostd
        self.n_features, self.fixed_threshold = n_features, thres

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[None] if x.dim() == 2 else x
        ones = torch.ones(self.n_features, *x.shape[-2:], dtype=x.dtype, device=x.device)
        coef = self.convo(ones)
        zero_mean = x - self.convo(x) / coef
        std = torch.sqrt(self.convostd(zero_mean * zero_mean)) / coef
        if self.fixed_threshold is None:
            threshold = torch.clamp(std.mean(), min=1e-3)
        else:
            threshold = torch.tensor(self.fixed_threshold, dtype=x.dtype, device=x.device)
        return zero_mean / torch.where(std > threshold, std, threshold)


class SpatialLinear(nn.Module):
    """nnx SpatialLinear(fanin, fanout): nn.Linear at every pixel of a fanin x H x W input
    (weight fanout x fanin)."""

    def __init__(self, fanin: int, fanout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fanout, fanin))
        self.bias = nn.Parameter(torch.empty(fanout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("oi,...ihw->...ohw", self.weight, x)
        return out + self.bias[:, None, None]


class SaturatedLU(nn.Module):
    """nnx SaturatedLU(threshold, val, threshold2, val2): x < threshold -> val, x > threshold2
    -> val2, x otherwise."""

    def __init__(self, low: float, low_value: float, high: float, high_value: float):
        super().__init__()
        self.low, self.low_value, self.high, self.high_value = low, low_value, high, high_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.where(x > self.high, torch.full_like(x, self.high_value), x)
        return torch.where(x < self.low, torch.full_like(x, self.low_value), out)

    def extra_repr(self) -> str:
        return f"low={self.low}->{self.low_value}, high={self.high}->{self.high_value}"


class Minus(nn.Module):
    """nnx Minus: -x."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -x


class MultiSoftMax(nn.Module):
    """nnx MultiSoftMax: a softmax over the last dim of a K x V or N x K x V input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, -1)


class PixelSort(nn.Module):
    """nnx PixelSort(f): space to depth, output channel c·f² + dy·f + dx (pixel_unshuffle)."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(x, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


@register_translation("nn.SpatialLinear")
def _spatial_linear(m, ctx):
    ctx.put("weight", ctx.tensor("weight"))
    ctx.put("bias", ctx.tensor("bias"))
    return SpatialLinear(*ctx.ints("fanin", "fanout"))


@register_translation("nn.SaturatedLU")
def _saturated_lu(m, ctx):
    return SaturatedLU(*(float(ctx.field(n)) for n in ("threshold", "val", "threshold2", "val2")))


@register_translation("nn.Minus")
def _minus(m, ctx):
    return Minus()


@register_translation("nn.MultiSoftMax")
def _multi_softmax(m, ctx):
    return MultiSoftMax()


@register_translation("nn.PixelSort")
def _pixel_sort(m, ctx):
    return PixelSort(*ctx.ints("downscaleFactor"))


@register_translation("nn.SpatialPadding")
def _spatial_padding(m, ctx):
    pads = ctx.ints("pad_l", "pad_r", "pad_t", "pad_b")
    return SpatialPadding(pads, int(m.get("y_dim", 2)), int(m.get("x_dim", 3)))


@register_translation("nn.SpatialClassifier")
def _spatial_classifier(m, ctx):
    modules = ctx.children()
    if len(modules) != 1:
        raise T7FormatError(f"{ctx.where} holds {len(modules)} classifiers, not one")
    return SpatialClassifier(modules[0], bool(m.get("spatialOutput", True)))


@register_translation("nn.SpatialNormalization", inner=("convo", "convostd"))
def _spatial_normalization(m, ctx):
    thres = m.get("fixedThres")
    return SpatialNormalization(
        ctx.submodule("convo"),
        ctx.submodule("convostd"),
        int(ctx.field("nfeatures")),
        None if not thres else float(thres),
    )
