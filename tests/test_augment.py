"""Training augmentation: determinism, shapes, crop statistics, and the colour maths by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from evaluate.data.augment import (
    TrainTransform,
    brightness,
    color_jitter,
    contrast,
    lighting,
    random_sized_crop,
    saturation,
    sized_crop_box,
)

PHOTO = "02_chelsea_landscape_451x300.JPEG"


def _image(seed: int = 0, height: int = 120, width: int = 160) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_same_seed_same_tensor_and_seeds_differ():
    transform = TrainTransform(crop_size=64)
    image = _image()
    a, b, c = transform(image, 7), transform(image, 7), transform(image, 8)
    assert a.shape == (3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_generator_state_advances_and_replays():
    transform = pickle.loads(pickle.dumps(TrainTransform(crop_size=32)))
    image = _image(1)
    gen = torch.Generator().manual_seed(3)
    first, second = transform(image, gen), transform(image, gen)
    assert not torch.equal(first, second)
    gen.manual_seed(3)
    assert torch.equal(transform(image, gen), first)


def test_path_and_decoded_image_agree(fixtures):
    from evaluate.data.imagedecode import decode_image

    path = fixtures / "images" / PHOTO
    out = TrainTransform()(path, 11)
    assert out.shape == (3, 299, 299) and out.dtype == torch.float32
    assert torch.equal(out, TrainTransform()(decode_image(path), 11))
    print(f"train crop of {PHOTO}: mean {out.mean():.3f} std {out.std():.3f}")
    assert -1.5 < float(out.mean()) < 1.5 and 0.2 < float(out.std()) < 2.0


def test_crop_statistics_are_inception_style():
    gen = torch.Generator().manual_seed(0)
    height, width = 375, 500
    areas, ratios = [], []
    for _ in range(3000):
        box = sized_crop_box(height, width, gen)
        assert box is not None  # a 4:3 image practically never exhausts 10 attempts
        left, top, w, h = box
        assert 0 <= left and left + w <= width and 0 <= top and top + h <= height
        areas.append(w * h / (width * height))
        ratios.append(w / h)
    areas, ratios = np.array(areas), np.array(ratios)
    print(
        f"area fraction: min {areas.min():.3f} mean {areas.mean():.3f} max {areas.max():.3f}; "
        f"w/h: min {ratios.min():.3f} max {ratios.max():.3f}"
    )
    assert areas.min() >= 0.075 and areas.max() <= 1.0
    # Uniform area in [0.08, 1] minus the draws that do not fit: a mean near 0.45.
    assert 0.35 < areas.mean() < 0.54
    # transforms.lua: w = sqrt(A*r), h = sqrt(A/r), so w/h = r in [3/4, 4/3] (up to rounding),
    # both ways round as w and h are swapped half of the time.
    assert ratios.min() >= 3 / 4 - 0.02 and ratios.max() <= 4 / 3 + 0.02
    assert ratios.min() < 0.77 and ratios.max() > 1.3


def test_extreme_aspect_falls_back_to_scale_and_center_crop():
    gen = torch.Generator().manual_seed(0)
    assert all(sized_crop_box(20, 2000, gen) is None for _ in range(20))
    image = _image(2, 20, 200)
    out = random_sized_crop(image, 16, gen)
    assert out.shape == (16, 16, 3) and out.dtype == torch.float32


def test_brightness_by_hand():
    img = torch.tensor([[[0.5, 1.0]], [[0.25, 0.0]], [[0.75, 0.5]]])
    assert torch.allclose(brightness(img.clone(), 1.2), img * 1.2, atol=1e-7)


def test_saturation_by_hand():
    img = torch.tensor([[[0.2]], [[0.4]], [[0.6]]])
    # gray = 0.299*0.2 + 0.587*0.4 + 0.114*0.6 = 0.363; alpha 0.5 -> halfway to gray
    want = torch.tensor([[[0.2815]], [[0.3815]], [[0.4815]]])
    got = saturation(img, 0.5)
    print(f"saturation max|d| = {(got - want).abs().max():.2g}")
    assert torch.allclose(got, want, atol=1e-6)


def test_contrast_by_hand():
    img = torch.tensor([[[0.0, 1.0]], [[0.0, 1.0]], [[0.0, 1.0]]])
    # gray of the pixels: 0 and 1 (weights sum to 1), mean 0.5; alpha 0.5
    got = contrast(img, 0.5)
    assert torch.allclose(got, torch.tensor([[[0.25, 0.75]]] * 3), atol=1e-6)


def test_lighting_by_hand():
    img = torch.zeros(3, 1, 1)
    got = lighting(img.clone(), torch.tensor([1.0, 0.0, 0.0])).flatten()
    want = torch.tensor([-0.5675, -0.5808, -0.5836]) * 0.2175  # first eigenvector * eigval
    assert torch.allclose(got, want, atol=1e-7)
    got = lighting(img.clone(), torch.tensor([0.0, 2.0, 0.0])).flatten()
    want = torch.tensor([0.7192, -0.0045, -0.6948]) * 0.0188 * 2
    assert torch.allclose(got, want, atol=1e-7)


def test_color_jitter_stays_within_its_range():
    gen = torch.Generator().manual_seed(5)
    img = torch.full((3, 4, 4), 0.5)
    out = color_jitter(img.clone(), gen)
    # Three factors in [0.6, 1.4] applied to a flat gray image: value in [0.5*0.6^3, 0.5*1.4^3].
    assert out.std() < 1e-6
    assert 0.5 * 0.6**3 - 1e-6 <= float(out.mean()) <= 0.5 * 1.4**3 + 1e-6


def test_flips_about_half_the_time():
    transform = TrainTransform(crop_size=8)
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    image[:, :4] = 255  # left half white: a flip moves it right
    outs = [transform(image, seed)[0] for seed in range(200)]
    flips = sum(float(out[:, :4].mean()) < float(out[:, 4:].mean()) for out in outs)
    print(f"flipped {flips}/200")
    assert 70 < flips < 130


@pytest.mark.parametrize("size", [1, 2])
def test_tiny_crop_sizes(size):
    out = TrainTransform(crop_size=size)(_image(3, 5, 7), 0)
    assert out.shape == (3, size, size) and torch.isfinite(out).all()
