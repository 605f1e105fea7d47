"""Normalisation: (Spatial)BatchNormalization, nn's and cudnn's, with the running statistics.

Older files store the running standard deviation's inverse instead of the variance;
converter.torch7.legacy brings it to a variance as the IRv2 mapping does.
"""

from __future__ import annotations

import torch
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import register_translation
from converter.torch7.legacy import bn_running_var
from converter.torch7.modules import short_class


@register_translation("nn.SpatialBatchNormalization", "nn.BatchNormalization")
def _batch_norm(m, ctx):
    mean, var = ctx.tensor("running_mean"), bn_running_var(m)
    if mean is None or var is None:
        raise T7FormatError(f"{ctx.where} has no running stats")
    weight, bias = ctx.tensor("weight"), ctx.tensor("bias")
    affine = weight is not None
    cls = nn.BatchNorm1d if short_class(m.class_name) == "BatchNormalization" else nn.BatchNorm2d
    bn = cls(
        mean.shape[0],
        eps=float(m.get("eps", 1e-5)),
        momentum=float(m.get("momentum", 0.1)),
        affine=affine,
    )
    for name, value in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", mean),
        ("running_var", var),
    ):
        if value is not None:
            ctx.put(name, value)
    # on the CPU like the file's tensors: translate builds the modules under torch.device("meta")
    ctx.put("num_batches_tracked", torch.zeros((), dtype=torch.long, device="cpu"))
    return bn
