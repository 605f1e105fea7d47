"""The classes DmitryUlyanov/texture_nets defines in its own Lua code, in both of its eras
(MANIFEST-zoo3 §5.9): SpatialCircularPadding, GenNoise, NoiseFill (InstanceNormalization is
CycleGAN's, in normalization.py).

The two eras' SpatialCircularPadding store the same fields. HEAD (aad2cc6) pads truly
circularly; the 2016 class (097df07, the era of the published models) copies only one row and
column per side, which is the same thing for pads of 0 or 1 (every published net) and leaves
zeros for larger pads. A file cannot tell which it was, so HEAD's is built in and the 2016 one
is `circular_padding_2016`, to register in a plugin for a 2016 net with pads above 1:

    from converter import register_translation
    from converter.generic.layers.texture_nets import circular_padding_2016
    register_translation("nn.SpatialCircularPadding")(circular_padding_2016)

GenNoise and NoiseFill draw random numbers from Torch's generator, which PyTorch's cannot
reproduce: they translate to modules that draw the same distributions, exactly equal to Torch7
only where the result does not depend on the draw (action 'zero', mult = 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.registry import register_translation


class SpatialCircularPadding(nn.Module):
    """HEAD SpatialCircularPadding(l, r, t, b) on N x C x H x W: rows wrap around first, then
    the columns of the row-padded map (so corners wrap both ways)."""

    def __init__(self, pads: tuple[int, int, int, int]):
        super().__init__()
        self.pads = pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads, mode="circular")

    def extra_repr(self) -> str:
        return "l={}, r={}, t={}, b={}".format(*self.pads)


class SpatialCircularPadding2016(SpatialCircularPadding):
    """2016 SpatialCircularPadding(l, r, t, b) on N x C x H x W: zero padding, then row 1 <-
    row H'-1 and row H' <- row 2, then column 1 <- column W'-1 and column W' <- column 2 of the
    padded output (H' x W'): exact wrap-around for pads of 1, inner pad rows zero above."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"SpatialCircularPadding takes a 4-D input, not {x.dim()}-D")
        out = F.pad(x, self.pads)
        out = torch.cat([out[:, :, -2:-1], out[:, :, 1:-1], out[:, :, 1:2]], dim=2)
        return torch.cat([out[..., -2:-1], out[..., 1:-1], out[..., 1:2]], dim=3)


class GenNoise(nn.Module):
    """2016 GenNoise: the input itself filled IN PLACE with U[0, 1) noise (`action` 'zero':
    zeros; 'fix': the stored `fix_value`). HEAD GenNoise(num_planes): a new N x num_planes x
    H x W tensor of N(0, 1)·mult noise, the input's values ignored."""

    def __init__(self, action: str | None, planes: int | None, mult: float):
        super().__init__()
        self.action, self.planes, self.mult = action, planes, mult

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.planes is not None:
            shape = (x.shape[0], self.planes, *x.shape[2:])
            return torch.randn(shape, dtype=x.dtype, device=x.device) * self.mult
        if self.action == "zero":
            return x.zero_()
        if self.action == "fix":
            return x.copy_(self.fix_value)
        return x.uniform_()

    def extra_repr(self) -> str:
        return f"action={self.action}, planes={self.planes}, mult={self.mult}"


class NoiseFill(nn.Module):
    """HEAD NoiseFill(k): a copy of the input whose last k channels are U[0, 1)·mult noise."""

    def __init__(self, channels: int, mult: float):
        super().__init__()
        self.channels, self.mult = channels, mult

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        if self.channels:
            out[:, -self.channels :] = torch.rand_like(out[:, -self.channels :]) * self.mult
        return out

    def extra_repr(self) -> str:
        return f"channels={self.channels}, mult={self.mult}"


@register_translation("nn.SpatialCircularPadding")
def circular_padding(m, ctx):
    return SpatialCircularPadding(ctx.ints("pad_l", "pad_r", "pad_t", "pad_b"))


def circular_padding_2016(m, ctx):
    """The translation for a net written by the 2016 texture_nets (see the module docstring)."""
    return SpatialCircularPadding2016(ctx.ints("pad_l", "pad_r", "pad_t", "pad_b"))


def _unfixed(m) -> str | None:
    if m.get("action") == "fix" and m.get("fix_value") is None:
        return "nn.GenNoise (action='fix' before its first forward drew fix_value)"
    return None


@register_translation("nn.GenNoise", check=_unfixed)
def _gen_noise(m, ctx):
    planes = m.get("num_planes")
    module = GenNoise(
        m.get("action"), None if planes is None else int(planes), float(m.get("mult", 1.0))
    )
    if module.action == "fix":
        module.register_buffer("fix_value", torch.empty(ctx.tensor("fix_value").shape))
        ctx.put("fix_value", ctx.tensor("fix_value"))
    return module


@register_translation("nn.NoiseFill")
def _noise_fill(m, ctx):
    return NoiseFill(*ctx.ints("num_noise_channels"), float(m.get("mult", 1.0)))
