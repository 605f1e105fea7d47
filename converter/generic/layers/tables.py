"""Table modules: the ones that take or return a Lua table (a list here) of tensors.

Indices are Lua's: 1-based, negative from the end. Element-wise combinations go left to right
over the table, as nn's loops do (same float rounding order).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from converter.generic.layers.dims import batch_shifted, from_end, optional_int
from converter.generic.registry import register_translation
from converter.torch7.modules import short_class


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


class SplitTable(nn.Module):
    """nn.SplitTable(dimension, nInputDims): the slices along the dim, as views (nn's select)."""

    def __init__(self, dimension: int, n_input_dims: int | None = None):
        super().__init__()
        self.dimension = dimension
        self.n_input_dims = n_input_dims

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(x.unbind(batch_shifted(self.dimension, self.n_input_dims, x.dim())))

    def extra_repr(self) -> str:
        return f"dimension={self.dimension}, n_input_dims={self.n_input_dims}"


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


class SelectTable(nn.Module):
    """nn.SelectTable(index): the entry itself (1-based, -1 is the last)."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, xs: list):
        i = from_end(self.index, len(xs))
        if not 0 <= i < len(xs):
            raise ValueError(f"SelectTable({self.index}): no such entry in a table of {len(xs)}")
        return xs[i]

    def extra_repr(self) -> str:
        return f"index={self.index}"


class NarrowTable(nn.Module):
    """nn.NarrowTable(offset, length): entries offset .. offset+length-1 (1-based)."""

    def __init__(self, offset: int, length: int):
        super().__init__()
        self.offset, self.length = offset, length

    def forward(self, xs: list) -> list:
        return list(xs[self.offset - 1 : self.offset - 1 + self.length])

    def extra_repr(self) -> str:
        return f"offset={self.offset}, length={self.length}"


def flatten(xs) -> list[torch.Tensor]:
    """Nested tables as one list, depth first (nn.FlattenTable)."""
    if isinstance(xs, (list, tuple)):
        return [t for x in xs for t in flatten(x)]
    return [xs]


class FlattenTable(nn.Module):
    def forward(self, xs: list) -> list[torch.Tensor]:
        return flatten(xs)


# Torch7 table class -> the torch function it folds over the table (CSub/CDiv: its two entries)
COMBINE = {
    "nn.CAddTable": "add",
    "nn.CMulTable": "mul",
    "nn.CMaxTable": "maximum",
    "nn.CMinTable": "minimum",
    "nn.CSubTable": "sub",
    "nn.CDivTable": "div",
}


def _dims(m, ctx) -> tuple[int, int | None]:
    return int(ctx.field("dimension")), optional_int(m.get("nInputDims"))


@register_translation("nn.JoinTable")
def _join_table(m, ctx):
    return JoinTable(*_dims(m, ctx))


@register_translation("nn.SplitTable")
def _split_table(m, ctx):
    return SplitTable(*_dims(m, ctx))


@register_translation(*COMBINE)
def _combine(m, ctx):
    op = COMBINE[f"nn.{short_class(m.class_name)}"]
    return Combine(op, bool(m.get("inplace", False)), pair=op in ("sub", "div"))


def _numeric_index(m) -> str | None:
    if not isinstance(m.get("index"), (int, float)):
        return f"{m.class_name}(index={m.get('index')!r}) (only numeric indices)"
    return None


@register_translation("nn.SelectTable", check=_numeric_index)
def _select_table(m, ctx):
    return SelectTable(int(ctx.field("index")))


@register_translation("nn.NarrowTable")
def _narrow_table(m, ctx):
    return NarrowTable(int(ctx.field("offset")), int(m.get("length", 1)))


@register_translation("nn.FlattenTable")
def _flatten_table(m, ctx):
    return FlattenTable()
