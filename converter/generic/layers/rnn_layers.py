"""The stateless modules of Element-Research rnn and the table modules its wirings use:
MaskZero/TrimZero, LinearNoBias, SAdd, CopyGrad, and dpnn's ReverseTable and ZipTable
(BiSequencer and BiSequencerLM hold them between their Sequencers). LookupTableMaskZero is
translated with nn.LookupTable (converter.generic.layers.arithmetic).

rnn's masking is its padding convention: a sample whose input is an all-zero vector gives an
all-zero output (index 0 of LookupTableMaskZero gives that zero vector), and inside a recurrent
step the zeroed h and c restart that sequence from zero state.
"""

from __future__ import annotations

import torch
from torch import nn

from converter.generic.layers.arithmetic import put_tensor
from converter.generic.layers.containers import one_child
from converter.generic.registry import register_translation


def _first_tensor(x):  # noqa: ANN001, ANN202 - a tensor or nested lists of them
    """The first tensor, depth first (rnn's recursiveGetFirst)."""
    while isinstance(x, (list, tuple)):
        x = x[0]
    return x


def _masked(out, keep: torch.Tensor):  # noqa: ANN001, ANN202 - a tensor or nested lists
    """`out` with the samples where `keep` is False set to 0 (every tensor of a table)."""
    if isinstance(out, (list, tuple)):
        return [_masked(o, keep) for o in out]
    return torch.where(keep.view(keep.shape + (1,) * (out.dim() - keep.dim())), out, 0)


class MaskZero(nn.Module):
    """rnn's nn.MaskZero(m, nInputDim) and nn.TrimZero (same numbers): m's outputs, zeroed for
    the samples whose input (its first tensor, depth first) is all zeros. An input of
    nInputDim+1 dims is a batch (one mask value per sample), of nInputDim dims one sample."""

    def __init__(self, module: nn.Module, n_input_dim: int):
        super().__init__()
        self.add_module("1", module)
        self.n_input_dim = n_input_dim

    def forward(self, x):  # noqa: ANN001, ANN201
        first = _first_tensor(x)
        if first.dim() == self.n_input_dim + 1:
            keep = (first.reshape(first.shape[0], -1) != 0).any(1)
        elif first.dim() == self.n_input_dim:
            keep = (first != 0).any()
        else:
            raise ValueError(f"MaskZero({self.n_input_dim}) got a {first.dim()}-D input")
        return _masked(self._modules["1"](x), keep)

    def extra_repr(self) -> str:
        return f"n_input_dim={self.n_input_dim}"


class SAdd(nn.Module):
    """rnn's nn.SAdd(addend, negate): x + addend, negated when `negate` (GRU's 1 - z)."""

    def __init__(self, addend: float, negate: bool):
        super().__init__()
        self.addend, self.negate = addend, negate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.addend
        return -out if self.negate else out

    def extra_repr(self) -> str:
        return f"addend={self.addend}, negate={self.negate}"


class ReverseTable(nn.Module):
    """dpnn's nn.ReverseTable: the table's entries in reverse order."""

    def forward(self, xs: list) -> list:
        return list(reversed(xs))


class ZipTable(nn.Module):
    """dpnn's nn.ZipTable: {{a1, a2}, {b1, b2}} -> {{a1, b1}, {a2, b2}} (entry j of every table,
    for each j of any of them)."""

    def forward(self, tables: list) -> list:
        zipped: list[list] = []
        for table in tables:
            for j, x in enumerate(table):
                if j == len(zipped):
                    zipped.append([])
                zipped[j].append(x)
        return zipped


@register_translation("nn.MaskZero", "nn.TrimZero")
def _mask_zero(m, ctx):
    return MaskZero(one_child(ctx), *ctx.ints("nInputDim"))


@register_translation("nn.LinearNoBias")
def _linear_no_bias(m, ctx):
    weight = put_tensor(ctx, "weight")  # a bias field, if any, is one Torch7 never adds
    return nn.Linear(weight.shape[1], weight.shape[0], bias=False)


@register_translation("nn.SAdd")
def _sadd(m, ctx):
    return SAdd(float(ctx.field("addend")), bool(m.get("negate", False)))


@register_translation("nn.CopyGrad")
def _copy_grad(m, ctx):
    return nn.Identity()  # it copies the gradient in backward; forward is the input


@register_translation("nn.ReverseTable")
def _reverse_table(m, ctx):
    return ReverseTable()


@register_translation("nn.ZipTable")
def _zip_table(m, ctx):
    return ZipTable()
