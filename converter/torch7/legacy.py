"""Tensor forms that older Torch7 files carry, brought to today's layout.

Shared by the mapping-table converter and the generic translator, so both read a 2015 file
the same way.
"""

from __future__ import annotations

import numpy as np

from converter.errors import T7FormatError
from converter.torch7.objects import T7Object, T7Tensor, kind_of


def conv_weight(module: T7Object, where: str) -> np.ndarray:
    """(nOut, nIn, kH, kW) weight; `SpatialConvolutionMM` may store it flat as (nOut, nIn*kH*kW)."""
    tensor = module.get("weight")
    if not isinstance(tensor, T7Tensor):
        raise T7FormatError(f"{where}: its weight is {kind_of(tensor)}, not a tensor")
    weight = tensor.numpy()
    if weight.ndim == 2:
        names = ("nOutputPlane", "nInputPlane", "kH", "kW")
        shape = tuple(module.integer(k, -1, where) for k in names)
        if np.prod(shape) != weight.size or min(shape) < 1:
            raise T7FormatError(
                f"{where}: 2-D convolution weight {weight.shape} does not match its fields "
                f"nOutputPlane/nInputPlane/kH/kW = {shape}"
            )
        weight = weight.reshape(shape)
    if weight.ndim != 4:
        raise T7FormatError(f"{where}: a {weight.ndim}-D convolution weight; expected 4-D or 2-D")
    return weight


def conv_padding(module: T7Object, where: str = "") -> tuple[int, int]:
    """(padH, padW); 2013-era SpatialConvolutionMM had one symmetric `padding` field instead."""
    pad = module.integer("padding", 0, where) if module.get("padding") else 0
    return module.integer("padH", pad, where), module.integer("padW", pad, where)


def bn_running_var(module: T7Object) -> np.ndarray | None:
    """Running variance; pre-2016 files store `running_std`, an inverse std with eps inside.

    nn's own upgrade path (SpatialBatchNormalization.read since 4d2496d) computes
    var = running_std^-2 - eps in the tensor's precision; doing the same keeps outputs bitwise.
    """
    var = module.get("running_var")
    if isinstance(var, T7Tensor) and var.numel:
        return var.numpy()
    std = module.get("running_std")
    if isinstance(std, T7Tensor) and std.numel:
        s = std.numpy()
        if s.dtype.kind != "f":
            raise T7FormatError(f"{module.class_name}: its running_std is a {std.class_name}")
        return np.power(s, s.dtype.type(-2)) - s.dtype.type(module.number("eps", 1e-5))
    return None
