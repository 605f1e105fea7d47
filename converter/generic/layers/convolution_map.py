"""Per-plane convolutions of the 2011-era nn: connection-table maps and subsampling.

`nn.SpatialConvolutionMap` convolves chosen input planes into chosen output planes (its
`connTable`, 1-based); `nn.SpatialSubSampling` scales each plane's window sums. The face
detector and tracker demos of torch/demos are built of them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.layers.convolution import opt_int
from converter.generic.registry import register_translation
from converter.torch7.objects import T7Tensor


def connection_weight(m, ctx) -> tuple[np.ndarray, bool]:
    """The connection table as a dense (nOut, nIn, kH, kW) Conv2d weight: row k of `connTable`,
    {input plane, output plane} 1-based, puts `weight[k]` (a kH x kW cross-correlation kernel,
    as THNN applies it) at [out-1, in-1]. Also whether the table is one-to-one (plane i -> i),
    which is a depthwise convolution."""
    n_in, n_out, kw, kh = ctx.ints("nInputPlane", "nOutputPlane", "kW", "kH")
    table, weight = ctx.tensor("connTable"), ctx.tensor("weight")
    if table is None or weight is None:
        raise T7FormatError(f"{ctx.where} has no connTable or weight")
    table = table.reshape(-1, 2)
    if weight.size != table.shape[0] * kh * kw:
        raise T7FormatError(
            f"{ctx.where}: weight {weight.shape} does not hold {table.shape[0]} {kh}x{kw} kernels"
        )
    pairs = table.astype(np.int64)
    if (
        (pairs != table).any()
        or (pairs < 1).any()
        or (pairs[:, 0] > n_in).any()
        or (pairs[:, 1] > n_out).any()
    ):
        raise T7FormatError(
            f"{ctx.where}: connTable holds entries outside planes 1..{n_in} -> 1..{n_out}"
        )
    kernels = weight.reshape(-1, kh, kw)
    dense = np.zeros((n_out, n_in, kh, kw), dtype=weight.dtype)
    for (i, o), k in zip(pairs, kernels):
        dense[o - 1, i - 1] += k
    one_to_one = n_in == n_out and sorted(map(tuple, pairs)) == [(i, i) for i in range(1, n_in + 1)]
    return dense, one_to_one


@register_translation("nn.SpatialConvolutionMap")
def _conv_map(m, ctx):
    dense, one_to_one = connection_weight(m, ctx)
    n_out, n_in, kh, kw = dense.shape
    bias = ctx.tensor("bias")
    groups = n_in if one_to_one else 1
    conv = nn.Conv2d(
        n_in,
        n_out,
        (kh, kw),
        (opt_int(m, "dH", 1), opt_int(m, "dW", 1)),
        groups=groups,
        bias=bias is not None,
    )
    if one_to_one:
        dense = np.ascontiguousarray(dense[np.arange(n_in), np.arange(n_in)][:, None])
    ctx.put("weight", dense)
    if bias is not None:
        ctx.put("bias", bias)
    return conv


class SubSampling(nn.Module):
    """nn.SpatialSubSampling: y[c] = weight[c]·(sum of the kH x kW window of plane c) + bias[c],
    a sum, not a mean; (C,H,W) or (N,C,H,W) input."""

    def __init__(self, n_planes: int, kernel: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.weight = nn.Parameter(torch.empty(n_planes))
        self.bias = nn.Parameter(torch.empty(n_planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise ValueError(f"Torch7 SpatialSubSampling takes a 3D or 4D input, not {x.dim()}D")
        sums = F.avg_pool2d(x, self.kernel, self.stride, divisor_override=1)
        return sums * self.weight.view(-1, 1, 1) + self.bias.view(-1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, kernel={self.kernel}, stride={self.stride}"


def _plane_values(t, n: int, ctx, name: str) -> np.ndarray:
    """THNN reads `weight_data[k]`, k < nInputPlane, from the tensor's first element on: a 2012
    file's kH x kW-per-plane weight (all equal in the demos) gives its first n stored values."""
    if not isinstance(t, T7Tensor) or t.numel < n:
        raise T7FormatError(f"{ctx.where}: '{name}' does not hold nInputPlane={n} values")
    if t.numel == n:
        return t.numpy().reshape(n)
    return t.storage.read(t.offset, n).astype(t.dtype.newbyteorder("="))


@register_translation("nn.SpatialSubSampling")
def _subsampling(m, ctx):
    n, kw, kh = ctx.ints("nInputPlane", "kW", "kH")
    module = SubSampling(n, (kh, kw), (opt_int(m, "dH", 1), opt_int(m, "dW", 1)))
    ctx.put("weight", _plane_values(m.get("weight"), n, ctx, "weight"))
    ctx.put("bias", _plane_values(m.get("bias"), n, ctx, "bias"))
    return module
