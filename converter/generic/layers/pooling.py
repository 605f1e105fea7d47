"""Pooling with THNN's output-size rule (MANIFEST §4.5), which is not PyTorch's: ceil mode may add
a last window that PyTorch drops, and the correction for it applies only to padded modules.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.registry import register_translation


def torch7_pool_size(size: int, k: int, s: int, p: int, ceil_mode: bool, padded: bool) -> int:
    """THNN's pooling output size. Unlike PyTorch, the "last window starts inside the input"
    correction applies only when the module has any padding (`padW || padH`), in both dims."""
    span = size + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if padded and (out - 1) * s >= size + p:
        out -= 1
    return out


class _Pool2d(nn.Module):
    def __init__(
        self,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: tuple[int, int],
        ceil_mode: bool,
    ):
        super().__init__()
        self.kernel, self.stride, self.padding, self.ceil_mode = kernel, stride, padding, ceil_mode

    def torch7_size(self, x: torch.Tensor) -> tuple[int, int]:
        padded = any(self.padding)
        return tuple(  # type: ignore[return-value]
            torch7_pool_size(
                x.shape[-2 + d],
                self.kernel[d],
                self.stride[d],
                self.padding[d],
                self.ceil_mode,
                padded,
            )
            for d in range(2)
        )

    def extra_repr(self) -> str:
        return (
            f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}, "
            f"ceil_mode={self.ceil_mode}"
        )


class MaxPool2d(_Pool2d):
    """nn.SpatialMaxPooling (kH,kW order here). Ceil mode pads explicitly with -inf up to the size
    THNN computes, so its extra last window (which PyTorch would drop) is reproduced too."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.ceil_mode:
            return F.max_pool2d(x, self.kernel, self.stride, self.padding)
        (oh, ow), (ph, pw) = self.torch7_size(x), self.padding
        extra = [
            max(0, (o - 1) * s + k - (n + 2 * p))
            for o, s, k, n, p in zip((oh, ow), self.stride, self.kernel, x.shape[-2:], (ph, pw))
        ]
        x = F.pad(x, (pw, pw + extra[1], ph, ph + extra[0]), value=-math.inf)
        return F.max_pool2d(x, self.kernel, self.stride)


class AvgPool2d(_Pool2d):
    """nn.SpatialAveragePooling / cudnn.SpatialAveragePooling.

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
        out = F.avg_pool2d(
            x,
            self.kernel,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )
        if self.ceil_mode and tuple(out.shape[-2:]) != self.torch7_size(x):
            raise ValueError(
                f"Torch7 ceil-mode average pooling of a {tuple(x.shape)} input has a window "
                "outside the input (undefined in THNN: it divides by a non-positive count)"
            )
        return out


def _pool_geometry(m, ctx):
    kw, kh, dw, dh = ctx.ints("kW", "kH", "dW", "dH")
    padding = (int(m.get("padH", 0)), int(m.get("padW", 0)))
    return (kh, kw), (dh, dw), padding, bool(m.get("ceil_mode", False))


@register_translation("nn.SpatialMaxPooling")
def _max_pool(m, ctx):
    return MaxPool2d(*_pool_geometry(m, ctx))


@register_translation("nn.SpatialAveragePooling")
def _avg_pool(m, ctx):
    # cudnn keeps the choice in `mode` (setCountExcludePad switches it); nn in count_include_pad
    mode = str(m.get("mode", ""))
    include = "EXCLUDE" not in mode and bool(m.get("count_include_pad", True))
    return AvgPool2d(*_pool_geometry(m, ctx), include, bool(m.get("divide", True)))
