"""`t7convert --verify`: the mapped IRv2 must compute what the generic translation computes.

The two paths share only the file reader: the mapped model is our named InceptionResNetV2 filled
through the mapping table, the generic one rebuilds the Torch7 tree module by module. Agreement
on a random input therefore catches a wrong mapping row (swapped branches, transposed kernels,
wrong BN statistics) without needing Lua.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from converter.errors import UserError
from converter.generic.translator import translate
from converter.irv2.convert import Conversion
from converter.torch7.objects import T7Object

DEFAULT_TOL = 1e-5  # relative to max |output|: float32 summation-order noise is ~1e-6 here
IMAGE_SIZE = 299


class VerificationError(UserError):
    """The mapped model and the generic translation disagree: the mapping is wrong."""


def random_input(in_chans: int = 3, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """U[-2, 2], the range of normalised images (and of the Torch7 reference inputs)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, in_chans, IMAGE_SIZE, IMAGE_SIZE, generator=gen) * 4 - 2


def verify_against_generic(
    conversion_or_model: Conversion | nn.Module,
    generic: str | Path | T7Object | nn.Module | None = None,
    input: torch.Tensor | None = None,
    tol: float = DEFAULT_TOL,
) -> float:
    """Max |mapped - generic| on `input` (default: one seeded random 299x299 image).

    `generic` is the Torch7 source (file, directory, loaded tree) or an already translated
    module; with a Conversion it defaults to the file the conversion read. Raises
    VerificationError when the difference exceeds `tol * max|mapped output|`.
    """
    if isinstance(conversion_or_model, Conversion):
        mapped = conversion_or_model.build_model()
        in_chans = conversion_or_model.config.in_chans
        generic = conversion_or_model.source.model_path if generic is None else generic
    else:
        mapped, in_chans = conversion_or_model.eval(), 3
    if generic is None:
        raise ValueError("give the Torch7 source to translate when passing a bare model")
    reference = generic.eval() if isinstance(generic, nn.Module) else translate(generic)
    x = random_input(in_chans) if input is None else input
    with torch.no_grad():
        want, got = mapped(x), reference(x)
    if want.shape != got.shape:
        raise VerificationError(
            f"--verify failed: mapped model gives {tuple(want.shape)}, the generic translation "
            f"{tuple(got.shape)}; the mapping table does not fit this checkpoint"
        )
    delta = float((want - got).abs().max())
    scale = float(want.abs().max())
    if not delta <= tol * scale:  # `not <=` so that NaN fails too
        raise VerificationError(
            f"--verify failed: mapped model and generic translation differ by max |Δ| = "
            f"{delta:.3g} > {tol:g} x max|output| ({scale:.3g}); the mapping table is wrong for "
            "this checkpoint: report it with the file"
        )
    return delta
