"""Resampling: nearest and bilinear upsampling, and max-unpooling bound to its pooling module.

Both upsamplings take a C x H x W sample or a batch. Bilinear is THNN's align-corners mapping
(src = dst·(in-1)/(out-1)), to H·s x W·s or to the stored {oheight, owidth}.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.layers.pooling import MaxPool
from converter.generic.registry import register_translation
from converter.torch7.modules import short_class
from converter.torch7.objects import T7Object


def _spatial(x: torch.Tensor, what: str) -> None:
    if x.dim() not in (3, 4):
        raise ValueError(f"Torch7 {what} takes a 3D or 4D input, not {x.dim()}D")


class UpSamplingNearest(nn.Module):
    """nn.SpatialUpSamplingNearest(s): every pixel repeated s x s."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _spatial(x, "SpatialUpSamplingNearest")
        return x.repeat_interleave(self.scale, -2).repeat_interleave(self.scale, -1)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


@register_translation("nn.SpatialUpSamplingNearest")
def _up_nearest(m, ctx):
    return UpSamplingNearest(int(ctx.field("scale_factor")))


class UpSamplingBilinear(nn.Module):
    """nn.SpatialUpSamplingBilinear(s) or ({oheight=, owidth=})."""

    def __init__(self, scale: int | None, size: tuple[int, int] | None):
        super().__init__()
        self.scale, self.size = scale, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _spatial(x, "SpatialUpSamplingBilinear")
        if x.dim() == 3:
            return self(x.unsqueeze(0)).squeeze(0)
        h, w = x.shape[-2:]
        size = self.size or (h * self.scale, w * self.scale)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, size={self.size}"


@register_translation("nn.SpatialUpSamplingBilinear")
def _up_bilinear(m, ctx):
    scale = m.get("scale_factor")
    if scale is not None:
        return UpSamplingBilinear(int(scale), None)
    return UpSamplingBilinear(None, ctx.ints("oheight", "owidth"))


class MaxUnpooling(nn.Module):
    """nn.SpatialMaxUnpooling(pool): scatters each value to where `pool`'s most recent forward
    found its maximum, in an output of that forward's input size; zeros elsewhere.

    `pool` is the translated nn.SpatialMaxPooling it is bound to (the same Torch7 object, and so
    the same module, elsewhere in the tree), held outside this module's children. Torch7 sizes
    the output by the pool's `iheight/iwidth` fields, which a reloaded file has from its last
    forward before saving and updates only when the bound pool runs; on inputs of that size the
    two agree, on others this follows the pool's actual input.
    """

    def __init__(self, pool: MaxPool):
        super().__init__()
        if pool.record is None:
            pool.record = {}
        object.__setattr__(self, "pool", pool)  # not a child: it runs where the tree has it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        record = self.pool.record
        indices = record.pop("indices", None)  # taken: no tensor outlives the forward
        if indices is None:
            raise RuntimeError("SpatialMaxUnpooling runs before its SpatialMaxPooling has run")
        if indices.shape != x.shape:
            raise ValueError(
                f"SpatialMaxUnpooling input {tuple(x.shape)} is not the shape of its pooling "
                f"module's output {tuple(indices.shape)}"
            )
        h, w = record["size"]
        flat = x.new_zeros(*x.shape[:-2], h * w)
        flat = flat.scatter(-1, indices.flatten(-2), x.flatten(-2))
        return flat.view(*x.shape[:-2], h, w)


def _bound_pool(m) -> str | None:
    pool = m.get("pooling")
    if not isinstance(pool, T7Object) or short_class(pool.class_name) != "SpatialMaxPooling":
        return f"{m.class_name} without its nn.SpatialMaxPooling (field 'pooling')"
    if (pool.get("kW"), pool.get("kH")) != (pool.get("dW"), pool.get("dH")):
        return f"{m.class_name} bound to a pooling whose kernel is not its stride"
    return None


@register_translation("nn.SpatialMaxUnpooling", check=_bound_pool, inner=("pooling",))
def _max_unpool(m, ctx):
    # the same Torch7 object as the pool in the tree: translated once, the same module
    pool = ctx.submodule("pooling")
    if not isinstance(pool, MaxPool):
        raise T7FormatError(
            f"{ctx.where}: its pooling module translated to a {type(pool).__name__}"
        )
    return MaxUnpooling(pool)
