"""Dropout, in both of the forms Torch7 files carry (v1 scales at evaluation, v2 in training), and
the channel-wise SpatialDropout / VolumetricDropout, which always scale at evaluation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.registry import register_translation


class DropoutV1(nn.Module):
    """nn.Dropout(p, true): unscaled mask in training, output scaled by (1-p) at evaluation."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return F.dropout(x, self.p, training=True) * (1 - self.p)
        return x * (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ChannelDropout(nn.Module):
    """nn.SpatialDropout(p) / nn.VolumetricDropout(p): whole planes zeroed in training (one
    unscaled mask value per sample and channel, or per channel of a single sample), the output
    scaled by (1-p) at evaluation (PyTorch's Dropout2d/3d are the identity there)."""

    def __init__(self, p: float, sample_dims: int):
        super().__init__()
        self.p, self.sample_dims = p, sample_dims  # 3 (C,H,W) or 4 (C,T,H,W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x * (1 - self.p)
        if x.dim() not in (self.sample_dims, self.sample_dims + 1):
            raise ValueError(f"channel dropout takes {self.sample_dims}D or batched input")
        planes = x.dim() - self.sample_dims + 1  # channel dim and, for a batch, the batch dim
        mask = x.new_empty(x.shape[:planes] + (1,) * (x.dim() - planes))
        return x * mask.bernoulli_(1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _random_at_evaluation(m) -> str | None:
    if m.get("stochastic_inference"):
        return f"{m.class_name}(stochastic_inference=true)"  # no deterministic equivalent
    return None


@register_translation("nn.Dropout", check=_random_at_evaluation)
def _dropout(m, ctx):
    p = float(m.get("p", 0.5))
    # a file without `v2` predates it: its class scaled at evaluation (v1), and so does nn today
    return nn.Dropout(p) if m.get("v2") else DropoutV1(p)


@register_translation("nn.SpatialDropout", check=_random_at_evaluation)
def _spatial_dropout(m, ctx):
    return ChannelDropout(float(m.get("p", 0.5)), sample_dims=3)


@register_translation("nn.VolumetricDropout", check=_random_at_evaluation)
def _volumetric_dropout(m, ctx):
    return ChannelDropout(float(m.get("p", 0.5)), sample_dims=4)
