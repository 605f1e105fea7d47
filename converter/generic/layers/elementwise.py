"""Element-wise math modules: one torch function on every element (Tanh, Sigmoid, Abs, Square,
Sqrt, Exp, Log, Power).

A table, not a class per module: Torch7's versions differ only in the function. cudnn's Tanh and
Sigmoid carry an `inplace` flag (cudnn._Pointwise) and then overwrite their input, as in Torch7.
"""

from __future__ import annotations

import torch
from torch import nn

from converter.generic.registry import register_translation
from converter.torch7.modules import short_class

# Torch7 class -> torch function. nn.Sqrt stores `eps`, which THNN's forward ignores (y = sqrt(x)).
ELEMENTWISE = {
    "nn.Tanh": "tanh",
    "nn.Sigmoid": "sigmoid",
    "nn.Abs": "abs",
    "nn.Square": "square",
    "nn.Sqrt": "sqrt",
    "nn.Exp": "exp",
    "nn.Log": "log",
}


class Elementwise(nn.Module):
    """`torch.<op>` of the input, or its in-place form `Tensor.<op>_` for an in-place module."""

    def __init__(self, op: str, inplace: bool = False):
        super().__init__()
        self.op, self.inplace = op, inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(x, f"{self.op}_")() if self.inplace else getattr(torch, self.op)(x)

    def extra_repr(self) -> str:
        return f"op={self.op}, inplace={self.inplace}"


class Power(nn.Module):
    """nn.Power(p): x^p (nn.Power's field `pow`)."""

    def __init__(self, exponent: float):
        super().__init__()
        self.exponent = exponent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.pow(self.exponent)

    def extra_repr(self) -> str:
        return f"exponent={self.exponent}"


@register_translation(*ELEMENTWISE)
def _elementwise(m, ctx):
    # a cudnn.X comes here through the registry's nn.X fallback, with its inplace flag
    op = ELEMENTWISE[f"nn.{short_class(m.class_name)}"]
    return Elementwise(op, bool(m.get("inplace", False)))


@register_translation("nn.Power")
def _power(m, ctx):
    return Power(float(ctx.field("pow")))
