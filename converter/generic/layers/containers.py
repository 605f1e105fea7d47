"""Containers: Sequential (as a Chain), Concat, DepthConcat, ConcatTable, ParallelTable,
Parallel, MapTable, Bottle.

Children keep Lua's 1-based index as their name, so state_dict keys equal the Torch7 paths; a
Lua table of outputs is a Python list.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation


def lua_indexed(modules: list[nn.Module]) -> dict[str, nn.Module]:
    # Lua's 1-based child index as the name keeps state_dict keys equal to Torch7 paths.
    return {str(i): m for i, m in enumerate(modules, start=1)}


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


class DepthConcat(Concat):
    """nn.DepthConcat(dimension): Concat of outputs whose other dims may differ; each is centred
    in zeros of the largest size, starting at floor((big - small)/2) (odd surplus at the end)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [m(x) for m in self.values()]
        big = [max(o.shape[d] for o in outs) for d in range(outs[0].dim())]
        return torch.cat([self.centred(o, big) for o in outs], self.dim)

    def centred(self, out: torch.Tensor, big: list[int]) -> torch.Tensor:
        pad = []
        for d in reversed(range(out.dim())):  # F.pad lists the last dim first
            extra = 0 if d == self.dim else big[d] - out.shape[d]
            pad += [extra // 2, extra - extra // 2]
        return F.pad(out, pad) if any(pad) else out


class Parallel(nn.ModuleDict):
    """nn.Parallel(inputDimension, outputDimension): child i on input:select(inputDimension, i),
    the outputs joined along outputDimension."""

    def __init__(self, modules: list[nn.Module], input_dim: int, output_dim: int):
        super().__init__(lua_indexed(modules))
        self.input_dim, self.output_dim = input_dim - 1, output_dim - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[self.input_dim]
        if n > len(self):
            raise ValueError(f"Parallel of {len(self)} modules got {n} slices")
        mods = list(self.values())
        outs = [mods[i](x.select(self.input_dim, i)) for i in range(n)]
        return torch.cat(outs, self.output_dim)


class MapTable(nn.ModuleDict):
    """nn.MapTable(m): m on every entry of the table (nn's clones share all of m's parameters)."""

    def __init__(self, module: nn.Module):
        super().__init__(lua_indexed([module]))

    def forward(self, xs: list) -> list:
        return [self["1"](x) for x in xs]


class Bottle(nn.ModuleDict):
    """nn.Bottle(m, nInputDim, nOutputDim): the input's leading dims folded into one batch dim
    for m (which takes nInputDim-D input and gives nOutputDim-D output), and unfolded after."""

    def __init__(self, module: nn.Module, n_input_dim: int, n_output_dim: int):
        super().__init__(lua_indexed([module]))
        self.n_input_dim, self.n_output_dim = n_input_dim, n_output_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.dim() - self.n_input_dim  # dims folded into the first one m sees
        if lead <= 0:
            return self["1"](x)
        out = self["1"](x.reshape(-1, *x.shape[lead + 1 :]))
        if out.dim() != self.n_output_dim:
            raise ValueError(
                f"Bottle: its module gave a {out.dim()}-D output, not {self.n_output_dim}-D"
            )
        folded = math.prod(x.shape[:lead])
        return out.reshape(*x.shape[:lead], out.shape[0] // folded, *out.shape[1:])


@register_translation("nn.Sequential")
def _sequential(m, ctx):
    return Chain(OrderedDict(lua_indexed(ctx.children())))


@register_translation("nn.Concat")
def _concat(m, ctx):
    return Concat(ctx.children(), int(ctx.field("dimension")))


@register_translation("nn.ConcatTable")
def _concat_table(m, ctx):
    return ConcatTable(ctx.children())


@register_translation("nn.ParallelTable")
def _parallel_table(m, ctx):
    return ParallelTable(ctx.children())


@register_translation("nn.DepthConcat")
def _depth_concat(m, ctx):
    return DepthConcat(ctx.children(), int(ctx.field("dimension")))


@register_translation("nn.Parallel")
def _parallel(m, ctx):
    dims = ctx.ints("inputDimension", "outputDimension")
    return Parallel(ctx.children(), *dims)


def one_child(ctx) -> nn.Module:
    """The translated child of a module that decorates exactly one (its `modules` = {m})."""
    kids = ctx.children()
    if len(kids) != 1:
        raise T7FormatError(f"{ctx.where} holds {len(kids)} modules; it decorates exactly one")
    return kids[0]


@register_translation("nn.MapTable")
def _map_table(m, ctx):
    return MapTable(one_child(ctx))


@register_translation("nn.Bottle")
def _bottle(m, ctx):
    n_input_dim = int(m.get("nInputDim", 2))
    return Bottle(one_child(ctx), n_input_dim, int(m.get("nOutputDim", n_input_dim)))
