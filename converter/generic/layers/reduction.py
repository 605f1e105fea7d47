"""Reductions along one dimension: nn.Sum, nn.Mean, nn.Max, nn.Min.

The dimension is resolved per input (dims.batch_shifted: negative from the end, shifted by one
for a batch when nInputDims is set). The reduced dim is removed unless the input is 1-D: Torch7
has no 0-D tensors, so a vector reduces to a 1-element vector.
"""

from __future__ import annotations

import torch
from torch import nn

from converter.generic.layers.dims import batch_shifted, optional_int
from converter.generic.registry import register_translation


class Reduce(nn.Module):
    """`op` ("sum", "amax", "amin") over the resolved dim; `average` divides a sum by its size
    (Sum's sizeAverage, Mean); `squeeze=False` keeps the reduced dim (Sum's squeeze flag)."""

    def __init__(
        self,
        op: str,
        dimension: int,
        n_input_dims: int | None,
        average: bool = False,
        squeeze: bool = True,
    ):
        super().__init__()
        self.op, self.dimension, self.n_input_dims = op, dimension, n_input_dims
        self.average, self.squeeze = average, squeeze

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = batch_shifted(self.dimension, self.n_input_dims, x.dim())
        if not 0 <= dim < x.dim():
            raise ValueError(f"dimension {self.dimension} exceeds a {x.dim()}-D input")
        out = getattr(torch, self.op)(x, dim, keepdim=True)
        if self.average:
            out = out / x.shape[dim]
        return out.squeeze(dim) if self.squeeze and out.dim() > 1 else out

    def extra_repr(self) -> str:
        return (
            f"op={self.op}, dimension={self.dimension}, n_input_dims={self.n_input_dims}, "
            f"average={self.average}, squeeze={self.squeeze}"
        )


def _dims(m) -> tuple[int, int | None]:
    # both fields may be missing in old files: dimension 1, no batch shift
    return int(m.get("dimension", 1)), optional_int(m.get("nInputDims"))


@register_translation("nn.Sum", "nn.Mean")
def _sum(m, ctx):
    # Mean is Sum with sizeAverage=true; 2014-era Mean has no sizeAverage field
    average = bool(m.get("sizeAverage", m.class_name.endswith("Mean")))
    return Reduce("sum", *_dims(m), average, bool(m.get("squeeze", True)))


@register_translation("nn.Max")
def _max(m, ctx):
    return Reduce("amax", *_dims(m))


@register_translation("nn.Min")
def _min(m, ctx):
    return Reduce("amin", *_dims(m))
