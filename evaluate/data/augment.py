"""Training augmentation of the published model (FACTS §4; fb.resnet.torch datasets/transforms.lua).

Per image, in Lua's order: RandomSizedCrop(299) (Inception-style: 8-100 % of the area, aspect
3/4-4/3, 10 attempts, then Scale + CenterCrop), ColorJitter (brightness, contrast, saturation
0.4, in random order), Lighting (AlexNet PCA noise, std 0.1), ColorNormalize, HorizontalFlip(0.5).
The resize is Torch's own bicubic (`transforms.torch_scale`), as in Lua.

Randomness comes only from the `torch.Generator` (or integer seed) passed per call, so a trainer
that derives the seed from (epoch, sample index) gets the same batch after a resume. The draws
follow Lua's order but not its generator, so the numbers differ from a Lua run.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from evaluate.data.imagedecode import decode_image
from evaluate.data.transforms import CROP_SIZE, MEAN, STD, center_offsets, scaled_size, torch_scale

# datasets/imagenet.lua: pca (AlexNet lighting) and the jitter strengths of setting 1.
EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
EIGVEC = torch.tensor(
    [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]
)
JITTER = 0.4
LIGHTING_STD = 0.1
_GRAY = (0.299, 0.587, 0.114)
_MEAN = torch.tensor(MEAN).view(3, 1, 1)
_STD = torch.tensor(STD).view(3, 1, 1)


def _uniform(gen: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    """torch.uniform(low, high) of Lua, from `gen`."""
    return low + (high - low) * torch.rand((), generator=gen, dtype=torch.float64).item()


def _lua_round(x: float) -> int:
    """torch.round: halves away from zero (Python's round() goes to even)."""
    return math.floor(x + 0.5)


def sized_crop_box(
    height: int, width: int, gen: torch.Generator, attempts: int = 10
) -> tuple[int, int, int, int] | None:
    """(left, top, w, h) of fb.resnet.torch RandomSizedCrop, or None for its fallback.

    As transforms.lua: w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)) (so w/h is
    the ratio), swapped with probability 1/2; the corner is `torch.random(0, n)`, an integer
    uniform over 0..n inclusive.
    """
    for _ in range(attempts):
        target_area = _uniform(gen, 0.08, 1.0) * height * width
        ratio = _uniform(gen, 3 / 4, 4 / 3)
        w = _lua_round(math.sqrt(target_area * ratio))
        h = _lua_round(math.sqrt(target_area / ratio))
        if _uniform(gen) < 0.5:
            w, h = h, w
        if h <= height and w <= width:
            top = int(torch.randint(0, height - h + 1, (), generator=gen))
            left = int(torch.randint(0, width - w + 1, (), generator=gen))
            return left, top, w, h
    return None


def random_sized_crop(pixels: np.ndarray, size: int, gen: torch.Generator) -> torch.Tensor:
    """RandomSizedCrop(size) of an H x W x 3 uint8 image: size x size x 3 float32 in [0, 1]."""
    height, width = pixels.shape[:2]
    box = sized_crop_box(height, width, gen)
    if box is not None:
        left, top, w, h = box
        return torch_scale(pixels[top : top + h, left : left + w], size, size)
    new_w, new_h = scaled_size(width, height, size)  # fallback: CenterCrop(Scale(size))
    left, top = center_offsets(new_w, new_h, size)
    window = (left, top, left + size, top + size)
    if (new_w, new_h) == (width, height):
        pixels = pixels[top : top + size, left : left + size]
        return torch.from_numpy(np.multiply(pixels, np.float32(1 / 255), dtype=np.float32))
    return torch_scale(pixels, new_w, new_h, window)


def grayscale(img: torch.Tensor) -> torch.Tensor:
    """Lua `grayscale`: 0.299 R + 0.587 G + 0.114 B of a 3 x H x W image, as 1 x H x W."""
    return (img[0] * _GRAY[0] + img[1] * _GRAY[1] + img[2] * _GRAY[2]).unsqueeze(0)


def blend(img: torch.Tensor, other: torch.Tensor | float, alpha: float) -> torch.Tensor:
    """Lua `blend`, in place: img * alpha + (1 - alpha) * other."""
    return img.mul_(alpha).add_(other * (1 - alpha))


def brightness(img: torch.Tensor, alpha: float) -> torch.Tensor:
    return blend(img, 0.0, alpha)


def contrast(img: torch.Tensor, alpha: float) -> torch.Tensor:
    return blend(img, grayscale(img).mean().item(), alpha)


def saturation(img: torch.Tensor, alpha: float) -> torch.Tensor:
    return blend(img, grayscale(img), alpha)


def color_jitter(img: torch.Tensor, gen: torch.Generator, strength: float = JITTER) -> torch.Tensor:
    """ColorJitter{brightness, contrast, saturation = strength}: a random order (randperm),
    then each with alpha = 1 + U(-strength, strength), in place."""
    ops = (brightness, contrast, saturation)
    for k in torch.randperm(3, generator=gen).tolist():
        ops[k](img, 1.0 + _uniform(gen, -strength, strength))
    return img


def lighting(
    img: torch.Tensor,
    alpha: torch.Tensor,
    eigval: torch.Tensor = EIGVAL,
    eigvec: torch.Tensor = EIGVEC,
) -> torch.Tensor:
    """AlexNet PCA lighting, in place: add eigvec @ (alpha * eigval) to each channel."""
    rgb = (eigvec * alpha.view(1, 3) * eigval.view(1, 3)).sum(dim=1)
    return img.add_(rgb.to(img.dtype).view(3, 1, 1))


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen


class TrainTransform:
    """Picklable `(path or H x W x 3 uint8 image, seed) -> 3 x crop x crop float32 tensor`.

    `seed` is an int or a torch.Generator (its state advances); None draws a fresh seed, which
    is not reproducible: the trainer should pass e.g. hash((epoch, index)).
    """

    def __init__(self, crop_size: int = CROP_SIZE) -> None:
        self.crop_size = crop_size

    def __call__(
        self, image: str | os.PathLike | np.ndarray, seed: int | torch.Generator | None = None
    ) -> torch.Tensor:
        gen = _generator(seed)
        pixels = image if isinstance(image, np.ndarray) else decode_image(image, writable=False)
        img = random_sized_crop(pixels, self.crop_size, gen).permute(2, 0, 1).contiguous()
        color_jitter(img, gen)
        lighting(img, torch.normal(0.0, LIGHTING_STD, (3,), generator=gen))
        img.sub_(_MEAN).div_(_STD)
        if _uniform(gen) < 0.5:
            img = img.flip(2)
        return img

    def __repr__(self) -> str:
        return f"TrainTransform(crop_size={self.crop_size})"
