"""Shape modules: Identity, View and Reshape, with View.lua's and Reshape.lua's batch detection."""

from __future__ import annotations

import math

import torch
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation
from converter.torch7.objects import T7Storage


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
    nid = m.get("numInputDims")
    return View(tuple(_sequence(m, ctx)), None if nid is None else int(nid))


@register_translation("nn.Reshape")
def _reshape(m, ctx):
    mode = m.get("batchMode")
    return Reshape(tuple(_sequence(m, ctx)), None if mode is None else bool(mode))
