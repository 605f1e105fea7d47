"""Table modules: the ones that take a Lua table (a list here) of tensors and combine it.

JoinTable's dimension follows nn's rule: 1-based as stored, counted from the end when negative,
and shifted by one for a batch when the input has one more dimension than `nInputDims`.
"""

from __future__ import annotations

import torch
from torch import nn

from converter.generic.registry import register_translation


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


@register_translation("nn.JoinTable")
def _join_table(m, ctx):
    n_input_dims = m.get("nInputDims")
    return JoinTable(
        int(ctx.field("dimension")), None if n_input_dims is None else int(n_input_dims)
    )


@register_translation("nn.CAddTable")
def _cadd_table(m, ctx):
    return CAddTable()
