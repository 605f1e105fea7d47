"""Normalisation: batch normalisation (plain, spatial, volumetric, cudnn's), Normalize, and
both InstanceNormalization classes found in the wild.

Older BN files store the running standard deviation's inverse instead of the variance;
converter.torch7.legacy brings it to a variance as the IRv2 mapping does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation, uninitialised
from converter.torch7.legacy import bn_running_var
from converter.torch7.modules import short_class
from converter.torch7.objects import T7Object, T7Tensor

# the input rank of a batch, per class (nn.BatchNormalization's nDim)
_BN_DIMS = {
    "BatchNormalization": 2,
    "SpatialBatchNormalization": 4,
    "VolumetricBatchNormalization": 5,
}


class BatchNorm(nn.modules.batchnorm._BatchNorm):
    """nn.(Spatial|Volumetric)BatchNormalization: a batch of rank `n_dim`, or at evaluation one
    sample without its batch dim, as Torch7's makeBatch allows."""

    def __init__(self, n_dim: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_dim = n_dim

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() != self.n_dim:
            raise ValueError(
                f"Torch7 batch normalisation of {self.n_dim}D batches got a {x.dim()}D input"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self.n_dim - 1 and not self.training:
            return super().forward(x.unsqueeze(0)).squeeze(0)
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_dim={self.n_dim}"


@register_translation(
    "nn.SpatialBatchNormalization", "nn.BatchNormalization", "nn.VolumetricBatchNormalization"
)
def _batch_norm(m, ctx):
    mean, var = ctx.tensor("running_mean"), bn_running_var(m)
    if mean is None or var is None:
        raise T7FormatError(f"{ctx.where} has no running stats")
    weight, bias = ctx.tensor("weight"), ctx.tensor("bias")
    bn = uninitialised(
        BatchNorm,
        _BN_DIMS[short_class(m.class_name)],
        mean.shape[0],
        eps=float(m.get("eps", 1e-5)),
        momentum=float(m.get("momentum", 0.1)),
        affine=weight is not None,
    )
    for name, value in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", mean),
        ("running_var", var),
    ):
        if value is not None:
            ctx.put(name, value)
    # numpy, not torch.zeros: builders run under torch.device("meta"), and a meta counter would
    # make the module impossible to move with .to(device)
    ctx.put("num_batches_tracked", np.zeros((), dtype=np.int64))
    return bn


class Normalize(nn.Module):
    """nn.Normalize(p, eps): each row of a 1-D or 2-D input divided by (Σ|x|^p + eps)^(1/p), eps
    inside the root; by max|x| + eps for p = inf. Even p raise x itself to p, as Normalize.lua."""

    def __init__(self, p: float, eps: float):
        super().__init__()
        self.p, self.eps = p, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (1, 2):
            raise ValueError(f"Torch7 Normalize takes a 1D or 2D input, not {x.dim()}D")
        rows = x.reshape(-1, x.shape[-1])
        if math.isinf(self.p):
            norm = rows.abs().amax(1, keepdim=True) + self.eps
        else:
            powered = (rows if self.p % 2 == 0 else rows.abs()).pow(self.p)
            norm = (powered.sum(1, keepdim=True) + self.eps).pow(1 / self.p)
        return (rows / norm).view(x.shape)

    def extra_repr(self) -> str:
        return f"p={self.p}, eps={self.eps}"


@register_translation("nn.Normalize")
def _normalize(m, ctx):
    p = float(ctx.field("p"))
    if not p > 0:
        raise T7FormatError(f"{ctx.where}: p = {p}; Normalize needs p > 0")
    return Normalize(p, float(m.get("eps", 1e-10)))


class InstanceNormalization(nn.Module):
    """nn.InstanceNormalization (fast-neural-style/texture_nets or CycleGAN's), N x C x H x W.

    Both forward through an inner SpatialBatchNormalization(N·C) on the 1 x N·C x H x W view, and
    since nn 919eeca (2017-08-03) Torch7 runs a batch of one with train=false: the output is
    (x - m)/sqrt(v + eps)·w + b with the inner BN's running statistics, one per (sample,
    channel). `stats` (N·C) are those of the stored `bn`, valid for a batch of `stats_batch`;
    for another batch size the Lua code makes a new BN, from `fresh` (C entries repeated: zeros
    and ones for fast-neural-style, the module's running_mean/var for CycleGAN).

    `instance_stats = True` instead normalises each (sample, channel) by its own mean and biased
    variance: what Torch7 before that nn commit computed, and PyTorch's InstanceNorm2d.
    """

    def __init__(self, channels: int, eps: float, affine: bool, stats_batch: int, stats_eps: float):
        super().__init__()
        self.eps, self.stats_batch, self.stats_eps = eps, stats_batch, stats_eps
        self.instance_stats = False
        self.weight = nn.Parameter(torch.empty(channels)) if affine else None
        self.bias = nn.Parameter(torch.empty(channels)) if affine else None
        self.register_buffer("fresh_mean", torch.empty(channels))
        self.register_buffer("fresh_var", torch.empty(channels))
        if stats_batch > 0:
            self.register_buffer("stats_mean", torch.empty(stats_batch * channels))
            self.register_buffer("stats_var", torch.empty(stats_batch * channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"InstanceNormalization takes an N x C x H x W input, not {x.dim()}D")
        n, c = x.shape[:2]
        if self.instance_stats:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        if n == self.stats_batch:
            mean, var = self.stats_mean.view(n, c), self.stats_var.view(n, c)
            eps = self.stats_eps
        else:
            mean, var, eps = self.fresh_mean.expand(n, c), self.fresh_var.expand(n, c), self.eps
        y = (x - mean[..., None, None]) / torch.sqrt(var[..., None, None] + eps)
        if self.weight is not None:
            y = y * self.weight.view(-1, 1, 1) + self.bias.view(-1, 1, 1)
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.fresh_mean.shape[0]}, eps={self.eps}, stats_batch={self.stats_batch}, "
            f"instance_stats={self.instance_stats}"
        )


def use_instance_statistics(module: nn.Module, on: bool = True) -> int:
    """Switch every InstanceNormalization in `module` to instance statistics (Torch7 before nn
    919eeca, PyTorch's InstanceNorm2d) or back; returns how many there are."""
    found = [m for m in module.modules() if isinstance(m, InstanceNormalization)]
    for m in found:
        m.instance_stats = on
    return len(found)


def _bn_stats(bn: T7Object, size: int, ctx) -> tuple[np.ndarray, np.ndarray]:
    mean, var = bn.get("running_mean"), bn_running_var(bn)
    if not isinstance(mean, T7Tensor) or var is None or mean.numel != size or var.size != size:
        raise T7FormatError(f"{ctx.where}: bn does not hold batch x nOutput = {size} statistics")
    return mean.numpy(), var


@register_translation("nn.InstanceNormalization")
def _instance_norm(m, ctx):
    channels = int(ctx.field("nOutput"))
    weight, bias = ctx.tensor("weight"), ctx.tensor("bias")
    cyclegan = "prev_batch_size" in m or "running_mean" in m
    if cyclegan:
        fresh_mean, fresh_var = ctx.tensor("running_mean"), ctx.tensor("running_var")
        if fresh_mean is None or fresh_var is None:
            raise T7FormatError(f"{ctx.where} has no running_mean/running_var")
        stats_batch = int(m.get("prev_batch_size", -1))
    else:
        dtype = weight.dtype if weight is not None else np.float32
        fresh_mean, fresh_var = np.zeros(channels, dtype), np.ones(channels, dtype)
        stats_batch = int(m.get("prev_N", -1))
    eps = float(m.get("eps", 1e-5))
    bn = m.get("bn")
    if not isinstance(bn, T7Object):  # never forwarded: the first forward makes the BN
        stats_batch = -1
    stats_eps = float(bn.get("eps", eps)) if stats_batch > 0 else eps
    module = InstanceNormalization(channels, eps, weight is not None, stats_batch, stats_eps)
    if stats_batch > 0:
        stats_mean, stats_var = _bn_stats(bn, stats_batch * channels, ctx)
        ctx.put("stats_mean", stats_mean)
        ctx.put("stats_var", stats_var)
    ctx.put("fresh_mean", fresh_mean)
    ctx.put("fresh_var", fresh_var)
    if weight is not None:
        ctx.put("weight", weight)
        ctx.put("bias", bias)
    return module
