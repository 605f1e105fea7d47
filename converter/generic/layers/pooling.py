"""Pooling, spatial, volumetric and temporal, with THNN's output-size rule (MANIFEST §4.5), which
is not PyTorch's: ceil mode may add a last window that PyTorch drops, and the correction for it
applies only to padded modules. SpatialLPPooling is the Sequential nn builds it as.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.layers.containers import Chain, lua_indexed
from converter.generic.registry import register_translation


def torch7_pool_size(size: int, k: int, s: int, p: int, ceil_mode: bool, padded: bool) -> int:
    """THNN's pooling output size. Unlike PyTorch, the "last window starts inside the input"
    correction applies only when the module has any padding (`padW || padH`), in both dims."""
    span = size + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if padded and (out - 1) * s >= size + p:
        out -= 1
    return out


class _Pool(nn.Module):
    """Geometry in PyTorch's order ((kH, kW) or (kT, kH, kW)) over the input's last 2 or 3 dims."""

    def __init__(
        self,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        ceil_mode: bool,
    ):
        super().__init__()
        self.kernel, self.stride, self.padding, self.ceil_mode = kernel, stride, padding, ceil_mode

    def torch7_size(self, x: torch.Tensor) -> tuple[int, ...]:
        padded, n = any(self.padding), len(self.kernel)
        return tuple(
            torch7_pool_size(
                x.shape[d - n],
                self.kernel[d],
                self.stride[d],
                self.padding[d],
                self.ceil_mode,
                padded,
            )
            for d in range(n)
        )

    def extra_repr(self) -> str:
        return (
            f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}, "
            f"ceil_mode={self.ceil_mode}"
        )


class MaxPool(_Pool):
    """nn.SpatialMaxPooling / nn.VolumetricMaxPooling. Ceil mode pads explicitly with -inf up to
    the size THNN computes, so its extra last window (which PyTorch would drop) is reproduced too.

    A pool that an nn.SpatialMaxUnpooling is bound to has a `record`, where each forward leaves
    where its maxima came from (flat indices into its input's planes) and that plane size for
    the unpooling to take: a plain dict, no module state, so torch.export sees no mutation.
    """

    record: dict | None = None

    @property
    def keep_indices(self) -> bool:
        return self.record is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(self.kernel)
        pool = F.max_pool2d if n == 2 else F.max_pool3d
        if not self.ceil_mode:
            out = pool(x, self.kernel, self.stride, self.padding, return_indices=self.keep_indices)
        else:
            sizes = self.torch7_size(x)
            extra = [
                max(0, (o - 1) * s + k - (i + 2 * p))
                for o, s, k, i, p in zip(
                    sizes, self.stride, self.kernel, x.shape[-n:], self.padding
                )
            ]
            pads = [
                q for d in reversed(range(n)) for q in (self.padding[d], self.padding[d] + extra[d])
            ]
            padded = F.pad(x, pads, value=-math.inf)
            out = pool(padded, self.kernel, self.stride, return_indices=self.keep_indices)
            if self.keep_indices:  # indices into the padded planes -> into the input's
                out, where = out
                out = (out, _unpad_indices(where, padded.shape[-n:], self.padding, x.shape[-n:]))
        if not self.keep_indices:
            return out
        out, self.record["indices"] = out
        self.record["size"] = tuple(x.shape[-n:])
        return out


def _unpad_indices(flat, padded_size, padding, size):
    coords = []
    for extent in reversed(padded_size):
        coords.append(flat % extent)
        flat = flat // extent
    coords.reverse()
    index = torch.zeros_like(coords[0])
    for c, p, n in zip(coords, padding, size):
        index = index * n + (c - p)
    return index


class AvgPool(_Pool):
    """nn.SpatialAveragePooling / cudnn.SpatialAveragePooling / nn.VolumetricAveragePooling.

    THNN's divisor is PyTorch's: the window clipped to the padded extent (count_include_pad) or to
    the input. Only the output size can differ (ceil mode without padding), and then THNN's extra
    window lies wholly outside the input with a non-positive divisor, so it is refused.
    `divide=False` (2014-era nn) is sum pooling.
    """

    def __init__(self, kernel, stride, padding, ceil_mode, count_include_pad, divide=True):
        super().__init__(kernel, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = None if divide else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = F.avg_pool2d if len(self.kernel) == 2 else F.avg_pool3d
        out = pool(
            x,
            self.kernel,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )
        if self.ceil_mode and tuple(out.shape[-len(self.kernel) :]) != self.torch7_size(x):
            raise ValueError(
                f"Torch7 ceil-mode average pooling of a {tuple(x.shape)} input has a window "
                "outside the input (undefined in THNN: it divides by a non-positive count)"
            )
        return out


MaxPool2d, AvgPool2d = MaxPool, AvgPool  # the names of the 2-D-only versions


def _pool_geometry(m, ctx):
    kw, kh, dw, dh = ctx.ints("kW", "kH", "dW", "dH")
    padding = (int(m.get("padH", 0)), int(m.get("padW", 0)))
    return (kh, kw), (dh, dw), padding, bool(m.get("ceil_mode", False))


@register_translation("nn.SpatialMaxPooling")
def _max_pool(m, ctx):
    return MaxPool(*_pool_geometry(m, ctx))


@register_translation("nn.SpatialAveragePooling")
def _avg_pool(m, ctx):
    # cudnn keeps the choice in `mode` (setCountExcludePad switches it); nn in count_include_pad
    mode = str(m.get("mode", ""))
    include = "EXCLUDE" not in mode and bool(m.get("count_include_pad", True))
    return AvgPool(*_pool_geometry(m, ctx), include, bool(m.get("divide", True)))


def _volumetric_geometry(m, ctx):
    kernel = tuple(int(ctx.field(f"k{a}")) for a in "THW")
    stride = tuple(int(m.get(f"d{a}", kernel[i])) for i, a in enumerate("THW"))
    padding = tuple(int(m.get(f"pad{a}", 0)) for a in "THW")
    return kernel, stride, padding, bool(m.get("ceil_mode", False))


@register_translation("nn.VolumetricMaxPooling")
def _volumetric_max_pool(m, ctx):
    return MaxPool(*_volumetric_geometry(m, ctx))


@register_translation("nn.VolumetricAveragePooling")
def _volumetric_avg_pool(m, ctx):
    # nn 8726825 has neither padding nor ceil mode here (divisor kT·kW·kH); later fields if present
    include = bool(m.get("count_include_pad", True))
    return AvgPool(*_volumetric_geometry(m, ctx), include)


class TemporalMaxPooling(nn.Module):
    """nn.TemporalMaxPooling(kW, dW): max over windows of the time dim of (batch x) time x
    features, floor((T - kW)/dW) + 1 of them."""

    def __init__(self, kw: int, dw: int):
        super().__init__()
        self.kw, self.dw = kw, dw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 3):
            raise ValueError(f"Torch7 TemporalMaxPooling takes a 2D or 3D input, not {x.dim()}D")
        return F.max_pool1d(x.transpose(-1, -2), self.kw, self.dw).transpose(-1, -2)

    def extra_repr(self) -> str:
        return f"kW={self.kw}, dW={self.dw}"


@register_translation("nn.TemporalMaxPooling")
def _temporal_max_pool(m, ctx):
    kw = int(ctx.field("kW"))
    return TemporalMaxPooling(kw, int(m.get("dW", kw)))


@register_translation("nn.SpatialLPPooling")
def _lp_pooling(m, ctx):
    # a Sequential subclass: Square or Power(p), SpatialAveragePooling (SpatialSubSampling with
    # weights 1/(kW·kH) in 2012 files), Sqrt or Power(1/p); only its parameter methods differ
    return Chain(OrderedDict(lua_indexed(ctx.children())))
