"""t7convert plugin example for a class of one's own Lua code made without a package prefix
(`torch.class('Scale', 'nn.Module')`, as char-rnn made its `OneHot`): registered under the
name the file holds, "Scale". Its one field `factor` multiplies the input.

    t7convert model.t7 model.pt2 --generic --plugin scale.py --input-shape 3,8,8
    # or: converter.load_plugin("scale.py"); converter.translate("model.t7")
"""

from __future__ import annotations

import torch
from torch import nn

from converter import register_translation


class Scale(nn.Module):
    """output = input * factor (a number the Lua object stores)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


@register_translation("Scale")
def scale(t7, ctx):  # noqa: ANN001, ANN201
    return Scale(float(ctx.field("factor")))
