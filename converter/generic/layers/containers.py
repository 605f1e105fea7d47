"""Containers: Sequential, Concat, ConcatTable, ParallelTable.

Children keep Lua's 1-based index as their name, so state_dict keys equal the Torch7 paths; a
Lua table of outputs is a Python list.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from converter.generic.registry import register_translation


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


@register_translation("nn.Sequential")
def _sequential(m, ctx):
    return nn.Sequential(OrderedDict(lua_indexed(ctx.children())))


@register_translation("nn.Concat")
def _concat(m, ctx):
    return Concat(ctx.children(), int(ctx.field("dimension")))


@register_translation("nn.ConcatTable")
def _concat_table(m, ctx):
    return ConcatTable(ctx.children())


@register_translation("nn.ParallelTable")
def _parallel_table(m, ctx):
    return ParallelTable(ctx.children())
