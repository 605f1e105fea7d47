"""nnx's resamplers (clementfarabet/lua---nnx 1c28e23, C code in generic/*.c): SpatialReSampling,
SpatialReSamplingEx ('simple', 'average', 'bilinear'), SpatialDownSampling, SpatialUpSampling,
SpatialMaxSampling (MANIFEST-zoo3 §5.10, 35-38).

Their ratios are float32 products truncated to indices, as the C code computes them, so the
output sizes and the rows each output reads are those of Torch7 and not of PyTorch's
interpolate/adaptive pooling (which round differently). They work on two dims (yDim, xDim,
1-based; the dims before yDim are folded into one batch dim, those after xDim into another).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from converter.generic.registry import register_translation


def on_planes(x: torch.Tensor, y_dim: int, x_dim: int, fn) -> torch.Tensor:  # noqa: ANN001
    """`fn` (N x H x W -> N x H' x W') on the planes of dims y_dim, x_dim (0-based, adjacent),
    the dims around them folded into N and unfolded again."""
    lead, trail = x.shape[:y_dim], x.shape[x_dim + 1 :]
    h, w = x.shape[y_dim], x.shape[x_dim]
    k1, k2 = math.prod(lead), math.prod(trail)
    planes = x.reshape(k1, h, w, k2).permute(0, 3, 1, 2).reshape(k1 * k2, h, w)
    out = fn(planes)
    oh, ow = out.shape[-2:]
    out = out.reshape(k1, k2, oh, ow).permute(0, 2, 3, 1)
    return out.reshape(*lead, oh, ow, *trail)


def float32_ratio(a: int, b: int) -> torch.Tensor:
    """a / b in float32, as nnx's C code computes its ratios (a CPU scalar tensor)."""
    return torch.tensor(a, dtype=torch.float32) / torch.tensor(b, dtype=torch.float32)


def float32_positions(n_out: int, ratio: torch.Tensor) -> torch.Tensor:
    """i * ratio for i < n_out, the product in float32 (CPU)."""
    return torch.arange(n_out, dtype=torch.float32) * ratio


def bilinear(planes: torch.Tensor, oh: int, ow: int) -> torch.Tensor:
    """Corner-aligned bilinear resampling with float32 ratios (i - 1)/(o - 1), the +1 neighbour
    clamped to the last row/column (SpatialReSampling.c)."""

    def axis(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = float32_positions(n_out, float32_ratio(n_in - 1, max(n_out - 1, 1)))
        low = pos.floor()
        high = (low + 1).clamp(max=n_in - 1)
        return low.long(), high.long(), pos - low

    y0, y1, wy = (t.to(planes.device) for t in axis(planes.shape[-2], oh))
    x0, x1, wx = (t.to(planes.device) for t in axis(planes.shape[-1], ow))
    wy, wx = wy.to(planes.dtype)[:, None], wx.to(planes.dtype)[None, :]
    top, bottom = planes[:, y0], planes[:, y1]
    return (
        (1 - wy) * (1 - wx) * top[:, :, x0]
        + (1 - wy) * wx * top[:, :, x1]
        + wy * (1 - wx) * bottom[:, :, x0]
        + wy * wx * bottom[:, :, x1]
    )


def nearest(planes: torch.Tensor, oh: int, ow: int) -> torch.Tensor:
    """'simple': up by d = ceil(o/i) (out[y] = in[y // d]), down by d = i // o
    (out[y] = in[y·d])."""
    rows = [_simple_index(planes.shape[-2], oh), _simple_index(planes.shape[-1], ow)]
    rows = [r.to(planes.device) for r in rows]
    return planes[:, rows[0]][:, :, rows[1]]


def _simple_index(n_in: int, n_out: int) -> torch.Tensor:
    if n_out > n_in:
        return torch.arange(n_out) // math.ceil(n_out / n_in)
    return torch.arange(n_out) * (n_in // n_out)


def block_mean(planes: torch.Tensor, dh: int, dw: int) -> torch.Tensor:
    """Means of the non-overlapping dh x dw blocks (the rest dropped): the sum times the float
    reciprocal of dh·dw, as SpatialDownSampling.c and SpatialReSamplingEx.c compute it."""
    n, h, w = planes.shape
    oh, ow = h // dh, w // dw
    blocks = planes[:, : oh * dh, : ow * dw].reshape(n, oh, dh, ow, dw)
    return blocks.sum((2, 4)) * float(float32_ratio(1, dh * dw))


class ReSampling(nn.Module):
    """nn.SpatialReSampling / SpatialReSamplingEx: the planes of dims y_dim, x_dim (0-based; a
    negative one counts from the end) resampled to oheight x owidth, or by the ratios
    rheight/rwidth of the input size (floor(size · ratio))."""

    def __init__(self, mode: str, size: tuple, ratio: tuple, y_dim: int, x_dim: int):
        super().__init__()
        self.mode, self.size, self.ratio = mode, size, ratio
        self.y_dim, self.x_dim = y_dim, x_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y_dim, x_dim = self.y_dim % x.dim(), self.x_dim % x.dim()
        h, w = x.shape[y_dim], x.shape[x_dim]
        oh, ow = self.size if self.size[0] else (int(h * self.ratio[0]), int(w * self.ratio[1]))
        if self.mode == "bilinear":
            return on_planes(x, y_dim, x_dim, lambda p: bilinear(p, oh, ow))
        if (oh > h) != (ow > w) and oh != h and ow != w:
            raise ValueError(f"SpatialReSamplingEx: {h}x{w} -> {oh}x{ow} is up in one dim only")
        if self.mode == "average" and oh <= h and ow <= w:
            return on_planes(x, y_dim, x_dim, lambda p: block_mean(p, h // oh, w // ow))
        return on_planes(x, y_dim, x_dim, lambda p: nearest(p, oh, ow))

    def extra_repr(self) -> str:
        return f"mode={self.mode}, size={self.size}, ratio={self.ratio}"


class DownSampling(nn.Module):
    """nn.SpatialDownSampling{rW, rH}: means of rH x rW blocks of a C x H x W input."""

    def __init__(self, rh: int, rw: int):
        super().__init__()
        self.rh, self.rw = rh, rw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return on_planes(x, x.dim() - 2, x.dim() - 1, lambda p: block_mean(p, self.rh, self.rw))


class UpSampling(nn.Module):
    """nn.SpatialUpSampling{dW, dH}: every element of dims y_dim, x_dim (0-based) repeated
    dH x dW times (nnx's defaults are dims 2, 3, also for a 4-D input)."""

    def __init__(self, dh: int, dw: int, y_dim: int, x_dim: int):
        super().__init__()
        self.dh, self.dw, self.y_dim, self.x_dim = dh, dw, y_dim, x_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.dh, self.y_dim).repeat_interleave(self.dw, self.x_dim)


class MaxSampling(nn.Module):
    """nn.SpatialMaxSampling{owidth, oheight} on C x H x W: output (i, j) is the max over rows
    [floor(i·dH), max(start + 1, floor((i+1)·dH))) and the columns likewise, dH = (float) H/oH."""

    def __init__(self, oh: int, ow: int):
        super().__init__()
        self.oh, self.ow = oh, ow
        # input (H, W) -> its (rows, cols) windows: plain ints, worked out once per input size
        # rather than on every call, and not module state (no tensors, nothing in a state_dict)
        self._windows_by_size: dict[tuple[int, int], tuple[list, list]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[-2], x.shape[-1])
        if size not in self._windows_by_size:
            if len(self._windows_by_size) >= 64:  # a stream of ever new sizes: kept bounded
                self._windows_by_size.clear()
            rows, cols = self._windows(size[0], self.oh), self._windows(size[1], self.ow)
            self._windows_by_size[size] = rows, cols
        rows, cols = self._windows_by_size[size]
        x = torch.stack([x[..., a:b, :].amax(-2) for a, b in rows], -2)
        return torch.stack([x[..., a:b].amax(-1) for a, b in cols], -1)

    @staticmethod
    def _windows(n_in: int, n_out: int) -> list[tuple[int, int]]:
        starts = float32_positions(n_out + 1, float32_ratio(n_in, n_out)).floor().long().tolist()
        return [(s, max(s + 1, e)) for s, e in zip(starts[:-1], starts[1:])]

    def extra_repr(self) -> str:
        return f"oheight={self.oh}, owidth={self.ow}"


def _target(m) -> tuple[tuple[int, int], tuple[float, float]]:  # noqa: ANN001
    """(oheight, owidth) or, where the module gives ratios, (0, 0) and (rheight, rwidth)."""
    if m.get("oheight") is not None and m.get("owidth") is not None:
        return (int(m["oheight"]), int(m["owidth"])), (0.0, 0.0)
    return (0, 0), (float(m["rheight"]), float(m["rwidth"]))


@register_translation("nn.SpatialReSampling")
def _resampling(m, ctx):
    return ReSampling("bilinear", *_target(m), -2, -1)


@register_translation("nn.SpatialReSamplingEx")
def _resampling_ex(m, ctx):
    mode = str(m.get("mode", "simple"))
    if mode not in ("simple", "average", "bilinear"):
        raise ValueError(f"mode '{mode}' is not one of nnx's simple, average, bilinear")
    y_dim, x_dim = int(m.get("yDim", 2)), int(m.get("xDim", 3))
    return ReSampling(mode, *_target(m), y_dim - 1, x_dim - 1)


@register_translation("nn.SpatialDownSampling")
def _down_sampling(m, ctx):
    return DownSampling(*ctx.ints("rH", "rW"))


@register_translation("nn.SpatialUpSampling")
def _up_sampling(m, ctx):
    dh, dw = ctx.ints("dH", "dW")
    return UpSampling(dh, dw, int(m.get("yDim", 2)) - 1, int(m.get("xDim", 3)) - 1)


@register_translation("nn.SpatialMaxSampling")
def _max_sampling(m, ctx):
    return MaxSampling(*ctx.ints("oheight", "owidth"))
