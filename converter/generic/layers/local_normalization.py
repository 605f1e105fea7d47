"""Local normalisation: cross-map LRN and the spatial subtractive, divisive and contrastive
normalisations, from the filters the files store.

Spatial{Subtractive,Divisive}Normalization keep their filters as inner modules (`meanestimator`,
`stdestimator`: zero padding, then a convolution summed over the planes, either one
SpatialConvolution nIn -> 1 or, for a 1-D kernel, a one-to-one SpatialConvolutionMap followed by
one; older nn sums one-to-one maps with nn.Sum(1)). Their inner convolutions are translated as
any other module is, under their Torch7 paths (`1.meanestimator.2.weight`), and the stored
kernels are not re-derived: the `kernel` fields of a SpatialContrastiveNormalization have been
normalised twice (MANIFEST-zoo2 §8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.errors import T7FormatError
from converter.generic.registry import child_path, register_translation
from converter.torch7.modules import children, short_class
from converter.torch7.objects import T7Object


class CrossMapLRN(nn.Module):
    """nn.SpatialCrossMapLRN(size, alpha, beta, k) / cudnn's: x / (k + alpha/size · Σ x²)^beta,
    the sum over the planes within (size-1)/2 of each plane, clipped at the ends; a C x H x W
    sample or a batch."""

    def __init__(self, size: int, alpha: float, beta: float, k: float):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return self(x.unsqueeze(0)).squeeze(0)
        if x.dim() != 4:
            raise ValueError(f"Torch7 SpatialCrossMapLRN takes a 3D or 4D input, not {x.dim()}D")
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _odd_size(m) -> str | None:
    if int(m.get("size", 5)) % 2 == 0:
        return (
            f"{m.class_name}(size={m.get('size')}): an even window size, which Torch7's CPU "
            "code has no defined window for"
        )
    return None


@register_translation("nn.SpatialCrossMapLRN", check=_odd_size)
def _lrn(m, ctx):
    return CrossMapLRN(
        int(ctx.field("size")),
        float(ctx.field("alpha")),
        float(ctx.field("beta")),
        float(m.get("k", 1)),
    )


class Estimator(nn.ModuleDict):
    """A meanestimator/stdestimator Sequential: (Square), zero padding, convolutions, a sum over
    the planes, (Sqrt). The result has one plane, which the Lua code replicates to all planes
    (nn.Replicate) and this broadcasts."""

    def __init__(self, steps: list[tuple[str, str, nn.Module | None]]):
        super().__init__({name: mod for name, _, mod in steps if mod is not None})
        self.kinds = [(name, kind) for name, kind, _ in steps]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, kind in self.kinds:
            if kind == "square":
                x = x * x
            elif kind == "sqrt":
                x = torch.sqrt(x)
            elif kind == "sum":  # nn.Sum(1) of the 2013 layout: dim 1 is the planes of a sample
                if x.dim() != 3:
                    raise ValueError(
                        "this (pre-2015) normalisation module sums dim 1, the batch of a 4D "
                        "input: Torch7 ran it on C x H x W samples only"
                    )
                x = x.sum(0, keepdim=True)
            elif kind == "module":
                x = self[name](x)
        return x


_ESTIMATOR_STEPS = {
    "Square": "square",
    "Sqrt": "sqrt",
    "Sum": "sum",
    "Replicate": "replicate",
    "SpatialZeroPadding": "module",
    "SpatialConvolution": "module",
    "SpatialConvolutionMM": "module",
    "SpatialConvolutionMap": "module",
}


def _estimator(m, ctx, field: str) -> Estimator:
    seq = ctx.field(field)
    if not isinstance(seq, T7Object):
        raise T7FormatError(f"{ctx.where}: '{field}' is not a module")
    steps = []
    for i, child in enumerate(children(seq), start=1):
        kind = _ESTIMATOR_STEPS.get(short_class(getattr(child, "class_name", "")))
        if kind is None:
            raise T7FormatError(
                f"{ctx.where}: {field} holds a {getattr(child, 'class_name', child)}, not the "
                "padding/convolution/sum layout nn builds"
            )
        module = None
        if kind == "module":
            module = ctx.tree.module(child, child_path(ctx.path, f"{field}.{i}"))
        steps.append((str(i), kind, module))
    return Estimator(steps)


def _coef(mean: Estimator, x: torch.Tensor) -> torch.Tensor:
    """The estimator on an all-ones sample: the border correction, for this input's size."""
    return mean(torch.ones_like(x[:1] if x.dim() == 4 else x))


class SubtractiveNormalization(nn.Module):
    """nn.SpatialSubtractiveNormalization: y = x - mean(x)/coef."""

    def __init__(self, meanestimator: Estimator):
        super().__init__()
        self.meanestimator = meanestimator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_rank(x)
        return x - self.meanestimator(x) / _coef(self.meanestimator, x)


class DivisiveNormalization(nn.Module):
    """nn.SpatialDivisiveNormalization: y = x / t(std(x)/coef), where t replaces values that are
    not above `threshold` by `thresval` (nn.Threshold) and coef is the mean estimator's."""

    def __init__(self, meanestimator: Estimator, stdestimator: Estimator, threshold, thresval):
        super().__init__()
        self.meanestimator, self.stdestimator = meanestimator, stdestimator
        self.threshold, self.thresval = threshold, thresval

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_rank(x)
        std = self.stdestimator(x) / _coef(self.meanestimator, x)
        return x / torch.where(std > self.threshold, std, torch.full_like(std, self.thresval))

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, thresval={self.thresval}"


def _check_rank(x: torch.Tensor) -> None:
    if x.dim() not in (3, 4):
        raise ValueError(f"Torch7 spatial normalisation takes a 3D or 4D input, not {x.dim()}D")


@register_translation("nn.SpatialSubtractiveNormalization")
def _subtractive(m, ctx):
    return SubtractiveNormalization(_estimator(m, ctx, "meanestimator"))


@register_translation("nn.SpatialDivisiveNormalization")
def _divisive(m, ctx):
    # the forward applies its `thresholder` (an nn.Threshold built from threshold/thresval)
    thresholder = m.get("thresholder")
    if isinstance(thresholder, T7Object):
        threshold, value = float(thresholder["threshold"]), float(thresholder["val"])
    else:
        threshold = float(m.get("threshold", 1e-4))
        value = float(m.get("thresval", threshold))
    return DivisiveNormalization(
        _estimator(m, ctx, "meanestimator"), _estimator(m, ctx, "stdestimator"), threshold, value
    )


@register_translation("nn.SpatialContrastiveNormalization", inner=("normalizer",))
def _contrastive(m, ctx):
    # a Module holding Sequential{Subtractive, Divisive} in its `normalizer` field
    return ContrastiveNormalization(ctx.submodule("normalizer"))


class ContrastiveNormalization(nn.Module):
    """nn.SpatialContrastiveNormalization: its `normalizer`, subtractive then divisive."""

    def __init__(self, normalizer: nn.Module):
        super().__init__()
        self.normalizer = normalizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalizer(x)
