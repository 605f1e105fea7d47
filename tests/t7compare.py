"""Comparing a translated module's outputs with the ones Torch7 wrote, for every translator test.

Tolerance: max |Δ| <= REL_TOL[dtype] * max |reference| (summation order: 1e-5 for float32,
1e-10 for float64); every comparison prints what it measured, so a passing run still shows how
close it was.
"""

from __future__ import annotations

import torch

REL_TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def tensor(value):
    """A reference value as torch: Lua tables of tensors come back as lists."""
    if isinstance(value, list):
        return [tensor(v) for v in value]
    return torch.from_numpy(value.numpy())


def assert_close(got: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    assert tuple(got.shape) == tuple(ref.shape), f"{what}: shape {tuple(got.shape)} != ref"
    assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype} != {ref.dtype}"
    delta = float((got.detach().double() - ref.double()).abs().max())
    scale = float(ref.abs().max())
    print(f"{what}: max|Δ| = {delta:.3g} (max|ref| = {scale:.3g})")
    assert scale > 0, f"{what}: all-zero reference proves nothing"
    tol = REL_TOL.get(ref.dtype, 1e-5)
    assert delta <= tol * scale, f"{what}: max|Δ| {delta:.3g} > {tol} x {scale:.3g}"


def run_with_acts(module, x, paths: dict[str, str]):
    """Output and the outputs of the modules at `paths` (kept as is: a later in-place ReLU
    changes them exactly as it changes Torch's `module.output`)."""
    acts = {}
    hooks = [
        module.get_submodule(p).register_forward_hook(
            lambda _m, _i, out, key=key: acts.__setitem__(key, out)
        )
        for key, p in paths.items()
    ]
    with torch.no_grad():
        out = module(x)
    for h in hooks:
        h.remove()
    return out, acts
