"""Activations: ReLU/Threshold, Tanh, Sigmoid and SoftMax/LogSoftMax with THNN's dimension rule."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.registry import register_translation


class SoftMax(nn.Module):
    """nn.SoftMax / nn.LogSoftMax: THNN normalises dim 0 of 1-D and 3-D (C,H,W) inputs, dim 1 of
    2-D and 4-D ones, and refuses any other rank."""

    def __init__(self, log: bool = False):
        super().__init__()
        self.log = log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not 1 <= x.dim() <= 4:
            raise ValueError(f"Torch7 SoftMax takes a 1D, 2D, 3D or 4D tensor, not {x.dim()}D")
        dim = 0 if x.dim() in (1, 3) else 1
        return F.log_softmax(x, dim) if self.log else F.softmax(x, dim)

    def extra_repr(self) -> str:
        return f"log={self.log}"


@register_translation("nn.ReLU")
def _relu(m, ctx):
    # nn.ReLU is Threshold(0, 0); cudnn.ReLU stores neither field
    threshold, value = float(m.get("threshold", 0)), float(m.get("val", 0))
    inplace = bool(m.get("inplace", False))
    if threshold or value:
        return nn.Threshold(threshold, value, inplace)
    return nn.ReLU(inplace)


@register_translation("nn.Threshold")
def _threshold(m, ctx):
    return nn.Threshold(
        float(ctx.field("threshold")), float(ctx.field("val")), bool(m.get("inplace", False))
    )


@register_translation("nn.Tanh")
def _tanh(m, ctx):
    return nn.Tanh()


@register_translation("nn.Sigmoid")
def _sigmoid(m, ctx):
    return nn.Sigmoid()


@register_translation("nn.SoftMax")
def _softmax(m, ctx):
    return SoftMax()


@register_translation("nn.LogSoftMax")
def _log_softmax(m, ctx):
    return SoftMax(log=True)
