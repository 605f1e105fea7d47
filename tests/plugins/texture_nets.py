"""t7convert plugin for the classes DmitryUlyanov/texture_nets defines in its own Lua code
(src/utils.lua): nn.SpatialCircularPadding and nn.GenNoise.

    t7convert style.t7 style.pt2 --generic --plugin texture_nets.py --input-shape 3,256,256
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter import register_translation


class SpatialCircularPadding(nn.Module):
    """texture_nets' SpatialCircularPadding(l, r, t, b) on N x C x H x W: zero padding (negative
    values crop), then, as its updateOutput does, row 1 <- row H'-1 and row H' <- row 2, then
    column 1 <- column W'-1 and column W' <- column 2 of the padded output (H' x W'). That
    wraps exactly one pixel around; with a padding of 2 or more the inner rows stay zero."""

    def __init__(self, pads: tuple[int, int, int, int]):
        super().__init__()
        self.pads = pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"SpatialCircularPadding takes a 4-D input, not {x.dim()}-D")
        out = F.pad(x, self.pads)
        out = torch.cat([out[:, :, -2:-1], out[:, :, 1:-1], out[:, :, 1:2]], dim=2)
        return torch.cat([out[..., -2:-1], out[..., 1:-1], out[..., 1:2]], dim=3)

    def extra_repr(self) -> str:
        return "l={}, r={}, t={}, b={}".format(*self.pads)


class GenNoise(nn.Module):
    """texture_nets' GenNoise: noise of the input's shape, U[0, 1) (`action` 'zero': zeros;
    'fix': the stored `fix_value`). The multi-scale generators' other GenNoise(num_planes)
    draws N(0, 1)·mult with num_planes channels. Random by design: each call draws anew."""

    def __init__(self, action: str | None, planes: int | None, mult: float):
        super().__init__()
        self.action, self.planes, self.mult = action, planes, mult

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.planes is not None:
            shape = (x.shape[0], self.planes, *x.shape[2:])
            return torch.randn(shape, dtype=x.dtype, device=x.device) * self.mult
        if self.action == "zero":
            return torch.zeros_like(x)
        if self.action == "fix":
            return self.fix_value.clone()
        return torch.rand_like(x)


@register_translation("nn.SpatialCircularPadding")
def circular_padding(t7, ctx):  # noqa: ANN001, ANN201
    return SpatialCircularPadding(ctx.ints("pad_l", "pad_r", "pad_t", "pad_b"))


def _unfixed(t7) -> str | None:  # noqa: ANN001
    if t7.get("action") == "fix" and t7.get("fix_value") is None:
        return "nn.GenNoise (action='fix' before its first forward drew fix_value)"
    return None


@register_translation("nn.GenNoise", check=_unfixed)
def gen_noise(t7, ctx):  # noqa: ANN001, ANN201
    planes = t7.get("num_planes")
    module = GenNoise(
        t7.get("action"), None if planes is None else int(planes), float(t7.get("mult", 1.0))
    )
    if module.action == "fix":
        module.register_buffer("fix_value", torch.empty(0))
        ctx.put("fix_value", ctx.tensor("fix_value"))
    return module
