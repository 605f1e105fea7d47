"""The stateless modules of Element-Research rnn: MaskZero/TrimZero (the module is in rnn_steps,
beside the steps it wraps), LinearNoBias and CopyGrad. SAdd and LookupTableMaskZero are
translated in converter.generic.layers.arithmetic, dpnn's ReverseTable and ZipTable (which
BiSequencer and BiSequencerLM hold between their Sequencers) in converter.generic.layers.dpnn.
"""

from __future__ import annotations

from torch import nn

from converter.generic.layers.arithmetic import put_tensor
from converter.generic.layers.containers import one_child
from converter.generic.layers.rnn_steps import MaskZero
from converter.generic.registry import register_translation, uninitialised


@register_translation("nn.MaskZero", "nn.TrimZero")
def _mask_zero(m, ctx):
    return MaskZero(one_child(ctx), *ctx.ints("nInputDim"))


@register_translation("nn.LinearNoBias")
def _linear_no_bias(m, ctx):
    weight = put_tensor(ctx, "weight")  # a bias field, if any, is one Torch7 never adds
    return uninitialised(nn.Linear, weight.shape[1], weight.shape[0], bias=False)


@register_translation("nn.CopyGrad")
def _copy_grad(m, ctx):
    return nn.Identity()  # it copies the gradient in backward; forward is the input
