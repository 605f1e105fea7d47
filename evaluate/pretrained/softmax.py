"""nn.SoftMax's arithmetic (THNN, what classify.lua appends to the model), not torch.softmax's.

THNN takes the row's max, `z = (float)exp((double)(x - max))` with `x - max` in float32, sums
the float `z` in double and writes `(float)(z * (1.0 / sum))`. On Torch7's own logits this gives
its probabilities bit for bit (tests/test_pretrained.py), so probabilities differ from
Torch7's only as much as the logits do.
"""

from __future__ import annotations

import torch


def torch7_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Probabilities of a batch of logits (N x C, any float dtype), float32 N x C."""
    x = logits.float()
    z = (x - x.max(dim=1, keepdim=True).values).double().exp().float()
    total = z.double().sum(dim=1, keepdim=True)
    return (z.double() * (1.0 / total)).float()
