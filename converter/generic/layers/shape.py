"""Shape modules: View, Reshape, Narrow, Select, Transpose, (Un)Squeeze, Replicate, Contiguous,
Copy, with nn's batch detection (View.lua, Reshape.lua, numInputDims) and its 1-based indices.

Where nn copies (Narrow, Select, Transpose) the output is a copy here too, and where nn returns a
view (Squeeze, Unsqueeze, Replicate's stride-0 expand) it is a view: an in-place module after
them then writes where it writes in Torch7.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from converter.errors import T7FormatError
from converter.generic.layers.dims import from_end, optional_int
from converter.generic.registry import register_translation
from converter.torch7.objects import T7Storage, T7Tensor


def _copy(x: torch.Tensor) -> torch.Tensor:
    # nn copies these outputs: an in-place module after them must not write into their input
    return x.clone(memory_format=torch.contiguous_format)


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


class Narrow(nn.Module):
    """nn.Narrow(dimension, offset, length): 1-based offset; a negative length leaves
    |length| - 1 elements off the end (length = size - offset + length + 2)."""

    def __init__(self, dimension: int, offset: int, length: int):
        super().__init__()
        self.dimension, self.offset, self.length = dimension, offset, length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = from_end(self.dimension, x.dim())
        length = self.length
        if length < 0:
            length = x.shape[dim] - self.offset + length + 2
        return _copy(x.narrow(dim, self.offset - 1, length))

    def extra_repr(self) -> str:
        return f"dimension={self.dimension}, offset={self.offset}, length={self.length}"


class Select(nn.Module):
    """nn.Select(dimension, index): 1-based index, negative from the end (-1 is the last)."""

    def __init__(self, dimension: int, index: int):
        super().__init__()
        self.dimension, self.index = dimension, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = from_end(self.dimension, x.dim())
        return _copy(x.select(dim, from_end(self.index, x.shape[dim])))

    def extra_repr(self) -> str:
        return f"dimension={self.dimension}, index={self.index}"


class Transpose(nn.Module):
    """nn.Transpose({a,b}, {c,d}, ...): the swaps in order; with numInputDims the dims count
    from the first sample dim (any leading dims are the batch)."""

    def __init__(self, swaps: list[tuple[int, int]], num_input_dims: int | None):
        super().__init__()
        self.swaps, self.num_input_dims = swaps, num_input_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = 0 if self.num_input_dims is None else x.dim() - self.num_input_dims
        for a, b in self.swaps:
            x = x.transpose(a - 1 + offset, b - 1 + offset)
        return _copy(x)

    def extra_repr(self) -> str:
        return f"swaps={self.swaps}, num_input_dims={self.num_input_dims}"


class Squeeze(nn.Module):
    """nn.Squeeze(dim, numInputDims): only that dim (shifted by one for a batch), or every
    singleton dim; a batch of one keeps its batch dim. Torch7 never squeezes to 0-D."""

    def __init__(self, dim: int | None, num_input_dims: int | None):
        super().__init__()
        self.dim, self.num_input_dims = dim, num_input_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = self.num_input_dims is not None and x.dim() == self.num_input_dims + 1
        if self.dim is not None:
            dim = self.dim - 1 + int(batch)
            return x.squeeze(dim) if x.dim() > 1 else x
        out = x.squeeze() if x.numel() != 1 else x.reshape(1)
        return out.unsqueeze(0) if batch and x.shape[0] == 1 else out

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_input_dims={self.num_input_dims}"


class Unsqueeze(nn.Module):
    """nn.Unsqueeze(pos, numInputDims): a singleton dim at pos, counted after the leading
    (batch) dims that the input has beyond numInputDims."""

    def __init__(self, pos: int, num_input_dims: int | None):
        super().__init__()
        self.pos, self.num_input_dims = pos, num_input_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = 0 if self.num_input_dims is None else x.dim() - self.num_input_dims
        if offset < 0:
            raise ValueError(f"Unsqueeze: numInputDims {self.num_input_dims} > input dims")
        return x.unsqueeze(offset + self.pos - 1)

    def extra_repr(self) -> str:
        return f"pos={self.pos}, num_input_dims={self.num_input_dims}"


class Replicate(nn.Module):
    """nn.Replicate(n, dim, ndim): a new dim of size n at dim (shifted by one when the input has
    more than ndim dims), a stride-0 view of the input as in Torch7."""

    def __init__(self, n: int, dim: int, ndim: int | None):
        super().__init__()
        self.n, self.dim, self.ndim = n, dim, ndim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim - 1 + int(self.ndim is not None and x.dim() > self.ndim)
        shape = list(x.shape)
        shape.insert(dim, self.n)
        return x.unsqueeze(dim).expand(shape)

    def extra_repr(self) -> str:
        return f"n={self.n}, dim={self.dim}, ndim={self.ndim}"


class Copy(nn.Module):
    """nn.Copy(intype, outtype): the input converted to outtype (a copy, as nn makes one), or the
    input itself when the types are equal and forceCopy is not set. The type is held by an empty
    buffer, so that `.to(dtype)` on the model (translate's dtype) converts it with the rest."""

    def __init__(self, dtype: torch.dtype, alias: bool):
        super().__init__()
        self.alias = alias
        self.register_buffer("out_type", torch.empty(0, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.alias else x.to(self.out_type.dtype, copy=True)

    def extra_repr(self) -> str:
        return f"dtype={self.out_type.dtype}, alias={self.alias}"


class Contiguous(nn.Module):
    """nn.Contiguous: a contiguous copy of a strided input, the input itself otherwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous()


def _sequence(m, ctx) -> list[int]:
    """A size stored as a LongStorage (View, Reshape) or, in older files, a Lua list."""
    value = m.get("size")
    if isinstance(value, T7Storage):
        return [int(v) for v in value.read(0, value.size)]
    if isinstance(value, list):
        return [int(v) for v in value]
    raise T7FormatError(f"{ctx.where} has no readable 'size'")


@register_translation("nn.Identity")
def _identity(m, ctx):
    return nn.Identity()


@register_translation("nn.View")
def _view(m, ctx):
    return View(tuple(_sequence(m, ctx)), optional_int(m.get("numInputDims")))


@register_translation("nn.Reshape")
def _reshape(m, ctx):
    mode = m.get("batchMode")
    return Reshape(tuple(_sequence(m, ctx)), None if mode is None else bool(mode))


@register_translation("nn.Narrow")
def _narrow(m, ctx):
    dimension, offset = ctx.ints("dimension", "index")
    return Narrow(dimension, offset, int(m.get("length", 1)))


@register_translation("nn.Select")
def _select(m, ctx):
    return Select(*ctx.ints("dimension", "index"))


@register_translation("nn.Transpose")
def _transpose(m, ctx):
    swaps = ctx.field("permutations")
    if not isinstance(swaps, list) or not all(isinstance(s, list) and len(s) == 2 for s in swaps):
        raise T7FormatError(f"{ctx.where} has no readable 'permutations' (pairs of dims)")
    pairs = [(int(a), int(b)) for a, b in swaps]
    return Transpose(pairs, optional_int(m.get("numInputDims")))


@register_translation("nn.Squeeze")
def _squeeze(m, ctx):
    return Squeeze(optional_int(m.get("dim")), optional_int(m.get("numInputDims")))


@register_translation("nn.Unsqueeze")
def _unsqueeze(m, ctx):
    return Unsqueeze(int(ctx.field("pos")), optional_int(m.get("numInputDims")))


@register_translation("nn.Replicate")
def _replicate(m, ctx):
    # files before the `dim` argument (2012) replicate along dim 1
    dim = int(m.get("dim", 1))
    return Replicate(int(ctx.field("nfeatures")), dim, optional_int(m.get("ndim")))


@register_translation("nn.Contiguous")
def _contiguous(m, ctx):
    return Contiguous()


def tensor_type(ctx, name: str) -> np.dtype:
    t = ctx.field(name)
    if not isinstance(t, T7Tensor):
        raise T7FormatError(f"{ctx.where}: '{name}' is not a tensor; its type is the Copy's type")
    return t.dtype.newbyteorder("=")


@register_translation("nn.Copy")
def _copy_module(m, ctx):
    # intype/outtype are not stored: they are the types of the gradInput/output buffers
    out_type = torch.from_numpy(np.zeros(0, tensor_type(ctx, "output")))
    ctx.put("out_type", out_type)
    same = tensor_type(ctx, "gradInput") == tensor_type(ctx, "output")
    return Copy(out_type.dtype, alias=same and not m.get("forceCopy"))
