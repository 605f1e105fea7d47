"""Activations: the rectifiers and squashing functions, and the SoftMax family with the dimension
each Torch7 backend normalises over.

In-place flags are honoured: a Torch7 module built with `inplace=true` overwrites its input, and
where the input is also read elsewhere (a graph's skip connection, MANIFEST-zoo2 §34) that is what
the network computes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation


def _inplace(m) -> bool:
    return bool(m.get("inplace", False))


class SoftMax(nn.Module):
    """nn.SoftMax / nn.LogSoftMax and nn.Spatial(Log)SoftMax, one THNN kernel: it normalises
    dim 0 of 1-D and 3-D (C,H,W) inputs, dim 1 of 2-D and 4-D ones, and refuses any other rank.
    cudnn's CHANNEL mode views its input the same way (cudnn.torch SpatialSoftMax)."""

    def __init__(self, log: bool = False):
        super().__init__()
        self.log = log

    def normalise(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        return F.log_softmax(x, dim) if self.log else F.softmax(x, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not 1 <= x.dim() <= 4:
            raise ValueError(f"Torch7 SoftMax takes a 1D, 2D, 3D or 4D tensor, not {x.dim()}D")
        return self.normalise(x, 0 if x.dim() in (1, 3) else 1)

    def extra_repr(self) -> str:
        return f"log={self.log}"


class SoftMin(SoftMax):
    """nn.SoftMin: THNN SoftMax of -x."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(-x)


class InstanceSoftMax(SoftMax):
    """cudnn's INSTANCE mode (cudnn.SoftMax, cudnn.LogSoftMax): one distribution over all the
    elements of a sample. cudnn.torch views 1-D and 3-D inputs as one sample, 2-D and 4-D ones
    as a batch of samples along dim 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not 1 <= x.dim() <= 4:
            raise ValueError(f"cudnn SoftMax takes a 1D, 2D, 3D or 4D tensor, not {x.dim()}D")
        start = 1 if x.dim() in (2, 4) else 0
        return self.normalise(x.flatten(start), -1).view(x.shape)


class PReLU(nn.Module):
    """nn.PReLU(nOutputPlane): one shared slope (nOutputPlane = 0) or one per plane, the planes
    being dim 1 whenever the input has more than one dim (THNN), so a single C x H x W sample
    would be read with H as its planes, exactly as Torch7 reads it."""

    def __init__(self, n_planes: int):
        super().__init__()
        self.n_planes = n_planes
        self.weight = nn.Parameter(torch.empty(max(n_planes, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if self.n_planes:
            dim = 1 if x.dim() > 1 else 0
            if x.shape[dim] != self.n_planes:
                raise ValueError(
                    f"PReLU of {self.n_planes} planes got {x.shape[dim]} in dim {dim + 1} "
                    f"of a {tuple(x.shape)} input"
                )
            w = w.view([-1 if d == dim else 1 for d in range(x.dim())])
        return torch.where(x > 0, x, w * x)

    def extra_repr(self) -> str:
        return f"n_planes={self.n_planes}"


@register_translation("nn.ReLU")
def _relu(m, ctx):
    # nn.ReLU is Threshold(0, 0); cudnn.ReLU stores neither field
    threshold, value = float(m.get("threshold", 0)), float(m.get("val", 0))
    if threshold or value:
        return nn.Threshold(threshold, value, _inplace(m))
    return nn.ReLU(_inplace(m))


@register_translation("nn.Threshold")
def _threshold(m, ctx):
    return nn.Threshold(float(ctx.field("threshold")), float(ctx.field("val")), _inplace(m))


@register_translation("nn.LeakyReLU")
def _leaky_relu(m, ctx):
    # the slope is `negval` (default 1/100); a negative one already forced inplace=false
    return nn.LeakyReLU(float(m.get("negval", 1 / 100)), _inplace(m))


@register_translation("nn.PReLU")
def _prelu(m, ctx):
    weight = ctx.tensor("weight")
    n_planes = int(m.get("nOutputPlane", 0))
    if weight is None or weight.size != max(n_planes, 1):
        raise T7FormatError(f"{ctx.where}: weight does not hold nOutputPlane={n_planes} slopes")
    ctx.put("weight", weight.reshape(-1))
    return PReLU(n_planes)


@register_translation("nn.ELU")
def _elu(m, ctx):
    return nn.ELU(float(m.get("alpha", 1)), _inplace(m))


@register_translation("nn.HardTanh", "nn.Clamp")
def _hardtanh(m, ctx):
    # Clamp is HardTanh with its own bounds; 2012 HardTanh has no fields and is [-1, 1]
    lo, hi = float(m.get("min_val", -1)), float(m.get("max_val", 1))
    return nn.Hardtanh(lo, hi, _inplace(m))


@register_translation("nn.ReLU6")
def _relu6(m, ctx):
    return nn.ReLU6(_inplace(m))


@register_translation("cudnn.ClippedReLU")
def _clipped_relu(m, ctx):
    return nn.Hardtanh(0.0, float(ctx.field("ceiling")), _inplace(m))


@register_translation("nn.SoftPlus")
def _softplus(m, ctx):
    # y = x where beta*x > threshold: PyTorch's rule, with the constructor's threshold 20
    return nn.Softplus(float(m.get("beta", 1)), float(m.get("threshold", 20)))


@register_translation("nn.SoftSign")
def _softsign(m, ctx):
    return nn.Softsign()


@register_translation("nn.LogSigmoid")
def _log_sigmoid(m, ctx):
    return nn.LogSigmoid()


@register_translation("nn.SoftMax", "nn.SpatialSoftMax")
def _softmax(m, ctx):
    return SoftMax()


@register_translation("nn.LogSoftMax", "nn.SpatialLogSoftMax")
def _log_softmax(m, ctx):
    return SoftMax(log=True)


@register_translation("nn.SoftMin")
def _softmin(m, ctx):
    return SoftMin()


# What each cudnn softmax class's forward sets whatever its fields say (cudnn.torch 103e6ed);
# cudnn.SpatialSoftMax keeps its stored mode/algorithm, by default CHANNEL / ACCURATE.
_CUDNN_SOFTMAX_FORCED = {
    "cudnn.SoftMax": {"mode": "CUDNN_SOFTMAX_MODE_INSTANCE"},
    "cudnn.LogSoftMax": {"mode": "CUDNN_SOFTMAX_MODE_INSTANCE", "algorithm": "CUDNN_SOFTMAX_LOG"},
}


@register_translation(
    "cudnn.SoftMax", "cudnn.LogSoftMax", "cudnn.SpatialSoftMax", "cudnn.SpatialLogSoftMax"
)
def _cudnn_softmax(m, ctx):
    settings = {"mode": "CUDNN_SOFTMAX_MODE_CHANNEL", "algorithm": "CUDNN_SOFTMAX_ACCURATE"}
    settings.update({k: str(m[k]) for k in settings if k in m})
    settings.update(_CUDNN_SOFTMAX_FORCED.get(m.class_name, {}))
    log = settings["algorithm"] == "CUDNN_SOFTMAX_LOG"
    instance = settings["mode"] == "CUDNN_SOFTMAX_MODE_INSTANCE"
    return InstanceSoftMax(log) if instance else SoftMax(log)
