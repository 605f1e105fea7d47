"""The compiled bicubic (evaluate/_torch_cubic.c) against the torch-op implementation.

Both follow Torch's C expression by expression; tests/test_transforms.py checks each against the
Torch7-written references on the fixture photos. Here they are compared with each other on
random images over many sizes, up- and downscaling (the training augmentation upscales),
windows and the smallest sizes, where the border extrapolation is all there is; and the
compiled entry points refuse what would read or write outside their buffers.
"""

from __future__ import annotations

import shutil
import sysconfig

import numpy as np
import pytest
import torch

from evaluate import transforms
from evaluate.transforms import torch_scale

compiled = transforms._torch_cubic
needs_compiled = pytest.mark.skipif(
    compiled is None, reason="evaluate._torch_cubic is not compiled (no C compiler at install)"
)


def test_compiled_where_a_compiler_is():
    """The build is optional (an install without a C compiler still works, slower), so a
    failed build would otherwise only show as skips: where Python's C compiler exists, the
    module must be there."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) here: the torch-op fallback is what runs")
    assert compiled is not None, (
        f"{cc} is installed but evaluate._torch_cubic was not built next to "
        f"{transforms.__file__}: install with `pip install -e .` (the tests import the source "
        "tree) and read its build log"
    )


SIZES = [
    # (src_w, src_h, dst_w, dst_h)
    (400, 300, 437, 328),
    (375, 500, 328, 437),
    (500, 375, 299, 224),
    (120, 90, 331, 407),  # upscaling
    (2, 3, 7, 5),
    (3, 2, 2, 3),
    (1, 5, 4, 9),
    (6, 1, 4, 3),
    (17, 13, 17, 40),  # one axis unchanged
]


def _both(pixels, width, height, window=None):
    fast = torch_scale(pixels, width, height, window)
    saved = transforms._torch_cubic
    transforms._torch_cubic = None
    try:
        slow = torch_scale(pixels, width, height, window)
    finally:
        transforms._torch_cubic = saved
    return fast, slow


@needs_compiled
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("depth", [3, 1])
def test_compiled_equals_torch_ops(size, depth):
    src_w, src_h, dst_w, dst_h = size
    rng = np.random.default_rng(src_w * 1000 + src_h + depth)
    for pixels in (
        rng.integers(0, 256, (src_h, src_w, depth), dtype=np.uint8),
        rng.random((src_h, src_w, depth), dtype=np.float32) * 2 - 0.5,
    ):
        fast, slow = _both(pixels, dst_w, dst_h)
        assert fast.shape == (dst_h, dst_w, depth)
        assert torch.equal(fast, slow), float((fast - slow).abs().max())
        left, top = dst_w // 3, dst_h // 4
        window = (left, top, min(dst_w, left + dst_w // 2 + 1), min(dst_h, top + dst_h // 2 + 1))
        part, part_slow = _both(pixels, dst_w, dst_h, window)
        assert torch.equal(part, part_slow)
        assert torch.equal(part, fast[window[1] : window[3], window[0] : window[2]])


@needs_compiled
def test_to_bytes_rounds_half_to_even_and_clamps():
    halves = np.array([(k + 0.5) / 255 for k in range(255)], np.float32)
    x = torch.from_numpy(
        np.concatenate(
            [
                np.random.default_rng(0).random(100_003, dtype=np.float32) * 1.6 - 0.3,
                halves,
                np.arange(256, dtype=np.float32) / np.float32(255),
                # far outside what a scaled image holds: still clamped, the cast still defined
                np.array([-1e6, -0.0, 1e6, 255.0, 1e10, -6e4, np.inf, -np.inf], np.float32),
            ]
        )
    )
    got = transforms._to_bytes(x)
    saved = transforms._torch_cubic
    transforms._torch_cubic = None
    try:
        want = transforms._to_bytes(x)
    finally:
        transforms._torch_cubic = saved
    assert got.dtype == torch.uint8 and torch.equal(got, want)
    assert got[-8:].tolist() == [0, 0, 255, 255, 255, 0, 255, 0]
    nan = torch.full((5,), float("nan"))
    assert transforms._to_bytes(nan).tolist() == [0] * 5


def _args(**change):
    """Valid cubic_rows arguments for 8 source rows of width 6 -> 5 outputs, with changes."""
    args = {
        "src": np.zeros(8 * 6, np.float32),
        "width": 6,
        "offset": 0,
        "n_src": 8,
        "index": np.array([0, 1, 3, 5, 6], np.int64),
        "frac": np.full(5, 0.5, np.float32),
        "dst": np.zeros(5 * 6, np.float32),
        "dst_row": 6,
        "dst_group": 6,
        "group": 6,
    }
    args.update(change)
    return tuple(args.values())


@needs_compiled
def test_cubic_rows_accepts_valid_arguments():
    src = np.arange(48, dtype=np.float32)
    dst = np.zeros(30, np.float32)
    compiled.cubic_rows(*_args(src=src, dst=dst))
    assert dst[:6].tolist() != [0.0] * 6


@needs_compiled
@pytest.mark.parametrize(
    "change, message",
    [
        ({"index": np.array([0, 1, 3, 5, 7], np.int64)}, "outside"),  # reads row 8 of 8
        ({"index": np.array([-1, 1, 3, 5, 6], np.int64)}, "outside"),
        ({"offset": 1}, "outside"),  # row 0 is not in the buffer
        ({"src": np.zeros(7 * 6, np.float32)}, "outside"),
        ({"dst": np.zeros(29, np.float32)}, "too small"),
        ({"dst_row": 7}, "too small"),
        ({"frac": np.full(4, 0.5, np.float32)}, "inconsistent"),
        ({"group": 4}, "inconsistent"),
        # near int64's limits, where a sum in the checks would overflow
        ({"index": np.array([0, 1, 3, 5, 2**63 - 1], np.int64)}, "outside"),
        ({"offset": -(2**63) + 1}, "offset"),
        ({"offset": 2**63 - 1}, "offset"),
        ({"n_src": 2**63 - 1}, "outside"),
        ({"n_src": 1}, "n_src"),
        # item types are checked by format, not only by size
        ({"index": np.array([0, 1, 3, 5, 6], np.int32)}, "int64"),
        ({"index": np.zeros(5, np.float64)}, "int64"),
        ({"src": np.zeros(8 * 6, np.float64)}, "float32"),
        ({"src": np.zeros(8 * 6, np.int32)}, "float32"),
        ({"dst": np.zeros(30, np.uint32)}, "float32"),
    ],
)
def test_cubic_rows_refuses_out_of_bounds(change, message):
    with pytest.raises(ValueError, match=message):
        compiled.cubic_rows(*_args(**change))


@needs_compiled
def test_to_bytes_refuses_mismatched_buffers():
    with pytest.raises(ValueError, match="length"):
        compiled.to_bytes(np.zeros(4, np.float32), np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        compiled.to_bytes(np.zeros(4, np.float32), np.zeros(4, np.int8))
    with pytest.raises(ValueError, match="not C-contiguous"):
        compiled.to_bytes(np.zeros(8, np.float32)[::2], np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="read-only"):
        compiled.to_bytes(np.zeros(4, np.float32), np.frombuffer(bytes(4), np.uint8))
