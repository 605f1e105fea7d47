"""Decode image files into the bytes Lua Torch's `image.load(path, 3, 'byte')` gives.

Why not just `Image.open(path).convert("RGB")`: Torch differs from Pillow's conversions, and the
model was trained and measured on Torch's pixels (FACTS §3, MANIFEST §4.6):
- the format is detected from the first bytes (JPEG, PNG, PPM/PGM), never from the extension,
  so a PNG named `.JPEG` loads as a PNG and anything else is refused;
- grayscale is replicated to 3 channels, an alpha channel is dropped without compositing;
- a CMYK JPEG keeps its first three raw components (libjpeg's Adobe-inverted C, M, Y, which is
  255 minus Pillow's "CMYK" pixels) and drops K, with no colour conversion;
- 16-bit PNG samples keep their high byte.
Pillow 13 decodes baseline and progressive JPEGs to exactly libjpeg-turbo's bytes, so this
reproduces Torch bit for bit (checked on the Torch7-written fixtures in tests/test_transforms.py).

Formats image.load refused (it knew JPEG, PNG and PPM/PGM only) are decoded by Pillow: BMP,
TIFF and WebP, detected by their bytes too. No Torch7 pixels exist for them to match, so they
follow the same rules where a rule carries over (grey replicated, alpha dropped, 16-bit samples
keep their high byte) and Pillow's conversion elsewhere (a CMYK TIFF is Pillow's RGB, not the
CMYK JPEG's raw components); 32-bit integer or float samples have no 0-255 scale and are refused.

A file that cannot be decoded (missing, empty, not an image, truncated, corrupt) raises
`BadImageError` naming the path. Pillow's `ImageFile.LOAD_TRUNCATED_IMAGES` must stay False:
with it set, Pillow silently pads a truncated JPEG with grey instead of failing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, UnidentifiedImageError

from converter.errors import UserError

# Torch's image.load checks these signatures (image/init.lua: magicJPG, magicPNG, '^P[2356]').
TORCH_FORMATS = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG": "PNG",
    b"P2": "PPM",
    b"P3": "PPM",
    b"P5": "PPM",
    b"P6": "PPM",
}
# Formats image.load refused, decoded by Pillow (WebP: a RIFF file whose form type is WEBP).
PILLOW_FORMATS = {b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "WEBP"}
HEAD_BYTES = 12  # enough for every signature above, WebP's form type included

# What Pillow raises for undecodable data; anything else is a bug and should surface as one.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


class BadImageError(UserError):
    """An image file that cannot be decoded: missing, empty, not an image, truncated or corrupt."""


def _bad(path: str | os.PathLike, problem: str) -> BadImageError:
    return BadImageError(f"cannot read image {os.fspath(path)}: {problem}; replace or remove it")


def sniff_format(head: bytes) -> str | None:
    """The Pillow format name `head` (a file's first HEAD_BYTES bytes) is decoded as: one of
    Torch's own (TORCH_FORMATS) or one Pillow decodes for it (PILLOW_FORMATS); None otherwise."""
    for magic, fmt in (*TORCH_FORMATS.items(), *PILLOW_FORMATS.items()):
        if head.startswith(magic) and (fmt != "WEBP" or head[8:12] == b"WEBP"):
            return fmt
    return None


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open `path` lazily (header read, pixels not decoded) as the format its bytes announce.

    The whole file is read into memory first, so the returned image holds no file handle (safe
    in DataLoader workers) and an empty file is reported as such.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise _bad(path, e.strerror or str(e)) from e
    if not data:
        raise _bad(path, "the file is empty (0 bytes)")
    fmt = sniff_format(data[:HEAD_BYTES])
    if fmt is None:
        raise _bad(
            path, f"not a JPEG, PNG, PPM/PGM, BMP, TIFF or WebP file (starts with {data[:8]!r})"
        )
    try:
        return Image.open(io.BytesIO(data), formats=[fmt])
    except (UnidentifiedImageError, *_DECODE_ERRORS) as e:
        raise _bad(path, f"corrupt {fmt} header ({e})") from e


def load_pixels(im: Image.Image, path: str | os.PathLike) -> None:
    """Decode `im`'s pixels (after any `draft`), turning Pillow's failures into BadImageError."""
    try:
        im.load()
    except _DECODE_ERRORS as e:
        raise _bad(path, f"truncated or corrupt {im.format} data ({e})") from e


def torch_channels(im: Image.Image, path: str | os.PathLike = "<image>") -> Image.Image:
    """`im` (loaded) as an "L" or "RGB" image holding the bytes Torch's image.load would give.

    "L" means one channel that Torch replicates to three; callers that resize can do so on the
    single channel and replicate afterwards.
    """
    mode = im.mode
    if mode in ("L", "RGB"):
        return im
    if mode == "CMYK" and im.format == "JPEG":
        return Image.merge("RGB", [ImageChops.invert(band) for band in im.split()[:3]])
    if mode in ("1", "LA", "La"):
        # "LA": Torch refuses 2-channel images for depth 3; the gray channel is the useful answer.
        return im.convert("L")
    if mode.startswith("I;16"):
        return Image.fromarray((np.asarray(im) >> 8).astype(np.uint8), "L")
    if mode in ("I", "F"):  # 32-bit TIFF samples, 16-bit PGM: no 0-255 scale is defined
        raise _bad(path, f"{im.format} with {mode!r} samples has no 0-255 scale; save it 8-bit")
    try:  # RGBA, P and the like: alpha dropped, as Torch drops a PNG's; CMYK TIFF, YCbCr, LAB
        return im.convert("RGB")
    except ValueError as e:
        raise _bad(path, f"unsupported pixel format {mode!r} ({im.format})") from e


def decode_image(path: str | os.PathLike, writable: bool = True) -> np.ndarray:
    """The image at `path` as Torch's `image.load(path, 3, 'byte')`, laid out H x W x 3 uint8.

    `writable=False` may return a read-only view of Pillow's buffer, saving a copy.
    """
    im = open_image(path)
    load_pixels(im, path)
    pixels = np.asarray(torch_channels(im, path))
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    return pixels.copy() if writable else pixels
