"""Dropout, in both of the forms Torch7 files carry (v1 scales at evaluation, v2 in training)."""

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


def _random_at_evaluation(m) -> str | None:
    if m.get("stochastic_inference"):
        return f"{m.class_name}(stochastic_inference=true)"  # no deterministic equivalent
    return None


@register_translation("nn.Dropout", check=_random_at_evaluation)
def _dropout(m, ctx):
    p = float(m.get("p", 0.5))
    # a file without `v2` predates it: its class scaled at evaluation (v1), and so does nn today
    return nn.Dropout(p) if m.get("v2") else DropoutV1(p)
