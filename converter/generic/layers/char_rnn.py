"""char-rnn (karpathy/char-rnn, util/OneHot.lua as of 6f9487a): its `OneHot`, the one class of
a char-rnn checkpoint that nn does not define (written without the nn. prefix, as the file
names it; MANIFEST-zoo3 §5.7 29). The LSTM/GRU/RNN cores of char-rnn are nngraph gModules of nn
classes, translated by the graph and layer translations.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from converter.generic.registry import ModuleContext, register_translation
from converter.torch7.objects import T7Object


class OneHot(nn.Module):
    """OneHot(V): a 1-D tensor of N 1-based ids (any numeric type, as char-rnn feeds them) to
    N x V rows of the identity `eye` (the module's type: Float, or Double after :double())."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("eye", torch.empty(size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.eye.index_select(0, x.long() - 1)


@register_translation("OneHot")
def _one_hot(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    (size,) = ctx.ints("outputSize")
    # the output has the module's type whatever type `_eye` was left in (:float() at a forward)
    dtype = np.float64 if t7.get("_type") == "torch.DoubleTensor" else np.float32
    ctx.put("eye", np.eye(size, dtype=dtype))
    return OneHot(size)
