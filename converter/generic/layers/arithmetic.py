"""Parametrised arithmetic: Linear, the learned and constant scalings and shifts (Mul, CMul, Add,
CAdd, MulConstant, AddConstant, rnn's SAdd) and LookupTable (and rnn's LookupTableMaskZero).

nn.Linear stores its weight as (out, in), as torch.nn.Linear does, so the tensors move as they are.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation, uninitialised
from converter.torch7.modules import short_class


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


class SAdd(nn.Module):
    """rnn's nn.SAdd(addend, negate): x + addend, negated with negate (the GRU's 1 - z)."""

    def __init__(self, addend: float, negate: bool):
        super().__init__()
        self.addend, self.negate = addend, negate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.addend
        return -out if self.negate else out

    def extra_repr(self) -> str:
        return f"addend={self.addend}, negate={self.negate}"


class Learned(nn.Module):
    """nn.Mul, nn.CMul (a learned weight) and nn.Add, nn.CAdd (a learned bias), by nn's rule:
    - as many elements as the input: element by element in memory order;
    - as many dims as the input: broadcast over the parameter's size-1 dims;
    - otherwise the input is viewed batch x -1 and the flat parameter applies to every sample.
    Mul's one weight and Add(n, true)'s one bias (`scalar`) reach every element by all three."""

    def __init__(self, op: str, name: str, shape: tuple[int, ...]):
        super().__init__()
        self.op, self.name = op, name
        self.register_parameter(name, nn.Parameter(torch.empty(shape)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, fn = getattr(self, self.name), getattr(torch, self.op)
        if x.numel() == p.numel():
            return fn(x.reshape(-1), p.reshape(-1)).view(x.shape)
        if p.dim() == x.dim():
            return fn(x, p)
        return fn(x.reshape(x.shape[0], -1), p.reshape(1, -1)).view(x.shape)

    def extra_repr(self) -> str:
        return f"op={self.op}, {self.name}={tuple(getattr(self, self.name).shape)}"


class LookupTable(nn.Module):
    """nn.LookupTable: rows of `weight` (nIndex x nOutput) for 1-D or 2-D inputs of Torch's
    1-based indices. With maxNorm, the rows looked up are first renormalised in place as THNN
    does (scale maxNorm / (norm + 1e-7) where the normType-norm exceeds maxNorm).

    `mask_zero`: rnn's LookupTableMaskZero, weight (V+1) x D, index i in 0..V selects row i+1
    (1-based) and index 0 (padding) a zero vector (Torch zeroes row 1 at every forward)."""

    def __init__(
        self,
        n_index: int,
        n_output: int,
        max_norm: float | None,
        norm_type: float,
        mask_zero: bool = False,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_index, n_output))
        self.max_norm, self.norm_type, self.mask_zero = max_norm, norm_type, mask_zero

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        if indices.dim() not in (1, 2):
            raise ValueError(f"LookupTable input must be a vector or matrix, not {indices.dim()}D")
        # a float index is truncated, as nn's copy into a LongTensor
        rows = indices.long() - (0 if self.mask_zero else 1)
        out = F.embedding(rows, self.weight, max_norm=self.max_norm, norm_type=self.norm_type)
        return torch.where((rows != 0).unsqueeze(-1), out, 0) if self.mask_zero else out

    def extra_repr(self) -> str:
        mask = ", mask_zero=True" if self.mask_zero else ""
        return f"max_norm={self.max_norm}, norm_type={self.norm_type}{mask}"


def put_tensor(ctx, name: str, required: bool = True) -> np.ndarray | None:
    """The module's tensor field `name`, put under its path; a missing required one is refused."""
    value = ctx.tensor(name)
    if value is None and required:
        raise T7FormatError(f"{ctx.where} has no {name}")
    if value is not None:
        ctx.put(name, value)
    return value


@register_translation("nn.MulConstant")
def _mul_constant(m, ctx):
    return Constant("mul", float(ctx.field("constant_scalar")), bool(m.get("inplace", False)))


@register_translation("nn.AddConstant")
def _add_constant(m, ctx):
    return Constant("add", float(ctx.field("constant_scalar")), bool(m.get("inplace", False)))


@register_translation("nn.SAdd")
def _sadd(m, ctx):
    return SAdd(float(ctx.field("addend")), bool(m.get("negate", False)))


@register_translation("nn.Linear")
def _linear(m, ctx):
    weight, bias = put_tensor(ctx, "weight"), put_tensor(ctx, "bias", required=False)
    return uninitialised(nn.Linear, weight.shape[1], weight.shape[0], bias=bias is not None)


# Torch7 class -> (torch function, parameter field)
LEARNED = {
    "nn.Mul": ("mul", "weight"),
    "nn.CMul": ("mul", "weight"),
    "nn.Add": ("add", "bias"),
    "nn.CAdd": ("add", "bias"),
}


@register_translation(*LEARNED)
def _learned(m, ctx):
    op, name = LEARNED[f"nn.{short_class(m.class_name)}"]
    return Learned(op, name, put_tensor(ctx, name).shape)


@register_translation("nn.LookupTable", "nn.LookupTableMaskZero")
def _lookup_table(m, ctx):
    weight = put_tensor(ctx, "weight")
    max_norm = m.get("maxNorm")
    norm_type = float(m.get("normType") or 2)
    mask_zero = m.class_name.endswith("LookupTableMaskZero")  # rnn's: index 0 is padding
    return LookupTable(
        *weight.shape, None if max_norm is None else float(max_norm), norm_type, mask_zero
    )
