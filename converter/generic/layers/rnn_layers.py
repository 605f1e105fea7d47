"""The stateless modules of Element-Research rnn and the table modules its wirings use:
MaskZero/TrimZero (the module is in rnn_steps, beside the steps it wraps), LinearNoBias, SAdd,
CopyGrad, and dpnn's ReverseTable and ZipTable (BiSequencer and BiSequencerLM hold them between
their Sequencers). LookupTableMaskZero is translated with nn.LookupTable
(converter.generic.layers.arithmetic).
"""

from __future__ import annotations

import torch
from torch import nn

from converter.generic.layers.arithmetic import put_tensor
from converter.generic.layers.containers import one_child
from converter.generic.layers.rnn_steps import MaskZero
from converter.generic.registry import register_translation


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
