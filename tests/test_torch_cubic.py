"""The compiled kernels (evaluate/data/_torch_cubic.c) against the torch-op implementation.

`cubic_rows` and the torch ops both follow Torch's C expression by expression;
tests/test_transforms.py checks each against the Torch7-written references on the fixture
photos. Here they are compared with each other on random images over many sizes, up- and
downscaling (the training augmentation upscales), windows and the smallest sizes, where the
border extrapolation is all there is. The fast pipeline's `scale_bytes` is checked against
Torch's arithmetic rounded to bytes on the same images, from both of its sources (Pillow's Arrow
export and a numpy copy), and `normalize` against the torch ops on every byte value. All entry
points refuse what would read or write outside their buffers.
"""

from __future__ import annotations

import shutil
import sysconfig

import numpy as np
import pytest
import torch
from PIL import Image
from rounding import assert_rounded

from evaluate.data import transforms
from evaluate.data.transforms import torch_scale

compiled = transforms._torch_cubic
needs_compiled = pytest.mark.skipif(
    compiled is None, reason="evaluate.data._torch_cubic is not compiled (no C compiler at install)"
)


def test_compiled_where_a_compiler_is():
    """The build is optional (an install without a C compiler still works, slower), so a
    failed build would otherwise only show as skips: where Python's C compiler exists, the
    module must be there."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) here: the torch-op fallback is what runs")
    assert compiled is not None, (
        f"{cc} is installed but evaluate.data._torch_cubic was not built next to "
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


def _pillow(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


def _scale_bytes(im: Image.Image, width: int, height: int, window, source: str) -> np.ndarray:
    """compiled.scale_bytes from Pillow's Arrow export or a numpy copy of the pixels."""
    left, top, right, bottom = window
    rows, cols = transforms._byte_plan(im.height, height), transforms._byte_plan(im.width, width)
    channels = len(im.getbands())
    src = im.__arrow_c_array__() if source == "arrow" else np.asarray(im).reshape(-1)
    out = np.zeros((bottom - top, right - left, channels), np.uint8)
    compiled.scale_bytes(
        src, im.height, im.width, channels, rows[0][top:bottom], rows[1][top:bottom],
        cols[0][left:right], cols[1][left:right], out.reshape(-1),
    )  # fmt: skip
    return out


@needs_compiled
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("depth", [3, 1])
def test_scale_bytes_is_torch_scale_rounded(size, depth):
    """fast's resize: Torch's scaled values rounded to bytes, but for near-ties (float32
    weights round differently from Torch's sequence of roundings), from either source."""
    src_w, src_h, dst_w, dst_h = size
    rng = np.random.default_rng(src_w * 1000 + src_h + depth)
    pixels = rng.integers(0, 256, (src_h, src_w, depth), dtype=np.uint8)
    im = _pillow(pixels)
    left, top = dst_w // 3, dst_h // 4
    windows = [
        (0, 0, dst_w, dst_h),
        (left, top, min(dst_w, left + dst_w // 2 + 1), min(dst_h, top + dst_h // 2 + 1)),
    ]
    for window in windows:
        scaled = torch_scale(pixels, dst_w, dst_h, window)
        values = torch.mul(scaled, 255)  # float32, as _to_bytes rounds them
        got = _scale_bytes(im, dst_w, dst_h, window, "arrow")
        assert np.array_equal(got, _scale_bytes(im, dst_w, dst_h, window, "numpy"))
        assert_rounded(torch.from_numpy(got), values, False, f"{size} x{depth} {window}")


@needs_compiled
@pytest.mark.parametrize("weight", [0.5, 2.0, -1.0, 1 / 3])
@pytest.mark.parametrize("channels, taps", [(1, 1), (3, 1), (3, 4)])
def test_scale_bytes_rounds_half_to_even_and_clamps(weight, channels, taps):
    """Each output is one byte times `weight`: halves (0.5 * odd) round to even, products
    beyond 0..255 clamp. 3 channels with 4 taps run the vector code, the others scalar."""
    values = np.arange(256, dtype=np.uint8)
    src = np.repeat(values, channels).reshape(1, 256, channels)
    n_x = 256 - taps + 1
    col_weight = np.zeros((n_x, taps), np.float32)
    col_weight[:, 0] = weight
    out = np.zeros((1, n_x, channels), np.uint8)
    compiled.scale_bytes(
        _pillow(src).__arrow_c_array__(), 1, 256, channels, np.zeros(1, np.int64),
        np.ones((1, 1), np.float32), np.arange(n_x, dtype=np.int64), col_weight, out.reshape(-1),
    )  # fmt: skip
    product = torch.from_numpy(values[:n_x]).float() * np.float32(weight)
    want = product.round().clamp(0, 255).to(torch.uint8)
    for c in range(channels):
        assert torch.equal(torch.from_numpy(out[0, :, c]), want)


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


def _scale_args(**change):
    """Valid scale_bytes arguments: a 6 x 5 RGB image -> 3 x 2, with changes."""
    args = {
        "src": np.zeros(6 * 5 * 3, np.uint8),
        "height": 6,
        "width": 5,
        "channels": 3,
        "row_start": np.array([0, 1, 2], np.int64),
        "row_weight": np.full((3, 4), 0.25, np.float32),
        "col_start": np.array([0, 1], np.int64),
        "col_weight": np.full((2, 4), 0.25, np.float32),
        "dst": np.zeros(3 * 2 * 3, np.uint8),
    }
    args.update(change)
    return tuple(args.values())


@needs_compiled
def test_scale_bytes_accepts_valid_arguments():
    dst = np.zeros(18, np.uint8)
    compiled.scale_bytes(*_scale_args(src=np.full(90, 100, np.uint8), dst=dst))
    assert dst.tolist() == [100] * 18


def _capsules(mode: str, size=(5, 6)):
    return Image.new(mode, size).__arrow_c_array__()


@needs_compiled
@pytest.mark.parametrize(
    "change, message",
    [
        ({"row_start": np.array([0, 1, 3], np.int64)}, "row output 2 reads outside"),
        ({"row_start": np.array([-1, 1, 2], np.int64)}, "row output 0 reads outside"),
        ({"col_start": np.array([0, 2], np.int64)}, "column output 1 reads outside"),
        ({"col_start": np.array([0, 2**63 - 1], np.int64)}, "outside"),
        ({"row_weight": np.full((3, 5), 0.2, np.float32)}, "1..4 weights"),
        ({"row_weight": np.full(10, 0.2, np.float32)}, "1..4 weights"),
        ({"col_start": np.zeros(0, np.int64)}, "1..4 weights"),
        ({"dst": np.zeros(17, np.uint8)}, "dst"),
        ({"src": np.zeros(89, np.uint8)}, "src is not height x width"),
        ({"height": 2**62}, "positive size"),
        ({"width": 0}, "positive size"),
        ({"channels": 2}, "1 or 3 channels"),
        # item types are checked by format, not only by size
        ({"row_start": np.array([0, 1, 2], np.uint64)}, "int64"),
        ({"col_weight": np.full((2, 4), 0.25, np.float64)}, "float32"),
        ({"src": np.zeros(90, np.int8)}, "uint8"),
        ({"dst": np.frombuffer(bytes(18), np.uint8)}, "read-only"),
        # Arrow sources: the image's size and bands must be what the call says
        ({"src": _capsules("RGB", (5, 5))}, "Arrow export of height x width"),
        ({"src": _capsules("L")}, "bands"),
        ({"src": _capsules("RGB")[::-1]}, "incorrect name"),
        ({"src": ("not", "capsules")}, "PyCapsule"),
        ({"src": (1,)}, "2 arguments"),
    ],
)
def test_scale_bytes_refuses_bad_arguments(change, message):
    with pytest.raises((ValueError, TypeError), match=message):
        compiled.scale_bytes(*_scale_args(**change))


@needs_compiled
def test_scale_bytes_reads_arrow_rgb():
    """Pillow's RGB Arrow export is RGBX: the X bytes must not leak into the channels."""
    rgb = np.random.default_rng(1).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    im = Image.fromarray(rgb)
    ident = np.zeros((5, 4), np.float32)
    ident[:, 0] = 1
    out = np.zeros((6, 5, 3), np.uint8)
    rows = np.zeros((6, 1), np.float32) + 1
    compiled.scale_bytes(
        im.__arrow_c_array__(), 6, 5, 3, np.arange(6, dtype=np.int64), rows,
        np.array([0, 1, 1, 1, 1], np.int64), np.eye(4, dtype=np.float32)[[0, 0, 1, 2, 3]],
        out.reshape(-1),
    )  # fmt: skip
    assert np.array_equal(out, rgb)


@needs_compiled
@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("channels_last", [False, True])
def test_normalize_equals_torch_ops_on_every_byte(channels, channels_last):
    """The compiled table lookup against normalize_bytes' torch ops, for all 256 byte values
    in every channel position, batched."""
    values = torch.arange(256, dtype=torch.uint8)
    images = torch.stack([values.roll(k) for k in range(3 * channels)]).view(3, 16, 16, channels)
    got = transforms.normalize_bytes(images, channels_last)
    saved = transforms._torch_cubic
    transforms._torch_cubic = None
    try:
        want = transforms.normalize_bytes(images, channels_last)
    finally:
        transforms._torch_cubic = saved
    assert got.shape == want.shape == (3, 3, 16, 16)
    assert got.stride() == want.stride()
    assert torch.equal(got, want)


@needs_compiled
@pytest.mark.parametrize(
    "args, message",
    [
        ((np.zeros(12, np.uint8), 2, 2, np.zeros(768, np.float32), np.zeros(18, np.float32)), ""),
        ((np.zeros(12, np.uint8), 0, 3, np.zeros(768, np.float32), np.zeros(12, np.float32)), ""),
        ((np.zeros(12, np.uint8), 5, 3, np.zeros(768, np.float32), np.zeros(12, np.float32)), ""),
        ((np.zeros(12, np.uint8), 1, 3, np.zeros(767, np.float32), np.zeros(12, np.float32)), ""),
        ((np.zeros(12, np.uint8), 1, 3, np.zeros(768, np.float32), np.zeros(11, np.float32)), ""),
        ((np.zeros(12, np.uint8), 1, 1, np.zeros(768, np.float32), np.zeros(12, np.float32)), ""),
    ],
)
def test_normalize_refuses_inconsistent_sizes(args, message):
    with pytest.raises(ValueError, match="normalize: inconsistent sizes"):
        compiled.normalize(*args, False)


@needs_compiled
def test_scale_bytes_falls_back_to_a_copy(monkeypatch):
    """Where Pillow cannot export its pixels (an image over its 16 MB block, or Pillow < 11.2
    without __arrow_c_array__), fast reads a numpy copy: the same bytes."""
    tall = np.random.default_rng(2).integers(0, 256, (24_000, 240, 3), dtype=np.uint8)
    im = Image.fromarray(tall)
    with pytest.raises(ValueError):
        im.__arrow_c_array__()  # stored in several blocks
    window = (10, 20, 110, 90)
    got = transforms._scale_bytes(im, 299, 29_900, window)
    assert np.array_equal(got.numpy(), _scale_bytes(im, 299, 29_900, window, "numpy"))
    small = Image.fromarray(tall[:300])
    want = transforms._scale_bytes(small, 299, 373, window)
    monkeypatch.delattr(Image.Image, "__arrow_c_array__")
    assert torch.equal(transforms._scale_bytes(small, 299, 373, window), want)
