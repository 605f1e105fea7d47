"""Classes jcjohnson/fast-neural-style defines for its transformer networks (fast_neural_style/
*.lua, 813c834) besides InstanceNormalization (normalization.py): ShaveImage crops the border
its unpadded residual convolutions leave; TotalVariation is a training-time regulariser that
acts only in the backward pass, its forward is the input itself.
"""

from __future__ import annotations

import torch
from torch import nn

from converter.generic.registry import register_translation


class ShaveImage(nn.Module):
    """nn.ShaveImage(s) on N x C x H x W: rows and columns s+1 .. H-s / W-s (1-based) kept."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.size
        return x[:, :, s : x.shape[2] - s, s : x.shape[3] - s]

    def extra_repr(self) -> str:
        return f"size={self.size}"


@register_translation("nn.ShaveImage")
def _shave_image(m, ctx):
    return ShaveImage(*ctx.ints("size"))


@register_translation("nn.TotalVariation")
def _total_variation(m, ctx):
    return nn.Identity()
