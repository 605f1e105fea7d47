"""Evaluation preprocessing against the Torch7-written image references (MANIFEST §3.4, §4.6).

images_ref_loaded.t7: image.load bytes; images_ref_scaled.t7: after Scale(328) (bicubic), before
ColorNormalize; images_ref.t7: the final 3x299x299 centre crop. Every comparison prints its error.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
import torchfile
from PIL import ImageFile

from converter.errors import UserError
from evaluate.imagedecode import BadImageError, decode_image
from evaluate.transforms import (
    MEAN,
    STD,
    ValTransform,
    center_offsets,
    load_val_tensor,
    normalize_chw,
    scaled_size,
    ten_crop_offsets,
    torch_scale,
)

NAMES = [
    "01_astronaut_square_400x400.JPEG",
    "02_chelsea_landscape_451x300.JPEG",
    "04_motorcycle_portrait_375x500.JPEG",
    "06_camera_gray_480x360.JPEG",
    "07_rocket_cmyk_480x320.JPEG",
    "08_coffee_png_disguised_400x350.JPEG",
    "09_astronaut_exact328_328x400.JPEG",
]
EXACT = 0.0  # README claims bit-identical crops: the 2e-5 bound would hide a slip


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchfile.load(str(path), use_list_heuristic=False)


@pytest.fixture(scope="module")
def refs(fixtures):
    final = _load(fixtures / "images_ref.t7")
    return {
        "final": final,
        "scaled": _load(fixtures / "images_ref_scaled.t7")[b"scaled"],
        "loaded": _load(fixtures / "images_ref_loaded.t7")[b"loaded"],
    }


def _report(what, name, got, want):
    diff = np.abs(np.asarray(got, dtype=np.float64) - np.asarray(want, dtype=np.float64))
    print(f"{what:>10} {name}: max|d|={diff.max():.3g} differing={int((diff > 0).sum())}")
    return diff.max()


def _normalized_ref(scaled: np.ndarray) -> torch.Tensor:
    """Torch's ColorNormalize of a reference scaled image, float32, 3 x H x W."""
    mean = np.array(MEAN, np.float32)[:, None, None]
    std = np.array(STD, np.float32)[:, None, None]
    return torch.from_numpy(((scaled - mean) / std).astype(np.float32))


def test_reference_names_are_the_fixture_set(refs):
    assert sorted(k.decode() for k in refs["final"][b"order"].values()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_decode_equals_torch_image_load(fixtures, refs, name):
    got = decode_image(fixtures / "images" / name)
    want = refs["loaded"][name.encode()]
    assert got.dtype == np.uint8 and got.flags.writeable
    assert got.shape == (want.shape[1], want.shape[2], 3)
    assert _report("decode", name, got.transpose(2, 0, 1), want) == 0


@pytest.mark.parametrize("name", NAMES)
def test_geometry_matches_torch_info(refs, name):
    info = refs["final"][b"info"][name.encode()]
    _, height, width = (int(v) for v in info[b"loaded_size"].values())
    _, out_h, out_w = (int(v) for v in info[b"scaled_size"].values())
    assert scaled_size(width, height) == (out_w, out_h)
    assert center_offsets(out_w, out_h) == tuple(int(v) for v in info[b"crop_x1y1"].values())


@pytest.mark.parametrize("name", NAMES)
def test_scale_from_torch_bytes_matches(refs, name):
    """Starting from Torch's own bytes, so only image.scale is under test (whole image)."""
    loaded = refs["loaded"][name.encode()].transpose(1, 2, 0)
    want = refs["scaled"][name.encode()]
    width, height = scaled_size(loaded.shape[1], loaded.shape[0])
    if (width, height) == loaded.shape[1::-1]:
        pytest.skip("Scale(328) returns this image unchanged (checked end to end)")
    got = torch_scale(loaded, width, height).numpy().transpose(2, 0, 1)
    assert got.shape == want.shape
    assert _report("scale", name, got, want) == EXACT


@pytest.mark.parametrize("name", NAMES)
def test_window_of_scale_equals_full_scale(refs, name):
    """The 1-crop path interpolates only the crop window: same numbers as the full image."""
    loaded = refs["loaded"][name.encode()].transpose(1, 2, 0)
    width, height = scaled_size(loaded.shape[1], loaded.shape[0])
    left, top = center_offsets(width, height)
    full = torch_scale(loaded, width, height)
    window = torch_scale(loaded, width, height, (left, top, left + 299, top + 299))
    assert torch.equal(window, full[top : top + 299, left : left + 299])


@pytest.mark.parametrize("name", NAMES)
def test_crop_from_torch_bytes_matches(refs, name):
    loaded = refs["loaded"][name.encode()].transpose(1, 2, 0)
    width, height = scaled_size(loaded.shape[1], loaded.shape[0])
    left, top = center_offsets(width, height)
    scaled = torch_scale(loaded, width, height, (left, top, left + 299, top + 299))
    got = normalize_chw(scaled)
    assert _report("crop", name, got, refs["final"][name.encode()]) == EXACT


@pytest.mark.parametrize("name", NAMES)
def test_end_to_end_one_crop(fixtures, refs, name):
    got = load_val_tensor(fixtures / "images" / name, mode="torch7", crops=1)
    assert got.shape == (3, 299, 299) and got.dtype == torch.float32 and got.is_contiguous()
    assert _report("e2e", name, got, refs["final"][name.encode()]) == EXACT


@pytest.mark.parametrize("name", NAMES)
def test_ten_crop_matches_windows_of_torch_scaled(fixtures, refs, name):
    """Each crop equals its window of Torch's normalised scaled image (or of its flip): the
    only check that reaches the image borders, where the bicubic extrapolates."""
    got = load_val_tensor(fixtures / "images" / name, mode="torch7", crops=10)
    assert got.shape == (10, 3, 299, 299) and got.dtype == torch.float32
    image = _normalized_ref(refs["scaled"][name.encode()])
    height, width = image.shape[1:]
    worst = 0.0
    for half, img in enumerate((image, torch.flip(image, dims=(2,)))):
        for k, (left, top) in enumerate(ten_crop_offsets(width, height)):
            want = img[:, top : top + 299, left : left + 299]
            worst = max(worst, float((got[5 * half + k] - want).abs().max()))
    print(f"   tencrop {name}: max|d|={worst:.3g}")
    assert worst == EXACT


def test_ten_crop_order_is_fb_resnet():
    """TenCrop: for image then hflip: centre, top-left, top-right, bottom-left, bottom-right."""
    assert ten_crop_offsets(437, 328) == [(69, 15), (0, 0), (138, 0), (0, 29), (138, 29)]


def test_scale_identity_when_short_side_is_size():
    assert scaled_size(328, 400) == (328, 400)
    assert scaled_size(400, 328) == (400, 328)
    assert scaled_size(500, 375) == (437, 328)  # 500/375*328 = 437.33 truncated
    assert scaled_size(300, 300) == (328, 328)


def test_center_offset_is_ceil():
    assert center_offsets(328, 328) == (15, 15)  # (328-299)/2 = 14.5 -> 15, torchvision: 14


@pytest.mark.parametrize("name", NAMES)
def test_fast_is_close_to_torch7(fixtures, name):
    """fast = Pillow (antialiased bicubic on bytes): measured distance from torch7, in
    normalised units (1/255 of [0,1] is about 0.017 here). Bounds are the measured values
    rounded up, so a geometry slip (a half-pixel shift gives mean > 0.05) fails."""
    path = fixtures / "images" / name
    worst_mean = 0.0
    for crops in (1, 10):
        t7 = load_val_tensor(path, mode="torch7", crops=crops)
        fast = load_val_tensor(path, mode="fast", crops=crops)
        assert fast.shape == t7.shape and fast.dtype == torch.float32
        diff = (fast - t7).abs()
        print(f"fast-{crops:<2}    {name}: max|d|={diff.max():.3g} mean|d|={diff.mean():.3g}")
        assert diff.max() < 0.6
        worst_mean = max(worst_mean, float(diff.mean()))
    assert worst_mean < 0.02
    if name.startswith("09_"):  # no resize at all: the byte arithmetic is torch7's, exactly
        assert worst_mean == 0.0


def test_val_transform_is_picklable_and_matches(fixtures):
    path = fixtures / "images" / NAMES[1]
    transform = pickle.loads(pickle.dumps(ValTransform(mode="torch7", crops=10)))
    assert torch.equal(transform(path), load_val_tensor(path, crops=10))


def test_options_are_checked():
    with pytest.raises(ValueError, match="mode"):
        ValTransform(mode="pil")
    with pytest.raises(ValueError, match="crops"):
        load_val_tensor("x.jpg", crops=5)


# --- bad inputs --------------------------------------------------------------------------------


def test_truncated_images_are_not_padded():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("mode", ["torch7", "fast"])
@pytest.mark.parametrize("case", ["truncated", "empty", "text", "truncated_png", "missing"])
def test_bad_files_raise_with_their_path(fixtures, tmp_path, case, mode):
    good = (fixtures / "images" / NAMES[0]).read_bytes()
    png = (fixtures / "images" / NAMES[5]).read_bytes()
    path = tmp_path / f"{case}.JPEG"
    content = {
        "truncated": good[: len(good) // 2],
        "empty": b"",
        "text": b"this is not an image\n",
        "truncated_png": png[: len(png) // 2],
    }.get(case)
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BadImageError) as info:
        load_val_tensor(path, mode=mode)
    message = str(info.value)
    print(f"{case}: {message}")
    assert isinstance(info.value, UserError)
    assert str(path) in message and "\n" not in message
    expected = {
        "truncated": "truncated",
        "empty": "empty",
        "text": "not a JPEG",
        "truncated_png": "truncated",
        "missing": "No such file",
    }[case]
    assert expected in message


def test_decode_image_raises_for_truncated(fixtures, tmp_path):
    good = (fixtures / "images" / NAMES[3]).read_bytes()
    path = tmp_path / "cut.JPEG"
    path.write_bytes(good[:-100])
    with pytest.raises(BadImageError, match="truncated"):
        decode_image(path)
