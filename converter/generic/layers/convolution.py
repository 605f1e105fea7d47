"""Convolutions: spatial (MM, dilated, cudnn's grouped), full (transposed), volumetric, temporal.

Torch7 names every geometry argument W before H (`kW, kH, dW, dH, padW, padH`; volumetric
`kT, kW, kH, ...`); weights are laid out the other way round, (nOut, nIn, [kT,] kH, kW), and a
full convolution's weight is (nIn, nOut, [kT,] kH, kW), which is ConvTranspose's. Kernels in
every layout Torch7 files carry (2-D MM weights, 2013-era padding, fields that older nn did not
store yet) come through converter.torch7.legacy, which the IRv2 mapping reads them with too.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation, uninitialised
from converter.torch7.legacy import conv_padding, conv_weight


def opt_int(m, name: str, default: int) -> int:
    """A geometry field that older nn versions did not store, with the default nn ran them with
    (a 2012 SpatialConvolutionMM has no dW/dH/padW/padH: stride 1, no padding)."""
    value = m.get(name)
    return default if value is None else int(value)


def shaped_weight(m, ctx, shape: tuple[int, ...]) -> np.ndarray:
    """The weight in `shape`; a flat (MM) weight of the same size is reshaped, others refused."""
    weight = ctx.tensor("weight")
    if weight is None:
        raise T7FormatError(f"{ctx.where} has no weight")
    if weight.shape != shape:
        if weight.size != math.prod(shape):
            raise T7FormatError(
                f"{ctx.where}: weight {weight.shape} does not match its fields {shape}"
            )
        weight = weight.reshape(shape)
    return weight


def put_params(ctx, weight: np.ndarray, bias: np.ndarray | None) -> None:
    ctx.put("weight", weight)
    if bias is not None:
        ctx.put("bias", bias)


@register_translation("nn.SpatialConvolution", "nn.SpatialConvolutionMM")
def _conv(m, ctx):
    weight = conv_weight(m, ctx.where)
    kh, kw = weight.shape[2:]
    stride = (opt_int(m, "dH", 1), opt_int(m, "dW", 1))
    groups = int(m.get("groups", 1))
    bias = ctx.tensor("bias")
    conv = uninitialised(
        nn.Conv2d,
        weight.shape[1] * groups,
        weight.shape[0],
        (kh, kw),
        stride,
        conv_padding(m, ctx.where),
        groups=groups,
        bias=bias is not None,
    )
    put_params(ctx, weight, bias)
    return conv


@register_translation("nn.SpatialDilatedConvolution")
def _dilated_conv(m, ctx):
    n_in, n_out, kw, kh = ctx.ints("nInputPlane", "nOutputPlane", "kW", "kH")
    weight = shaped_weight(m, ctx, (n_out, n_in, kh, kw))
    bias = ctx.tensor("bias")
    conv = uninitialised(
        nn.Conv2d,
        n_in,
        n_out,
        (kh, kw),
        (opt_int(m, "dH", 1), opt_int(m, "dW", 1)),
        (opt_int(m, "padH", 0), opt_int(m, "padW", 0)),
        dilation=(opt_int(m, "dilationH", 1), opt_int(m, "dilationW", 1)),
        bias=bias is not None,
    )
    put_params(ctx, weight, bias)
    return conv


@register_translation("nn.VolumetricConvolution")
def _volumetric_conv(m, ctx):
    n_in, n_out, kt, kw, kh = ctx.ints("nInputPlane", "nOutputPlane", "kT", "kW", "kH")
    weight = shaped_weight(m, ctx, (n_out, n_in, kt, kh, kw))
    bias = ctx.tensor("bias")
    conv = uninitialised(
        nn.Conv3d,
        n_in,
        n_out,
        (kt, kh, kw),
        tuple(opt_int(m, f"d{a}", 1) for a in "THW"),
        tuple(opt_int(m, f"pad{a}", 0) for a in "THW"),
        bias=bias is not None,
    )
    put_params(ctx, weight, bias)
    return conv


class FullConvolution(nn.Module):
    """nn.SpatialFullConvolution / VolumetricFullConvolution (and cudnn's): a transposed
    convolution, output (in-1)·d - 2·pad + k + adj per dim.

    Like Torch7 it also takes a table {input, target}: then adj is computed from the target's
    trailing sizes, `(target + 2·pad - k) % d`, as nn's calculateAdj does.
    """

    def __init__(self, n_in, n_out, kernel, stride, padding, adj, bias: bool):
        super().__init__()
        self.kernel, self.stride, self.padding, self.adj = kernel, stride, padding, adj
        self.weight = nn.Parameter(torch.empty(n_in, n_out, *kernel))
        self.bias = nn.Parameter(torch.empty(n_out)) if bias else None

    def forward(self, x):
        adj = self.adj
        if isinstance(x, (list, tuple)):
            x, target = x
            size = target.shape[-len(self.kernel) :]
            adj = tuple(
                (t + 2 * p - k) % d
                for t, p, k, d in zip(size, self.padding, self.kernel, self.stride)
            )
        fn = F.conv_transpose2d if len(self.kernel) == 2 else F.conv_transpose3d
        return fn(x, self.weight, self.bias, self.stride, self.padding, adj)

    def extra_repr(self) -> str:
        return (
            f"{self.weight.shape[0]}, {self.weight.shape[1]}, kernel={self.kernel}, "
            f"stride={self.stride}, padding={self.padding}, adj={self.adj}, "
            f"bias={self.bias is not None}"
        )


def _full_conv_check(m) -> str | None:
    if int(m.get("groups", 1) or 1) != 1:
        return f"{m.class_name} with groups={m.get('groups')}"
    return None


@register_translation(
    "nn.SpatialFullConvolution", "nn.VolumetricFullConvolution", check=_full_conv_check
)
def _full_conv(m, ctx):
    axes = "THW" if "Volumetric" in m.class_name else "HW"
    n_in, n_out = ctx.ints("nInputPlane", "nOutputPlane")
    kernel = tuple(int(ctx.field(f"k{a}")) for a in axes)
    weight = shaped_weight(m, ctx, (n_in, n_out, *kernel))
    bias = ctx.tensor("bias")  # absent after :noBias()
    stride = tuple(opt_int(m, f"d{a}", 1) for a in axes)
    adj = tuple(opt_int(m, f"adj{a}", 0) for a in axes)
    if any(not 0 <= a < d for a, d in zip(adj, stride)):
        raise T7FormatError(f"{ctx.where}: adj {adj} must be below the stride {stride}")
    padding = tuple(opt_int(m, f"pad{a}", 0) for a in axes)
    module = FullConvolution(n_in, n_out, kernel, stride, padding, adj, bias is not None)
    put_params(ctx, weight, bias)
    return module


class TemporalConvolution(nn.Module):
    """nn.TemporalConvolution: input (batch x) time x features, features LAST; the 2-D weight
    outputFrameSize x (kW·inputFrameSize) is held as Conv1d's (out, in, kW)."""

    def __init__(self, n_in: int, n_out: int, kw: int, dw: int, bias: bool = True):
        super().__init__()
        self.kw, self.dw = kw, dw
        self.weight = nn.Parameter(torch.empty(n_out, n_in, kw))
        self.bias = nn.Parameter(torch.empty(n_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 3):
            raise ValueError(f"Torch7 TemporalConvolution takes a 2D or 3D input, not {x.dim()}D")
        y = F.conv1d(x.transpose(-1, -2), self.weight, self.bias, self.dw)
        return y.transpose(-1, -2)

    def extra_repr(self) -> str:
        n_out, n_in, _ = self.weight.shape
        return f"{n_in}, {n_out}, kW={self.kw}, dW={self.dw}"


@register_translation("nn.TemporalConvolution")
def _temporal_conv(m, ctx):
    n_in, kw = ctx.ints("inputFrameSize", "kW")
    weight = ctx.tensor("weight")
    if weight is None or weight.size % (kw * n_in):
        raise T7FormatError(f"{ctx.where}: weight does not match inputFrameSize x kW")
    n_out = weight.size // (kw * n_in)
    bias = ctx.tensor("bias")
    module = TemporalConvolution(n_in, n_out, kw, opt_int(m, "dW", 1), bias is not None)
    # element [o][t·inputFrameSize + i] is Conv1d's [o][i][t]
    weight = np.ascontiguousarray(weight.reshape(n_out, kw, n_in).transpose(0, 2, 1))
    put_params(ctx, weight, bias)
    return module
