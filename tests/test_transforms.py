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
from PIL import Image, ImageFile
from rounding import TIE, assert_rounded

from converter.errors import UserError
from evaluate.data import transforms
from evaluate.data.imagedecode import BadImageError, decode_image
from evaluate.data.preprocess import ValTransform, load_val_tensor, model_input
from evaluate.data.transforms import (
    MEAN,
    STD,
    center_offsets,
    normalize_bytes,
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
FAST_MEAN = 0.005  # mean |fast - torch7| measured 0.0021-0.0043 on the fixture photos
DRAFT_MEAN = 0.025  # measured 0.018 on a 1600x1200 copy decoded at 1/2 scale


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchfile.load(str(path), use_list_heuristic=False)


@pytest.fixture(params=["compiled", "torch ops"])
def bicubic(request, monkeypatch):
    """Each exactness test runs on both implementations of Torch's bicubic: the compiled
    module (evaluate/data/_torch_cubic.c) and the torch-op one an install without a compiler
    uses."""
    if request.param == "torch ops":
        monkeypatch.setattr(transforms, "_torch_cubic", None)
    elif transforms._torch_cubic is None:
        pytest.skip("evaluate.data._torch_cubic is not compiled (no C compiler at install time)")
    return request.param


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
def test_scale_from_torch_bytes_matches(refs, name, bicubic):
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
def test_window_of_scale_equals_full_scale(refs, name, bicubic):
    """The 1-crop path interpolates only the crop window: same numbers as the full image."""
    loaded = refs["loaded"][name.encode()].transpose(1, 2, 0)
    width, height = scaled_size(loaded.shape[1], loaded.shape[0])
    left, top = center_offsets(width, height)
    full = torch_scale(loaded, width, height)
    window = torch_scale(loaded, width, height, (left, top, left + 299, top + 299))
    assert torch.equal(window, full[top : top + 299, left : left + 299])


@pytest.mark.parametrize("name", NAMES)
def test_crop_from_torch_bytes_matches(refs, name, bicubic):
    loaded = refs["loaded"][name.encode()].transpose(1, 2, 0)
    width, height = scaled_size(loaded.shape[1], loaded.shape[0])
    left, top = center_offsets(width, height)
    scaled = torch_scale(loaded, width, height, (left, top, left + 299, top + 299))
    got = normalize_chw(scaled)
    assert _report("crop", name, got, refs["final"][name.encode()]) == EXACT


@pytest.mark.parametrize("name", NAMES)
def test_end_to_end_one_crop(fixtures, refs, name, bicubic):
    got = load_val_tensor(fixtures / "images" / name, mode="torch7", crops=1)
    assert got.shape == (3, 299, 299) and got.dtype == torch.float32 and got.is_contiguous()
    assert _report("e2e", name, got, refs["final"][name.encode()]) == EXACT


@pytest.mark.parametrize("name", NAMES)
def test_ten_crop_matches_windows_of_torch_scaled(fixtures, refs, name, bicubic):
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


def _torch_values(scaled: np.ndarray) -> torch.Tensor:
    """Torch's scaled image (C x H x W float32) in byte units, H x W x 3 (gray replicated)."""
    values = torch.from_numpy(scaled * np.float32(255))
    return values.permute(1, 2, 0).expand(-1, -1, 3)


@pytest.mark.parametrize("name", NAMES)
def test_fast_bytes_are_torch_scaled_image_rounded(fixtures, refs, name, bicubic):
    """On images too small for draft decoding (all of these), fast ships Torch's own scaled
    image rounded to bytes: checked crop by crop against images_ref_scaled.t7. Exactly so
    with the torch-op fallback (Torch's arithmetic), up to near-ties with the compiled resize."""
    path = fixtures / "images" / name
    image = _torch_values(refs["scaled"][name.encode()])
    exact = bicubic == "torch ops"
    height, width = image.shape[:2]
    one = ValTransform("fast", crops=1)(path)
    left, top = center_offsets(width, height)
    assert one.shape == (299, 299, 3)
    assert_rounded(one, image[top : top + 299, left : left + 299], exact, f"fast-1  {name}")
    ten = ValTransform("fast", crops=10)(path)
    assert ten.shape == (10, 299, 299, 3)
    for half, img in enumerate((image, torch.flip(image, dims=(1,)))):
        for k, (left, top) in enumerate(ten_crop_offsets(width, height)):
            window = img[top : top + 299, left : left + 299]
            crop = 5 * half + k
            assert_rounded(ten[crop], window, exact, f"fast-10 {name} crop {crop}")


@pytest.mark.parametrize("name", NAMES)
def test_fast_is_close_to_torch7(fixtures, name):
    """The model input of fast vs torch7, in normalised units. Rounding to bytes moves a value
    by at most 0.5/255 before normalising, 0.5/255/0.224 = 0.0088 after; where the bicubic
    overshoots 0..1 (at sharp edges), bytes clamp it, which is the larger but rare difference."""
    path = fixtures / "images" / name
    bound = (0.5 + TIE) / 255 / min(STD)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    for crops in (1, 10):
        t7 = load_val_tensor(path, mode="torch7", crops=crops)
        fast = load_val_tensor(path, mode="fast", crops=crops)
        assert fast.shape == t7.shape and fast.dtype == torch.float32
        diff = (fast - t7).abs()
        value = t7 * std + mean  # torch7's scaled value, 0..1 unless the bicubic overshoots
        inside = (value >= 0) & (value <= 1)
        print(
            f"fast-{crops:<2}    {name}: max|d|={diff.max():.3g} mean|d|={diff.mean():.3g} "
            f"max|d| within 0..1={diff[inside].max():.3g} overshoot={1 - inside.float().mean():.2%}"
        )
        assert diff[inside].max() <= bound
        assert diff.mean() < FAST_MEAN
        if name.startswith("09_"):  # no resize at all: the bytes themselves, exactly torch7
            assert diff.max() == 0.0


def test_fast_with_draft_decoding(fixtures, tmp_path):
    """A 1600x1200 JPEG is decoded at 1/2 scale (800x600: 1/4 would be smaller than 437x328),
    then scaled as Torch would scale those pixels: measured distance from torch7, bounded a
    little above the measured value so that a geometry slip (a half-pixel shift) fails."""
    with Image.open(fixtures / "images" / NAMES[0]) as im:
        im.convert("RGB").resize((1600, 1200), Image.BICUBIC).save(tmp_path / "big.jpg", quality=90)
    path = tmp_path / "big.jpg"
    with Image.open(path) as im:
        im.draft("RGB", scaled_size(1600, 1200))
        assert im.size == (800, 600)  # the draft decoding under test
    for crops in (1, 10):
        t7 = load_val_tensor(path, mode="torch7", crops=crops)
        fast = load_val_tensor(path, mode="fast", crops=crops)
        diff = (fast - t7).abs()
        print(f"draft fast-{crops:<2}: max|d|={diff.max():.3g} mean|d|={diff.mean():.3g}")
        assert diff.mean() < DRAFT_MEAN


def test_normalize_bytes_is_torch7_arithmetic():
    """Bytes normalised on the device give what torch7 gives for byte * float32(1/255)."""
    gen = torch.Generator().manual_seed(0)
    for channels in (3, 1):
        pixels = torch.randint(0, 256, (2, 5, 7, channels), dtype=torch.uint8, generator=gen)
        got = normalize_bytes(pixels)
        assert got.shape == (2, 3, 5, 7) and got.dtype == torch.float32
        for k in range(2):
            scaled = torch.from_numpy(
                np.multiply(pixels[k].numpy(), np.float32(1 / 255), dtype=np.float32)
            )
            assert torch.equal(got[k], normalize_chw(scaled))
    nhwc = normalize_bytes(pixels, channels_last=True)  # the bytes' own order: no transpose
    assert nhwc.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(nhwc, normalize_bytes(pixels))
    with pytest.raises(ValueError, match="C = 1 or 3"):  # bytes laid out N x C x H x W
        normalize_bytes(pixels.permute(0, 3, 1, 2).expand(-1, 3, -1, -1))
    floats = torch.rand(2, 3, 4, 4)
    assert model_input(floats) is floats
    assert torch.equal(model_input(pixels), normalize_bytes(pixels))


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
