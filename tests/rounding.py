"""The check shared by the fast pipeline's byte tests: bytes are Torch's values rounded.

fast's compiled resize weighs bytes with float32 weights, not Torch's sequence of roundings, so
a byte may differ by 1 from Torch's value rounded where that value lies close to a half
(measured within 8e-5 of one); TIE is the distance allowed.
"""

from __future__ import annotations

import torch

TIE = 1e-3


def assert_rounded(got: torch.Tensor, values: torch.Tensor, exact: bool, what: str) -> None:
    """`got` (uint8) is `values` (float32, in byte units) rounded half to even and clamped to
    0..255, except, when not `exact`, 1 off where a value lies within TIE of a half."""
    want = values.round().clamp(0, 255)
    off = (got.float() - want).abs()
    near_tie = ((values - values.floor()) - 0.5).abs() < TIE
    print(f"{what}: {int((off > 0).sum())} of {off.numel()} bytes differ (max {off.max():.0f})")
    assert got.dtype == torch.uint8
    if exact:
        assert off.max() == 0
    else:
        assert off.max() <= 1 and not bool((off > 0)[~near_tie].any())
