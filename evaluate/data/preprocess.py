"""Evaluation preprocessing: one image file -> the float32 tensor the model sees.

Two pipelines with the same geometry (FACTS §3, lim0606 `datasets/imagenet.lua` val split:
`Scale(328) -> ColorNormalize -> CenterCrop(299)`, or `TenCrop(299)`):

- ``torch7`` reproduces the authors' Lua pipeline bit for bit: Torch's `image.load` bytes
  (imagedecode.py), `byte * float32(1/255)`, Torch `image.scale` bicubic (separable rows then
  columns, Catmull-Rom, align-corners mapping, linear extrapolation at the borders, no
  antialiasing, float32 with the one double-precision step of the C code), float32
  `(x - mean) / std`, `ceil` centre-crop offsets. For one crop only the crop window is
  interpolated, and grayscale is interpolated once and replicated afterwards. The bicubic runs
  in the compiled `_torch_cubic` module (Torch's C expressions, built at install time); an
  install without a C compiler gets the same bits from vectorised torch ops (one elementwise
  op per C expression), about four times slower.
- ``fast`` decodes JPEGs in Pillow's draft mode (at 1/2, 1/4 or 1/8 scale, in the DCT) when the
  file is at least twice the needed size, then resizes what was decoded with Torch's bicubic
  (same positions, kernel and borders) straight from Pillow's pixel memory to rounded bytes,
  in one compiled pass with float32 weights (`_scale_bytes`). The DataLoader ships the bytes (a
  quarter of float32) and `normalize_bytes` turns them into the model input on the device with
  torch7's arithmetic. So on images too small for draft decoding its crop is the torch7 crop
  rounded to bytes, but for a byte or so per image that differs by 1 at a near-tie: at most
  0.5/255/std = 0.0088 away where Torch's values lie in 0..1, more where the bicubic
  overshoots and bytes clamp, 0.002-0.004 on average (tests/test_transforms.py prints the
  numbers); where draft decoding applies it also sees the DCT-reduced pixels that libjpeg
  computes. Without the compiled module the bytes come from the torch7 arithmetic, rounded.

Ten-crop order is fb.resnet.torch's `TenCrop`: for the image, then its horizontal flip: centre,
top-left, top-right, bottom-left, bottom-right. Scores are summed over the 10 crops by the caller.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from evaluate.data import transforms
from evaluate.data.imagedecode import load_pixels, open_image, torch_channels
from evaluate.data.transforms import (
    CROP_SIZE,
    SCALE_SIZE,
    _scale,
    _scale_bytes,
    _to_bytes,
    center_offsets,
    normalize_bytes,
    normalize_chw,
    scaled_size,
    ten_crop_offsets,
)

MODES = ("torch7", "fast")


def _ten_crops(image: torch.Tensor, crop: int, h_dim: int) -> torch.Tensor:
    """fb.resnet.torch TenCrop of an image whose height, width are dims h_dim, h_dim + 1:
    10 crops stacked on a new first dim."""
    w_dim = h_dim + 1
    height, width = image.shape[h_dim], image.shape[w_dim]
    crops = []
    for img in (image, torch.flip(image, dims=(w_dim,))):
        for left, top in ten_crop_offsets(width, height, crop):
            crops.append(img.narrow(h_dim, top, crop).narrow(w_dim, left, crop))
    return torch.stack(crops)


def _window(width: int, height: int, crops: int, crop_size: int) -> tuple[int, int, int, int]:
    """The part of the scaled image the crops use: the centre crop, or all of it for TenCrop."""
    if crops == 10:
        return 0, 0, width, height
    left, top = center_offsets(width, height, crop_size)
    return left, top, left + crop_size, top + crop_size


def _decode(path: str | os.PathLike, scale_size: int, draft: bool) -> tuple[Image.Image, int, int]:
    """The image as Torch's bytes ("L" or "RGB"; grayscale stays one channel until normalised)
    and the width, height Scale(scale_size) gives it. With `draft`, a JPEG at least twice that
    size is decoded at 1/2, 1/4 or 1/8 scale in the DCT."""
    im = open_image(path)
    width, height = scaled_size(*im.size, scale_size)
    if draft and im.format == "JPEG":
        im.draft("RGB" if im.mode == "RGB" else None, (width, height))
    load_pixels(im, path)
    return torch_channels(im, path), width, height


def _crop_bytes(im: Image.Image, window: tuple[int, int, int, int]) -> torch.Tensor:
    """A window of the image's bytes, H x W x C uint8 (C = 1 or 3)."""
    pixels = torch.from_numpy(np.array(im.crop(window)))
    return pixels.view(pixels.shape[0], pixels.shape[1], -1)


def _torch7_tensor(
    path: str | os.PathLike, crops: int, scale_size: int, crop_size: int
) -> torch.Tensor:
    im, width, height = _decode(path, scale_size, draft=False)
    window = _window(width, height, crops, crop_size)
    if (width, height) == im.size:  # Scale(328) returned its input unchanged
        image = normalize_bytes(_crop_bytes(im, window))
    else:
        image = normalize_chw(_scale(im, width, height, window))
    return image if crops == 1 else _ten_crops(image, crop_size, h_dim=1)


def _fast_bytes(
    path: str | os.PathLike, crops: int, scale_size: int, crop_size: int
) -> torch.Tensor:
    """The fast crop(s) as bytes: crop x crop x 3 uint8, or 10 x crop x crop x 3."""
    im, width, height = _decode(path, scale_size, draft=True)
    window = _window(width, height, crops, crop_size)
    if (width, height) == im.size:  # no resize: Torch's bytes as they are
        pixels = _crop_bytes(im, window)
    elif transforms._torch_cubic is not None:  # looked up here, where it is bound
        pixels = _scale_bytes(im, width, height, window)
    else:  # the torch7 arithmetic in torch ops, rounded: the same bytes but at near-ties
        pixels = _to_bytes(_scale(im, width, height, window))  # H x W x C, like _crop_bytes
    pixels = pixels.expand(-1, -1, 3)
    return pixels.contiguous() if crops == 1 else _ten_crops(pixels, crop_size, h_dim=0)


# --- public entry points --------------------------------------------------------------------


def _check(mode: str, crops: int) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if crops not in (1, 10):
        raise ValueError(f"crops must be 1 or 10, not {crops!r}")


def load_val_tensor(
    path: str | os.PathLike,
    mode: str = "torch7",
    crops: int = 1,
    scale_size: int = SCALE_SIZE,
    crop_size: int = CROP_SIZE,
) -> torch.Tensor:
    """The float32 tensor the model sees for one image file.

    3 x crop x crop for `crops=1`, 10 x 3 x crop x crop (TenCrop order) for `crops=10`.
    Raises `BadImageError` (a UserError naming the path) for an unreadable file.
    """
    _check(mode, crops)
    if mode == "torch7":
        return _torch7_tensor(path, crops, scale_size, crop_size)
    return normalize_bytes(_fast_bytes(path, crops, scale_size, crop_size))


def model_input(images: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """A batch as `ValTransform` ships it -> what the model sees: bytes are normalised
    (`normalize_bytes`), float32 tensors are already the model input."""
    if images.dtype == torch.uint8:
        return normalize_bytes(images, channels_last)
    return images


class ValTransform:
    """Picklable `path -> tensor` for DataLoader workers.

    It returns what is cheapest to ship out of a worker: for ``torch7`` the model input
    (`load_val_tensor`), for ``fast`` the crop's bytes (uint8 crop x crop x 3, or 10 x ... for
    ten-crop), a quarter of the size; `model_input` turns a batch of either into the model
    input, on the GPU when there is one.
    """

    def __init__(
        self,
        mode: str = "torch7",
        crops: int = 1,
        scale_size: int = SCALE_SIZE,
        crop_size: int = CROP_SIZE,
    ) -> None:
        _check(mode, crops)
        if not 0 < crop_size <= scale_size:
            raise ValueError(f"need 0 < crop_size <= scale_size, got {crop_size}, {scale_size}")
        self.mode, self.crops = mode, crops
        self.scale_size, self.crop_size = scale_size, crop_size

    def __call__(self, path: str | os.PathLike) -> torch.Tensor:
        build = _torch7_tensor if self.mode == "torch7" else _fast_bytes
        return build(path, self.crops, self.scale_size, self.crop_size)

    def __repr__(self) -> str:
        return (
            f"ValTransform(mode={self.mode!r}, crops={self.crops}, "
            f"scale_size={self.scale_size}, crop_size={self.crop_size})"
        )
