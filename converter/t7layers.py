"""PyTorch modules that compute exactly what a Torch7 `nn` module computes where torch.nn differs.

Torch7 passes Lua tables of tensors between modules (ConcatTable -> JoinTable/CAddTable); here a
table is a Python list. Pooling output sizes, View's batch detection, JoinTable's dimension rule
and legacy Dropout follow the nn/THNN sources of 2017 (MANIFEST §4.5), not PyTorch's own rules.
Dimensions are given 1-based, as stored in the Torch7 file, and resolved per input like nn does.
Everything here is plain tensor code, so torch.export can capture it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def lua_indexed(modules: list[nn.Module]) -> dict[str, nn.Module]:
    # Lua's 1-based child index as the name keeps state_dict keys equal to Torch7 paths.
    return {str(i): m for i, m in enumerate(modules, start=1)}


class ConcatTable(nn.ModuleDict):
    """Every child on the same input; the outputs as a list (a Lua table)."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__(lua_indexed(modules))

    def forward(self, x):
        return [m(x) for m in self.values()]


class ParallelTable(nn.ModuleDict):
    """Child i on input i."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__(lua_indexed(modules))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        if len(xs) != len(self):
            raise ValueError(f"ParallelTable of {len(self)} modules got {len(xs)} inputs")
        return [m(x) for m, x in zip(self.values(), xs)]


class Concat(nn.ModuleDict):
    """nn.Concat(dimension): the children's outputs on the same input, joined along `dimension`."""

    def __init__(self, modules: list[nn.Module], dimension: int):
        super().__init__(lua_indexed(modules))
        self.dim = dimension - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m(x) for m in self.values()], self.dim)


class JoinTable(nn.Module):
    """nn.JoinTable(dimension, nInputDims): with nInputDims, one extra leading dim is the batch."""

    def __init__(self, dimension: int, n_input_dims: int | None = None):
        super().__init__()
        self.dimension = dimension
        self.n_input_dims = n_input_dims

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        ndim = xs[0].dim()
        if self.dimension < 0:
            dim = ndim + self.dimension
        elif self.n_input_dims is not None and ndim == self.n_input_dims + 1:
            dim = self.dimension
        else:
            dim = self.dimension - 1
        return torch.cat(xs, dim)

    def extra_repr(self) -> str:
        return f"dimension={self.dimension}, n_input_dims={self.n_input_dims}"


class CAddTable(nn.Module):
    """Sum of the inputs, added left to right as nn does (same float rounding order)."""

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class MulConstant(nn.Module):
    def __init__(self, constant: float):
        super().__init__()
        self.constant = constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.constant

    def extra_repr(self) -> str:
        return f"constant={self.constant}"


class DropoutV1(nn.Module):
    """nn.Dropout(p, true): unscaled mask in training, output scaled by (1-p) at evaluation."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return F.dropout(x, self.p, training=True) * (1 - self.p)
        return x * (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SoftMax(nn.Module):
    """nn.SoftMax / nn.LogSoftMax: THNN normalises dim 0 of 1-D and 3-D (C,H,W) inputs, dim 1 of
    2-D and 4-D ones, and refuses any other rank."""

    def __init__(self, log: bool = False):
        super().__init__()
        self.log = log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not 1 <= x.dim() <= 4:
            raise ValueError(f"Torch7 SoftMax takes a 1D, 2D, 3D or 4D tensor, not {x.dim()}D")
        dim = 0 if x.dim() in (1, 3) else 1
        return F.log_softmax(x, dim) if self.log else F.softmax(x, dim)

    def extra_repr(self) -> str:
        return f"log={self.log}"


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


class View(nn.Module):
    """nn.View(size):setNumInputDims(n), with View.lua's batch detection."""

    def __init__(self, size: tuple[int, ...], num_input_dims: int | None = None):
        super().__init__()
        self.size = tuple(size)
        self.num_input_dims = num_input_dims
        self.num_elements = math.prod(s for s in self.size if s >= 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ind = x.dim()
        split = 0 if self.num_input_dims is None else max(ind - self.num_input_dims, 0)
        inner, outer = math.prod(x.shape[split:]), math.prod(x.shape[:split])
        if inner % self.num_elements:
            raise ValueError(f"input view {tuple(x.shape)} and desired view {self.size} differ")
        if self.num_input_dims is not None and ind > self.num_input_dims:
            # always batched: no comparison on the batch size, so it can stay dynamic in export
            return x.reshape(outer, *self.size) if -1 in self.size else x.reshape(-1, *self.size)
        bsz = outer * (1 if -1 in self.size else inner // self.num_elements)
        return x.reshape(self.size) if bsz == 1 else x.reshape(bsz, *self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}, num_input_dims={self.num_input_dims}"


class Reshape(nn.Module):
    """nn.Reshape(size..., batchMode): batched unless the input is exactly one sample."""

    def __init__(self, size: tuple[int, ...], batch_mode: bool | None = None):
        super().__init__()
        self.size = tuple(size)
        self.batch_mode = batch_mode
        self.num_elements = math.prod(self.size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.batch_mode is None and x.numel() == self.num_elements and x.shape[0] != 1
        if self.batch_mode is False or single:
            return x.reshape(self.size)
        return x.reshape(x.shape[0], *self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}, batch_mode={self.batch_mode}"
