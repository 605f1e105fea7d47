"""Element-Research dpnn's classes (c0a8ca6) and the ones nn took over from it in 2017 (nn
8726825: Decorator, DontCast, Collapse, Convert, Constant, OneHot, ZipTable, PrintSize), with
their evaluate-mode forward (MANIFEST-zoo3 §5.7).

Decorators (Decorator, Serial, Inception, FireModule, DontCast) hold their network in
`modules[1]`; the other fields an Inception or FireModule keeps (`pool`, `transfer`, `squeeze`,
`expand`) are the prototypes or aliases of what is already inside, not extra computation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from converter.errors import T7FormatError
from converter.generic.layers.containers import one_child
from converter.generic.layers.shape import tensor_type
from converter.generic.registry import register_translation


class Decorator(nn.ModuleDict):
    """nn.Decorator(m) and its subclasses: m's output (child "1", Torch7's `modules[1]`)."""

    def __init__(self, module: nn.Module):
        super().__init__({"1": module})

    def forward(self, x):
        return self["1"](x)


class DontCast(Decorator):
    """nn.DontCast(m, castin, castout): m keeps its own precision (`moduleType`, a Double Linear
    in a Float model, say); the input is cast to m's parameter type, the output back."""

    def __init__(self, module: nn.Module, cast_in: bool, cast_out: bool):
        super().__init__(module)
        self.cast_in, self.cast_out = cast_in, cast_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        own = next(self["1"].parameters(), None)
        out = self["1"](x.to(own.dtype) if self.cast_in and own is not None else x)
        return out.to(x.dtype) if self.cast_out else out


class Collapse(nn.Module):
    """nn.Collapse(nInputDim): a batch (more dims than nInputDim) keeps dim 1 and flattens the
    rest; a single sample is flattened whole. A view, as in nn."""

    def __init__(self, n_input_dim: int):
        super().__init__()
        self.n_input_dim = n_input_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1) if x.dim() > self.n_input_dim else x.view(-1)


class Convert(Decorator):
    """nn.Convert(inputShape, outputShape): the Reshape or Transpose Convert built at its first
    forward (`modules[1]`), run on a batch; a single sample (nInputDim - 1 dims) is given a
    batch dim at `inputBatchDim` and has it removed again at `outputBatchDim`."""

    def __init__(self, module: nn.Module, n_input_dim: int, in_batch: int, out_batch: int):
        super().__init__(module)
        self.n_input_dim, self.in_batch, self.out_batch = n_input_dim, in_batch, out_batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self.n_input_dim:
            return self["1"](x)
        return self["1"](x.unsqueeze(self.in_batch)).squeeze(self.out_batch)


class Constant(nn.Module):
    """nn.Constant(value, nInputDim): the stored `value` whatever the input holds, repeated over
    the batch when the input has more than nInputDim dims."""

    def __init__(self, shape: tuple[int, ...], n_input_dim: int):
        super().__init__()
        self.register_buffer("value", torch.empty(shape))
        self.n_input_dim = n_input_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > self.n_input_dim:
            return self.value.expand(x.shape[0], *self.value.shape).clone()
        return self.value.clone()


class OneHot(nn.Module):
    """nn.OneHot(outputSize): 1-based class indices (any shape) -> a new last dim of that size
    holding one 1, in the module's tensor type (`out_type`, like nn.Copy's)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.register_buffer("out_type", torch.empty(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = x.long() - 1
        low, high = torch.aminmax(index) if index.numel() else (0, 0)  # one device sync
        if int(low) < 0 or int(high) >= self.size:
            raise ValueError(f"OneHot({self.size}) takes indices 1..{self.size}")
        out = torch.zeros(*x.shape, self.size, dtype=self.out_type.dtype, device=x.device)
        return out.scatter_(-1, index.unsqueeze(-1), 1)

    def extra_repr(self) -> str:
        return f"size={self.size}"


class ZipTable(nn.Module):
    """nn.ZipTable: {{a1, a2, ...}, {b1, b2, ...}} -> {{a1, b1}, {a2, b2}, ...}; the tensors
    themselves are passed on."""

    def forward(self, xs: list[list]) -> list[list]:
        return [list(entries) for entries in zip(*xs)]


class ReverseTable(nn.Module):
    """nn.ReverseTable: the input table in reverse order."""

    def forward(self, xs: list) -> list:
        return xs[::-1]


class Clip(nn.Module):
    """nn.Clip(minval, maxval): every element clamped into [minval, maxval]."""

    def __init__(self, low: float, high: float):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(self.low, self.high)

    def extra_repr(self) -> str:
        return f"min={self.low}, max={self.high}"


class SpatialUniformCrop(nn.Module):
    """nn.SpatialUniformCrop(oheight, owidth) in evaluate mode: the crop whose 1-based start is
    ceil((in - out) / 2) in each of the last two dims; one row/column before the centre when the
    surplus is even. (Training mode crops at random places: not translated.)"""

    def __init__(self, height: int, width: int):
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        top, left = math.ceil((h - self.height) / 2), math.ceil((w - self.width) / 2)
        if top < 1 or left < 1:
            raise ValueError(
                f"SpatialUniformCrop({self.height}, {self.width}) needs an input larger than "
                f"the crop in both dims, not {h}x{w}"
            )
        return x[..., top - 1 : top - 1 + self.height, left - 1 : left - 1 + self.width]

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}"


class ArgMax(nn.Module):
    """nn.ArgMax(dim, nInputDim, asLong): the 1-based index of the maximum along dim (shifted
    for a batch), that dim removed; a LongTensor, or the input's type without asLong."""

    def __init__(self, dim: int, n_input_dim: int, as_long: bool):
        super().__init__()
        self.dim, self.n_input_dim, self.as_long = dim, n_input_dim, as_long

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim - 1 + (1 if x.dim() > self.n_input_dim else 0)  # a batch: one further
        index = x.argmax(dim) + 1
        return index if self.as_long else index.to(x.dtype)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_input_dim={self.n_input_dim}, as_long={self.as_long}"


class SpatialFeatNormalization(nn.Module):
    """nn.SpatialFeatNormalization(mean, std): channel c becomes (x - mean[c]) / std[c]
    (channels are dim 1 of a C x H x W sample, dim 2 of a batch)."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.empty(channels))
        self.register_buffer("std", torch.empty(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (-1, 1, 1)
        return (x - self.mean.view(shape)) / self.std.view(shape)


@register_translation("nn.Decorator", "nn.Serial", "nn.Inception", "nn.FireModule")
def _decorator(m, ctx):
    return Decorator(one_child(ctx))


@register_translation("nn.DontCast")
def _dont_cast(m, ctx):
    return DontCast(one_child(ctx), bool(m.get("castin", True)), bool(m.get("castout", True)))


@register_translation("nn.Collapse")
def _collapse(m, ctx):
    return Collapse(*ctx.ints("nInputDim"))


def _unbuilt_convert(m) -> str | None:
    if not m.get("modules"):
        return "nn.Convert saved before its first forward (it builds its conversion there)"
    return None


@register_translation("nn.Convert", check=_unbuilt_convert)
def _convert(m, ctx):
    n_input_dim, in_batch, out_batch = ctx.ints("nInputDim", "inputBatchDim", "outputBatchDim")
    return Convert(one_child(ctx), n_input_dim, in_batch - 1, out_batch - 1)


@register_translation("nn.Constant")
def _constant(m, ctx):
    value = ctx.tensor("value")
    if value is None:
        raise T7FormatError(f"{ctx.where} has no value tensor")
    ctx.put("value", value)
    return Constant(value.shape, *ctx.ints("nInputDim"))


@register_translation("nn.OneHot")
def _one_hot(m, ctx):
    # the module's tensor type, read from its output buffer as nn.Copy's is, kept as an empty
    # buffer so that .to(dtype) moves it with the model
    ctx.put("out_type", np.zeros(0, tensor_type(ctx, "output")))
    return OneHot(*ctx.ints("outputSize"))


@register_translation("nn.ZipTable")
def _zip_table(m, ctx):
    return ZipTable()


@register_translation("nn.ReverseTable")
def _reverse_table(m, ctx):
    return ReverseTable()


@register_translation("nn.Clip")
def _clip(m, ctx):
    return Clip(float(ctx.field("minval")), float(ctx.field("maxval")))


@register_translation("nn.SpatialUniformCrop")
def _uniform_crop(m, ctx):
    return SpatialUniformCrop(*ctx.ints("oheight", "owidth"))


@register_translation("nn.PrintSize", "nn.TotalDropout")
def _identity(m, ctx):
    # PrintSize only prints the size; TotalDropout is the identity in evaluate mode
    return nn.Identity()


@register_translation("nn.ArgMax")
def _arg_max(m, ctx):
    dim, n_input_dim = ctx.ints("dim", "nInputDim")
    return ArgMax(dim, n_input_dim, bool(m.get("asLong", True)))


@register_translation("nn.SpatialFeatNormalization")
def _feat_normalization(m, ctx):
    mean, std = ctx.tensor("mean"), ctx.tensor("std")
    if mean is None or std is None:
        raise T7FormatError(f"{ctx.where} has no mean or std tensor")
    ctx.put("mean", mean.reshape(-1))
    ctx.put("std", std.reshape(-1))
    return SpatialFeatNormalization(mean.size)
