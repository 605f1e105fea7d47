"""Padding: Spatial{Zero,Reflection,Replication}Padding and nn.Padding.

The spatial ones take (pad_l, pad_r, pad_t, pad_b), F.pad's order for the last two dims, on a
C x H x W sample or a batch; negative zero-padding crops. nn.Padding inserts |pad| entries of a
value along one dim, at a position counted from the end (pad > 0) or the start (pad < 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.registry import register_translation

_MODES = {
    "SpatialZeroPadding": "constant",
    "SpatialReflectionPadding": "reflect",
    "SpatialReplicationPadding": "replicate",
}


class SpatialPadding(nn.Module):
    def __init__(self, pads: tuple[int, int, int, int], mode: str):
        super().__init__()
        self.pads, self.mode = pads, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise ValueError(f"Torch7 spatial padding takes a 3D or 4D input, not {x.dim()}D")
        if self.mode == "reflect":
            h, w = x.shape[-2:]
            left, right, top, bottom = self.pads
            if max(left, right) >= w or max(top, bottom) >= h:
                # THNN does not check this and reads outside the tensor (MANIFEST-zoo2 §4)
                raise ValueError(
                    f"reflection padding {self.pads} needs an input larger than the pads, "
                    f"not {h}x{w} (Torch7 reads outside the tensor there)"
                )
        return F.pad(x, self.pads, self.mode)

    def extra_repr(self) -> str:
        return f"pads(l,r,t,b)={self.pads}, mode={self.mode}"


@register_translation(*(f"nn.{name}" for name in _MODES))
def _spatial_padding(m, ctx):
    pads = ctx.ints("pad_l", "pad_r", "pad_t", "pad_b")
    mode = _MODES[m.class_name.rpartition(".")[2]]
    return SpatialPadding(pads, mode)


class Padding(nn.Module):
    """nn.Padding(dim, pad, nInputDim, value, index): |pad| entries of `value` inserted along
    dim (1-based; one more when the input's rank is not nInputDim, i.e. it has a batch dim).
    For pad > 0 the insertion point counts from the end (index 1: after the last element), for
    pad < 0 from the start (index 1: before the first)."""

    def __init__(self, dim: int, pad: int, n_input_dim: int | None, value: float, index: int):
        super().__init__()
        self.dim, self.pad, self.n_input_dim = dim, pad, n_input_dim
        self.value, self.index = value, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim
        if self.n_input_dim is not None and x.dim() != self.n_input_dim:
            dim += 1
        if not 1 <= dim <= x.dim():
            raise ValueError(f"Padding of dim {dim} on a {x.dim()}D input")
        d, size = dim - 1, x.shape[dim - 1]
        # 1-based position the padding starts at, as Padding.lua computes it
        at = size - self.index + 2 if self.pad > 0 else self.index
        if not 1 <= at <= size + 1:
            raise ValueError(f"Padding index {self.index} is outside dim {dim} of size {size}")
        shape = list(x.shape)
        shape[d] = abs(self.pad)
        fill = torch.full(shape, self.value, dtype=x.dtype, device=x.device)
        before, after = x.narrow(d, 0, at - 1), x.narrow(d, at - 1, size - at + 1)
        return torch.cat([before, fill, after], d)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, pad={self.pad}, n_input_dim={self.n_input_dim}, "
            f"value={self.value}, index={self.index}"
        )


@register_translation("nn.Padding")
def _padding(m, ctx):
    dim, pad = ctx.ints("dim", "pad")
    n_input_dim = m.get("nInputDim")
    return Padding(
        dim,
        pad,
        None if n_input_dim is None else int(n_input_dim),
        float(m.get("value", 0)),
        int(m.get("index", 1)),
    )
