"""facebook/eyescream's SpatialConvolutionUpsample (cifar/layers, ad6f484), the upsampling layer
of its LAPGAN generators (MANIFEST-zoo3 §5.7, 30)."""

from __future__ import annotations

import torch
from torch import nn

from converter.generic.registry import register_translation, uninitialised


class SpatialConvolutionUpsample(nn.Conv2d):
    """SpatialConvolutionUpsample(nIn, nOut, kW, kH, f): a stride-1 'same' convolution to
    nOut·f² planes whose N x nOut·f² x h x w output is VIEWED as N x nOut x h·f x w·f (a raw
    reshape of the buffer, not a pixel shuffle)."""

    def __init__(self, n_in: int, n_out: int, kh: int, kw: int, factor: int, pad: tuple):
        super().__init__(n_in, n_out * factor * factor, (kh, kw), 1, pad)
        self.factor, self.planes = factor, n_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        f = self.factor
        if out.dim() == 3:
            return out.reshape(self.planes, out.shape[1] * f, out.shape[2] * f)
        return out.reshape(out.shape[0], self.planes, out.shape[2] * f, out.shape[3] * f)


@register_translation("nn.SpatialConvolutionUpsample")
def _conv_upsample(m, ctx):
    n_in, n_out, kw, kh, factor = ctx.ints("nInputPlaneU", "nOutputPlaneU", "kW", "kH", "factor")
    ctx.put("weight", ctx.tensor("weight").reshape(n_out * factor * factor, n_in, kh, kw))
    ctx.put("bias", ctx.tensor("bias"))
    pad = tuple(ctx.ints("padH", "padW"))
    return uninitialised(SpatialConvolutionUpsample, n_in, n_out, kh, kw, factor, pad)
