"""char-rnn (karpathy/char-rnn, util/OneHot.lua as of 6f9487a): its `OneHot`, the one class of
a char-rnn checkpoint that nn does not define (written without the nn. prefix, as the file
names it; MANIFEST-zoo3 §5.7 29). The LSTM/GRU/RNN cores of char-rnn are nngraph gModules of nn
classes, translated by the graph and layer translations. Its OneHot computes what dpnn's
nn.OneHot does on a 1-D input, so it is built as that module.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from converter.generic.layers.dpnn import OneHot
from converter.generic.registry import ModuleContext, register_translation
from converter.torch7.objects import T7Object


@register_translation("OneHot")
def _one_hot(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    (size,) = ctx.ints("outputSize")
    # the output has the module's type whatever type `_eye` was left in (:float() at a forward);
    # the rows of the identity are dpnn's one-hot rows, without a V x V buffer in the weights
    dtype = np.float64 if t7.get("_type") == "torch.DoubleTensor" else np.float32
    ctx.put("out_type", np.zeros(0, dtype))
    return OneHot(size)
