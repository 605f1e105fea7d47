"""Convolutions: nn.SpatialConvolution(MM) and cudnn's, grouped included.

Kernels come in every layout Torch7 files carry (2-D MM weights of older files, 2013-era
padding) through converter.torch7.legacy, which the IRv2 mapping reads them with too.
"""

from __future__ import annotations

from torch import nn

from converter.generic.registry import register_translation
from converter.torch7.legacy import conv_padding, conv_weight


@register_translation("nn.SpatialConvolution", "nn.SpatialConvolutionMM")
def _conv(m, ctx):
    weight = conv_weight(m, ctx.where)
    kh, kw = weight.shape[2:]
    dw, dh = ctx.ints("dW", "dH")
    padh, padw = conv_padding(m, ctx.where)
    groups = int(m.get("groups", 1))
    bias = ctx.tensor("bias")
    conv = nn.Conv2d(
        weight.shape[1] * groups,
        weight.shape[0],
        (kh, kw),
        (dh, dw),
        (padh, padw),
        groups=groups,
        bias=bias is not None,
    )
    ctx.put("weight", weight)
    if bias is not None:
        ctx.put("bias", bias)
    return conv
