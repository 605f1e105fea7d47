"""irv2_tiny.t7 as plain PyTorch, written by t7convert (irv2-torch7 0.1.0).

Source: irv2_tiny.t7
sha256: 2111baf4214590bf75b14fa8acd3780991628d51b4c5a4b8b5cabbdf78cc90f5
Input: float32 N x 3 x 299 x 299.
Weights: irv2_tiny_generated.safetensors beside this file, read by load(); state_dict keys are
the Torch7 module paths ("1.2.weight" is model:get(1):get(2).weight).

Needs torch and safetensors only. The classes below that are not torch's carry Torch7's
semantics where PyTorch's differ; they are irv2-torch7's own, copied.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn


def observed(modules) -> bool:  # noqa: ANN001 - the children, an iterable of nn.Module
    """Whether calling these modules does more than call their `forward`: hooks on them or
    global ones, a `module.compile()`, or torch.jit tracing (nn.Module._call_impl's tests)."""
    module = torch.nn.modules.module  # where nn.Module keeps the global hooks
    if (
        module._global_forward_hooks
        or module._global_forward_pre_hooks
        or module._global_backward_hooks
        or module._global_backward_pre_hooks
        or torch._C._get_tracing_state()
    ):
        return True
    for m in modules:  # a loop, not any(<generator>): a third cheaper on a 7-layer MLP
        if (
            m._forward_hooks
            or m._forward_pre_hooks
            or m._backward_hooks
            or m._backward_pre_hooks
            or m._compiled_call_impl is not None
        ):
            return True
    return False


class Chain(nn.Sequential):
    """nn.Sequential run as one: while nothing observes the children (see `observed`), their
    `forward`s are called straight, without nn.Module's call machinery per layer, which on a
    small network cost more than its layers' arithmetic (scripts/bench_peer.py). A hook on a
    child, or tracing, gets the ordinary module calls.

    A translated root is given `_on_error` (converter.generic.forward_errors), called with an
    exception before it propagates: a `try` costs nothing until something raises, where a
    forward hook would cost each call nn.Module's slow path."""

    _on_error: Callable[[nn.Module, Exception], None] | None = None

    def forward(self, x):
        children = self._modules.values()
        try:
            if observed(children):
                for m in children:
                    x = m(x)
            else:
                for m in children:
                    x = m.forward(x)
        except Exception as error:
            if self._on_error is not None:
                self._on_error(self, error)
            raise
        return x


class BatchNorm(nn.modules.batchnorm._BatchNorm):
    """nn.(Spatial|Volumetric)BatchNormalization: a batch of rank `n_dim`, or at evaluation one
    sample without its batch dim, as Torch7's makeBatch allows."""

    def __init__(self, n_dim: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_dim = n_dim

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() != self.n_dim:
            raise ValueError(
                f"Torch7 batch normalisation of {self.n_dim}D batches got a {x.dim()}D input"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self.n_dim - 1 and not self.training:
            return super().forward(x.unsqueeze(0)).squeeze(0)
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_dim={self.n_dim}"


def lua_indexed(modules: list[nn.Module]) -> dict[str, nn.Module]:
    # Lua's 1-based child index as the name keeps state_dict keys equal to Torch7 paths.
    return {str(i): m for i, m in enumerate(modules, start=1)}


class ConcatTable(nn.ModuleDict):
    """Every child on the same input; the outputs as a list (a Lua table)."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__(lua_indexed(modules))

    def forward(self, x):
        return [m(x) for m in self.values()]


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


def from_end(dimension: int, ndim: int) -> int:
    """`dimension` (1-based, negative = from the end: -1 is the last) as a 0-based dim."""
    return ndim + dimension if dimension < 0 else dimension - 1


def batch_shifted(dimension: int, n_input_dims: int | None, ndim: int) -> int:
    """`dimension` of a module with `nInputDims`, for an `ndim`-dimensional input (0-based)."""
    if dimension >= 0 and n_input_dims is not None and ndim == n_input_dims + 1:
        return dimension
    return from_end(dimension, ndim)


class JoinTable(nn.Module):
    """nn.JoinTable(dimension, nInputDims): with nInputDims, one extra leading dim is the batch."""

    def __init__(self, dimension: int, n_input_dims: int | None = None):
        super().__init__()
        self.dimension = dimension
        self.n_input_dims = n_input_dims

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, batch_shifted(self.dimension, self.n_input_dims, xs[0].dim()))

    def extra_repr(self) -> str:
        return f"dimension={self.dimension}, n_input_dims={self.n_input_dims}"


class Constant(nn.Module):
    """nn.MulConstant / nn.AddConstant: x * c or x + c, into the input when `inplace`."""

    def __init__(self, op: str, constant: float, inplace: bool = False):
        super().__init__()
        self.op, self.constant, self.inplace = op, constant, inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            return getattr(x, f"{self.op}_")(self.constant)
        return getattr(torch, self.op)(x, self.constant)

    def extra_repr(self) -> str:
        return f"op={self.op}, constant={self.constant}, inplace={self.inplace}"


class Combine(nn.Module):
    """CAddTable, CMulTable, CMaxTable, CMinTable: a binary `op` folded left to right over the
    table, in place into the first entry for CAddTable(true) (nn's `output:set(input[1])`).
    CSubTable and CDivTable (`pair`) take input[1] `op` input[2] and need both."""

    def __init__(self, op: str, inplace: bool = False, pair: bool = False):
        super().__init__()
        self.op, self.inplace, self.pair = op, inplace, pair

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if self.pair:
            if len(xs) < 2:
                raise ValueError(f"a Torch7 {self.op} table module takes 2 tensors, not {len(xs)}")
            xs = xs[:2]
        if self.inplace:
            return functools.reduce(lambda a, b: getattr(a, f"{self.op}_")(b), xs)
        return functools.reduce(getattr(torch, self.op), xs)

    def extra_repr(self) -> str:
        return f"op={self.op}, inplace={self.inplace}, pair={self.pair}"


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


def build() -> nn.Module:
    """The network with untrained weights (load() puts them in)."""
    m1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(3, 4, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 4, (3, 3), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 8, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_4 = ConcatTable(
        [
            MaxPool((3, 3), (2, 2), (0, 0), False),
            Chain(
                OrderedDict(
                    {
                        "1": nn.Conv2d(8, 12, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                        "2": BatchNorm(4, 12, eps=1e-05, momentum=0.1, affine=True),
                        "3": nn.ReLU(True),
                    },
                ),
            ),
        ],
    )
    m1_6_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 8, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_6_1_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(8, 12, (3, 3), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 12, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_6_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 8, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_6_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(8, 8, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_6_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(8, 8, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_6_2_4 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(8, 12, (3, 3), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 12, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m1_6 = ConcatTable(
        [
            Chain(OrderedDict({"1": m1_6_1_1, "2": m1_6_1_2})),
            Chain(OrderedDict({"1": m1_6_2_1, "2": m1_6_2_2, "3": m1_6_2_3, "4": m1_6_2_4})),
        ],
    )
    m1_8 = ConcatTable(
        [
            Chain(
                OrderedDict(
                    {
                        "1": nn.Conv2d(24, 24, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                        "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                        "3": nn.ReLU(True),
                    },
                ),
            ),
            MaxPool((3, 3), (2, 2), (0, 0), False),
        ],
    )
    m2_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m2_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m2_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 4, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m2_1_2_1_3_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m2_1_2_1_3_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 6, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 6, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m2_1_2_1_3_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(6, 8, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m2_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m2_1_2_1_1_1})),
            Chain(OrderedDict({"1": m2_1_2_1_2_1, "2": m2_1_2_1_2_2})),
            Chain(OrderedDict({"1": m2_1_2_1_3_1, "2": m2_1_2_1_3_2, "3": m2_1_2_1_3_3})),
        ],
    )
    m2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 48, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m2_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m2_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m2_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m3_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m3_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m3_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 4, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m3_1_2_1_3_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m3_1_2_1_3_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 6, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 6, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m3_1_2_1_3_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(6, 8, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m3_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m3_1_2_1_1_1})),
            Chain(OrderedDict({"1": m3_1_2_1_2_1, "2": m3_1_2_1_2_2})),
            Chain(OrderedDict({"1": m3_1_2_1_3_1, "2": m3_1_2_1_3_2, "3": m3_1_2_1_3_3})),
        ],
    )
    m3_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 48, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m3_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m3_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m3_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m4_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m4_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m4_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 4, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m4_1_2_1_3_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m4_1_2_1_3_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 6, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 6, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m4_1_2_1_3_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(6, 8, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m4_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m4_1_2_1_1_1})),
            Chain(OrderedDict({"1": m4_1_2_1_2_1, "2": m4_1_2_1_2_2})),
            Chain(OrderedDict({"1": m4_1_2_1_3_1, "2": m4_1_2_1_3_2, "3": m4_1_2_1_3_3})),
        ],
    )
    m4_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 48, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m4_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m4_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m4_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m5_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m5_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m5_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 4, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m5_1_2_1_3_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m5_1_2_1_3_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 6, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 6, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m5_1_2_1_3_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(6, 8, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m5_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m5_1_2_1_1_1})),
            Chain(OrderedDict({"1": m5_1_2_1_2_1, "2": m5_1_2_1_2_2})),
            Chain(OrderedDict({"1": m5_1_2_1_3_1, "2": m5_1_2_1_3_2, "3": m5_1_2_1_3_3})),
        ],
    )
    m5_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 48, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m5_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m5_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m5_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m6_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m6_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m6_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 4, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m6_1_2_1_3_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 4, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m6_1_2_1_3_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(4, 6, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 6, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m6_1_2_1_3_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(6, 8, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 8, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m6_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m6_1_2_1_1_1})),
            Chain(OrderedDict({"1": m6_1_2_1_2_1, "2": m6_1_2_1_2_2})),
            Chain(OrderedDict({"1": m6_1_2_1_3_1, "2": m6_1_2_1_3_2, "3": m6_1_2_1_3_3})),
        ],
    )
    m6_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 48, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m6_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m6_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m6_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m7_1_3_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 32, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m7_1_3_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(32, 32, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m7_1_3_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(32, 48, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m7_1 = ConcatTable(
        [
            MaxPool((3, 3), (2, 2), (0, 0), False),
            Chain(
                OrderedDict(
                    {
                        "1": nn.Conv2d(48, 48, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                        "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
                        "3": nn.ReLU(True),
                    },
                ),
            ),
            Chain(OrderedDict({"1": m7_1_3_1, "2": m7_1_3_2, "3": m7_1_3_3})),
        ],
    )
    m8_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m8_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m8_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m8_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m8_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m8_1_2_1_1_1})),
            Chain(OrderedDict({"1": m8_1_2_1_2_1, "2": m8_1_2_1_2_2, "3": m8_1_2_1_2_3})),
        ],
    )
    m8_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m8_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m8_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m8_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m9_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m9_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m9_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m9_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m9_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m9_1_2_1_1_1})),
            Chain(OrderedDict({"1": m9_1_2_1_2_1, "2": m9_1_2_1_2_2, "3": m9_1_2_1_2_3})),
        ],
    )
    m9_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m9_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m9_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m9_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m10_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m10_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m10_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m10_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m10_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m10_1_2_1_1_1})),
            Chain(OrderedDict({"1": m10_1_2_1_2_1, "2": m10_1_2_1_2_2, "3": m10_1_2_1_2_3})),
        ],
    )
    m10_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m10_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m10_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m10_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m11_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m11_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m11_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m11_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m11_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m11_1_2_1_1_1})),
            Chain(OrderedDict({"1": m11_1_2_1_2_1, "2": m11_1_2_1_2_2, "3": m11_1_2_1_2_3})),
        ],
    )
    m11_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m11_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m11_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m11_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m12_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m12_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m12_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m12_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m12_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m12_1_2_1_1_1})),
            Chain(OrderedDict({"1": m12_1_2_1_2_1, "2": m12_1_2_1_2_2, "3": m12_1_2_1_2_3})),
        ],
    )
    m12_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m12_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m12_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m12_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m13_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m13_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m13_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m13_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m13_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m13_1_2_1_1_1})),
            Chain(OrderedDict({"1": m13_1_2_1_2_1, "2": m13_1_2_1_2_2, "3": m13_1_2_1_2_3})),
        ],
    )
    m13_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m13_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m13_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m13_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m14_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m14_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m14_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m14_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m14_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m14_1_2_1_1_1})),
            Chain(OrderedDict({"1": m14_1_2_1_2_1, "2": m14_1_2_1_2_2, "3": m14_1_2_1_2_3})),
        ],
    )
    m14_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m14_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m14_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m14_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m15_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m15_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m15_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m15_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m15_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m15_1_2_1_1_1})),
            Chain(OrderedDict({"1": m15_1_2_1_2_1, "2": m15_1_2_1_2_2, "3": m15_1_2_1_2_3})),
        ],
    )
    m15_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m15_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m15_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m15_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m16_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m16_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m16_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m16_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m16_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m16_1_2_1_1_1})),
            Chain(OrderedDict({"1": m16_1_2_1_2_1, "2": m16_1_2_1_2_2, "3": m16_1_2_1_2_3})),
        ],
    )
    m16_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m16_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m16_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m16_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m17_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m17_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 16, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 16, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m17_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(16, 20, (7, 1), (1, 1), (3, 0), groups=1, bias=False),
                "2": BatchNorm(4, 20, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m17_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(20, 24, (1, 7), (1, 1), (0, 3), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m17_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m17_1_2_1_1_1})),
            Chain(OrderedDict({"1": m17_1_2_1_2_1, "2": m17_1_2_1_2_2, "3": m17_1_2_1_2_3})),
        ],
    )
    m17_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(48, 144, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 144, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m17_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m17_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m17_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m18_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 32, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m18_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(32, 48, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 48, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m18_1_3_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 32, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m18_1_3_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(32, 32, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m18_1_4_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(144, 32, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m18_1_4_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(32, 32, (3, 3), (1, 1), (1, 1), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m18_1_4_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(32, 32, (3, 3), (2, 2), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m18_1 = ConcatTable(
        [
            MaxPool((3, 3), (2, 2), (0, 0), False),
            Chain(OrderedDict({"1": m18_1_2_1, "2": m18_1_2_2})),
            Chain(OrderedDict({"1": m18_1_3_1, "2": m18_1_3_2})),
            Chain(OrderedDict({"1": m18_1_4_1, "2": m18_1_4_2, "3": m18_1_4_3})),
        ],
    )
    m19_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m19_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m19_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(24, 28, (3, 1), (1, 1), (1, 0), groups=1, bias=False),
                "2": BatchNorm(4, 28, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m19_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(28, 32, (1, 3), (1, 1), (0, 1), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m19_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m19_1_2_1_1_1})),
            Chain(OrderedDict({"1": m19_1_2_1_2_1, "2": m19_1_2_1_2_2, "3": m19_1_2_1_2_3})),
        ],
    )
    m19_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(56, 256, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 256, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m19_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m19_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m19_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m20_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m20_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m20_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(24, 28, (3, 1), (1, 1), (1, 0), groups=1, bias=False),
                "2": BatchNorm(4, 28, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m20_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(28, 32, (1, 3), (1, 1), (0, 1), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m20_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m20_1_2_1_1_1})),
            Chain(OrderedDict({"1": m20_1_2_1_2_1, "2": m20_1_2_1_2_2, "3": m20_1_2_1_2_3})),
        ],
    )
    m20_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(56, 256, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 256, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m20_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m20_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m20_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m21_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m21_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m21_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(24, 28, (3, 1), (1, 1), (1, 0), groups=1, bias=False),
                "2": BatchNorm(4, 28, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m21_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(28, 32, (1, 3), (1, 1), (0, 1), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m21_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m21_1_2_1_1_1})),
            Chain(OrderedDict({"1": m21_1_2_1_2_1, "2": m21_1_2_1_2_2, "3": m21_1_2_1_2_3})),
        ],
    )
    m21_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(56, 256, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 256, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m21_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m21_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m21_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m22_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m22_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m22_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(24, 28, (3, 1), (1, 1), (1, 0), groups=1, bias=False),
                "2": BatchNorm(4, 28, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m22_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(28, 32, (1, 3), (1, 1), (0, 1), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m22_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m22_1_2_1_1_1})),
            Chain(OrderedDict({"1": m22_1_2_1_2_1, "2": m22_1_2_1_2_2, "3": m22_1_2_1_2_3})),
        ],
    )
    m22_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(56, 256, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 256, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m22_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m22_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m22_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    m23_1_2_1_1_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m23_1_2_1_2_1 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(256, 24, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 24, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m23_1_2_1_2_2 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(24, 28, (3, 1), (1, 1), (1, 0), groups=1, bias=False),
                "2": BatchNorm(4, 28, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m23_1_2_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(28, 32, (1, 3), (1, 1), (0, 1), groups=1, bias=False),
                "2": BatchNorm(4, 32, eps=1e-05, momentum=0.1, affine=True),
                "3": nn.ReLU(True),
            },
        ),
    )
    m23_1_2_1 = ConcatTable(
        [
            Chain(OrderedDict({"1": m23_1_2_1_1_1})),
            Chain(OrderedDict({"1": m23_1_2_1_2_1, "2": m23_1_2_1_2_2, "3": m23_1_2_1_2_3})),
        ],
    )
    m23_1_2_3 = Chain(
        OrderedDict(
            {
                "1": nn.Conv2d(56, 256, (1, 1), (1, 1), (0, 0), groups=1, bias=False),
                "2": BatchNorm(4, 256, eps=1e-05, momentum=0.1, affine=True),
            },
        ),
    )
    m23_1 = ConcatTable(
        [
            nn.Identity(),
            Chain(
                OrderedDict(
                    {
                        "1": m23_1_2_1,
                        "2": JoinTable(2, 4),
                        "3": m23_1_2_3,
                        "4": Constant("mul", 0.1, False),
                    },
                ),
            ),
        ],
    )
    return Chain(
        OrderedDict(
            {
                "1": Chain(
                    OrderedDict(
                        {
                            "1": m1_1,
                            "2": m1_2,
                            "3": m1_3,
                            "4": m1_4,
                            "5": JoinTable(2, 4),
                            "6": m1_6,
                            "7": JoinTable(2, 4),
                            "8": m1_8,
                            "9": JoinTable(2, 4),
                        },
                    ),
                ),
                "2": Chain(
                    OrderedDict(
                        {"1": m2_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "3": Chain(
                    OrderedDict(
                        {"1": m3_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "4": Chain(
                    OrderedDict(
                        {"1": m4_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "5": Chain(
                    OrderedDict(
                        {"1": m5_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "6": Chain(
                    OrderedDict(
                        {"1": m6_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "7": Chain(OrderedDict({"1": m7_1, "2": JoinTable(2, 4)})),
                "8": Chain(
                    OrderedDict(
                        {"1": m8_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "9": Chain(
                    OrderedDict(
                        {"1": m9_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "10": Chain(
                    OrderedDict(
                        {"1": m10_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "11": Chain(
                    OrderedDict(
                        {"1": m11_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "12": Chain(
                    OrderedDict(
                        {"1": m12_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "13": Chain(
                    OrderedDict(
                        {"1": m13_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "14": Chain(
                    OrderedDict(
                        {"1": m14_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "15": Chain(
                    OrderedDict(
                        {"1": m15_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "16": Chain(
                    OrderedDict(
                        {"1": m16_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "17": Chain(
                    OrderedDict(
                        {"1": m17_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "18": Chain(OrderedDict({"1": m18_1, "2": JoinTable(2, 4)})),
                "19": Chain(
                    OrderedDict(
                        {"1": m19_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "20": Chain(
                    OrderedDict(
                        {"1": m20_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "21": Chain(
                    OrderedDict(
                        {"1": m21_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "22": Chain(
                    OrderedDict(
                        {"1": m22_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "23": Chain(
                    OrderedDict(
                        {"1": m23_1, "2": Combine("add", False, pair=False), "3": nn.ReLU(True)},
                    ),
                ),
                "24": AvgPool((8, 8), (1, 1), (0, 0), False, True, True),
                "25": View((256,), 3),
                "26": nn.Dropout(0.2),
                "27": nn.Linear(256, 1000, bias=True),
            },
        ),
    )


def load(path: str | Path | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The network with its weights from `path` (default: the .safetensors file beside this
    one, same name), on `device`, in eval mode."""
    path = Path(__file__).with_suffix(".safetensors") if path is None else Path(path)
    model = build()
    model.load_state_dict(load_file(path, device=str(device)), strict=True, assign=True)
    return model.to(device).eval()
