"""Parametrised arithmetic: Linear and the constant/learned scalings around it.

nn.Linear stores its weight as (out, in), as torch.nn.Linear does, so the tensors move as they are.
"""

from __future__ import annotations

import torch
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation


class MulConstant(nn.Module):
    def __init__(self, constant: float):
        super().__init__()
        self.constant = constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.constant

    def extra_repr(self) -> str:
        return f"constant={self.constant}"


@register_translation("nn.MulConstant")
def _mul_constant(m, ctx):
    return MulConstant(float(ctx.field("constant_scalar")))


@register_translation("nn.Linear")
def _linear(m, ctx):
    weight, bias = ctx.tensor("weight"), ctx.tensor("bias")
    if weight is None:
        raise T7FormatError(f"{ctx.where} has no weight")
    ctx.put("weight", weight)
    if bias is not None:
        ctx.put("bias", bias)
    return nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
