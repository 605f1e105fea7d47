"""Tensor forms that older Torch7 files carry, brought to today's layout.

Shared by the mapping-table converter and the generic translator, so both read a 2015 file
the same way.
"""

from __future__ import annotations

import numpy as np

from converter.errors import T7FormatError
from converter.torch7.objects import T7Object, T7Tensor


def conv_weight(module: T7Object, where: str) -> np.ndarray:
    """(nOut, nIn, kH, kW) weight; `SpatialConvolutionMM` may store it flat as (nOut, nIn*kH*kW)."""
    weight = module["weight"].numpy()
    if weight.ndim == 2:
        shape = tuple(int(module.get(k, -1)) for k in ("nOutputPlane", "nInputPlane", "kH", "kW"))
        if np.prod(shape) != weight.size or min(shape) < 1:
            raise T7FormatError(
                f"{where}: 2-D convolution weight {weight.shape} does not match its fields "
                f"nOutputPlane/nInputPlane/kH/kW = {shape}"
            )
        weight = weight.reshape(shape)
    return weight


def conv_padding(module: T7Object) -> tuple[int, int]:
    """(padH, padW); 2013-era SpatialConvolutionMM had one symmetric `padding` field instead."""
    pad = int(module.get("padding", 0) or 0)
    return int(module.get("padH", pad)), int(module.get("padW", pad))


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
        return np.power(s, s.dtype.type(-2)) - s.dtype.type(module.get("eps", 1e-5))
    return None
