"""fb.resnet.torch's transforms.lua arithmetic, Torch's bit for bit: the Scale/CenterCrop/TenCrop
geometry, image.scale's bicubic, ColorNormalize (of floats, or of bytes) and fast's byte resize.

The compiled `_torch_cubic` (Torch's C expressions, built at install time) is bound here, once;
where it was not built the same bits come from torch ops (cubic.py), about four times slower.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from PIL import Image

from evaluate.data.cubic import _CHUNK, _WORK, _axis_plan, _cubic_rows, _source_span

try:  # Torch's bicubic pass compiled at install time; the torch-op version gives the same bits
    from evaluate.data import _torch_cubic
except ImportError:  # pragma: no cover - an install without a C compiler
    _torch_cubic = None

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SCALE_SIZE = 328
CROP_SIZE = 299

_MEAN32 = np.array(MEAN, dtype=np.float32)
_STD32 = np.array(STD, dtype=np.float32)
_INV255 = np.float32(1 / 255)  # Torch's img:mul(1/255): float32 product, not a division
_MEAN_T = torch.from_numpy(_MEAN32).view(3, 1, 1)
_STD_T = torch.from_numpy(_STD32).view(3, 1, 1)
_INV255_T = torch.tensor(_INV255)  # a tensor, not a Python number: torch's scalar path is 6x slower


def scaled_size(width: int, height: int, size: int = SCALE_SIZE) -> tuple[int, int]:
    """Width, height after fb.resnet.torch `Scale(size)` (shorter side to `size`).

    Scale returns its input unchanged when the shorter side already equals `size`; otherwise it
    asks image.scale for `long/short*size` (a Lua double), which Torch truncates.
    """
    if (width <= height and width == size) or (height <= width and height == size):
        return width, height
    if width < height:
        return size, int(height / width * size)
    return int(width / height * size), size


def center_offsets(width: int, height: int, crop: int = CROP_SIZE) -> tuple[int, int]:
    """Left, top of fb.resnet.torch `CenterCrop(crop)`: ceil, where torchvision rounds."""
    return math.ceil((width - crop) / 2), math.ceil((height - crop) / 2)


def ten_crop_offsets(width: int, height: int, crop: int = CROP_SIZE) -> list[tuple[int, int]]:
    """(left, top) of centre, top-left, top-right, bottom-left, bottom-right, as in TenCrop."""
    return [
        center_offsets(width, height, crop),
        (0, 0),
        (width - crop, 0),
        (0, height - crop),
        (width - crop, height - crop),
    ]


# --- Torch image.scale bicubic ------------------------------------------------------------------


def bicubic_kernel() -> str:
    """Which implementation of Torch's bicubic runs: "compiled", or "torch ops" (same bits,
    about four times slower) where evaluate.data._torch_cubic was not built at install time."""
    return "compiled" if _torch_cubic is not None else "torch ops"


def _cubic_pass(
    src: torch.Tensor, offset: int, n_src: int, n_dst: int, lo: int, hi: int, out: torch.Tensor
) -> None:
    """Torch's `scaleCubic_rowcol` along dim 0, for outputs lo..hi-1, written into `out`.

    `src` (contiguous) holds source rows offset..offset+len(src) of `n_src`, at least
    `_source_span`; `out` is a view of shape (hi-lo,) + src.shape[1:] whose last dim is
    contiguous.
    """
    if n_src == n_dst:
        out.copy_(src[lo - offset : hi - offset])
        return
    if n_src == 1:
        out.copy_(src[0].expand_as(out))
        return
    index, frac = _axis_plan(n_src, n_dst)
    interp_hi = min(hi, n_dst - 1)
    if lo < interp_hi:
        _interpolate_rows(src, offset, n_src, index[lo:interp_hi], frac[lo:interp_hi], out)
    if hi == n_dst:
        out[-1].copy_(src[n_src - 1 - offset])


def _interpolate_rows(
    src: torch.Tensor,
    offset: int,
    n_src: int,
    index: np.ndarray,
    frac: np.ndarray,
    out: torch.Tensor,
) -> None:
    """The interpolated outputs of `_cubic_pass`: by the compiled kernel (_torch_cubic.c), or
    with torch ops in chunks (`_CHUNK`) where it was not built."""
    width = src[0].numel()
    if _torch_cubic is not None:
        if out.dim() == 2:
            dst_row, dst_group, group = out.stride(0), width, width
        else:
            dst_row, dst_group = out.stride(0), out.stride(1)
            group = out[0, 0].numel()
        span = (len(index) - 1) * dst_row + (width // group - 1) * dst_group + group
        dst = out.as_strided((span,), (1,)).numpy()
        _torch_cubic.cubic_rows(
            src.view(-1).numpy(), width, offset, n_src, index, frac, dst, dst_row, dst_group, group
        )
        return
    flat = src.view(len(src), width)
    step = max(1, _CHUNK // width)
    for start in range(0, len(index), step):
        stop = min(start + step, len(index))
        rows = _cubic_rows(flat, offset, n_src, index[start:stop], frac[start:stop])
        out[start:stop].copy_(rows.view((stop - start,) + src.shape[1:]))


def torch_scale(
    pixels: np.ndarray | torch.Tensor,
    width: int,
    height: int,
    window: tuple[int, int, int, int] | None = None,
) -> torch.Tensor:
    """Torch `image.scale(img, width, height, 'bicubic')` of an H x W x C image, H x W x C float32.

    `pixels` is uint8 (Torch's bytes; scaled as `byte * float32(1/255)` first, like
    `image.load(path, 3, 'float')`) or float32. With `window` = (left, top, right, bottom)
    only that part of the result is computed: each output pixel depends only on its 4x4
    source neighbourhood, so the values are those of the full result.
    """
    return _scale(pixels, width, height, window).clone()


def _scale(
    pixels: np.ndarray | torch.Tensor | Image.Image,
    width: int,
    height: int,
    window: tuple[int, int, int, int] | None,
) -> torch.Tensor:
    """`torch_scale` into workspace memory: valid until this thread's next call.

    A Pillow image ("L" or "RGB") is also accepted: Pillow crops and transposes bytes in C,
    three times faster than numpy's strided conversion.
    """
    if isinstance(pixels, torch.Tensor):
        pixels = pixels.numpy()
    if isinstance(pixels, Image.Image):
        (src_w, src_h), depth = pixels.size, len(pixels.getbands())
    else:
        (src_h, src_w), depth = pixels.shape[:2], int(np.prod(pixels.shape[2:], dtype=np.int64))
    left, top, right, bottom = window or (0, 0, width, height)
    row0, row1 = _source_span(src_h, height, top, bottom)
    col0, col1 = _source_span(src_w, width, left, right)
    # Rows first, as Torch does. Both passes gather along dim 0, so the rows pass works on
    # the transposed (column-major) block and writes its result back row-major.
    if isinstance(pixels, Image.Image):
        block = np.asarray(pixels.crop((col0, row0, col1, row1)).transpose(Image.TRANSPOSE))
    else:
        block = pixels[row0:row1, col0:col1].swapaxes(0, 1)
    block = block.reshape(col1 - col0, (row1 - row0) * depth)
    cols = _WORK.get("cols", block.shape, torch.float32)
    if block.dtype == np.uint8:
        np.multiply(block, _INV255, out=cols.numpy(), dtype=np.float32)
    else:
        np.copyto(cols.numpy(), block, casting="same_kind")
    rows = _WORK.get("rows", (row1 - row0, (right - left) * depth), torch.float32)
    _cubic_pass(
        cols.view(col1 - col0, row1 - row0, depth),
        col0,
        src_w,
        width,
        left,
        right,
        rows.view(row1 - row0, right - left, depth).transpose(0, 1),
    )
    out = _WORK.get("scaled", (bottom - top, (right - left) * depth), torch.float32)
    _cubic_pass(rows, row0, src_h, height, top, bottom, out)
    return out.view(bottom - top, right - left, depth)


# --- ColorNormalize -----------------------------------------------------------------------------


def normalize_chw(image: torch.Tensor) -> torch.Tensor:
    """ColorNormalize, float32 `(x - mean) / std`, of H x W x 3 (or x 1, replicated as Torch
    replicates grayscale) float32, as a new 3 x H x W tensor."""
    out = torch.empty((3,) + image.shape[:2], dtype=torch.float32)
    torch.sub(image.permute(2, 0, 1).expand(3, -1, -1), _MEAN_T, out=out)
    return out.div_(_STD_T)


def normalize_bytes(images: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """The model input for crops shipped as bytes (`ValTransform("fast")`): uint8 ... x H x W x C
    (C = 3, or 1 replicated) -> float32 ... x 3 x H x W, on the bytes' device; laid out
    channels-last (the bytes' own order, so no transposing copy) if asked.

    The torch7 arithmetic, float32 `(byte * float32(1/255) - mean) / std`, so a byte-exact crop
    gives the torch7 crop bit for bit. Done on the GPU when there is one: bytes are a quarter of
    the float32 crop to pass between DataLoader processes and to copy to the device. On the CPU
    the compiled module looks each byte up in a table of those values (`_byte_table`), one pass
    instead of four.
    """
    if images.dtype != torch.uint8 or images.dim() < 3 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "normalize_bytes takes uint8 images laid out ... x H x W x C with C = 1 or 3, "
            f"not {images.dtype} of shape {tuple(images.shape)}"
        )
    if channels_last:
        out = torch.empty(
            images.shape[:-1] + (3,), dtype=torch.float32, device=images.device
        ).movedim(-1, -3)
    else:
        shape = images.shape[:-3] + (3,) + images.shape[-3:-1]
        out = torch.empty(shape, dtype=torch.float32, device=images.device)
    if _torch_cubic is not None and images.device.type == "cpu" and images.numel():
        _torch_cubic.normalize(
            images.contiguous().numpy().reshape(-1),
            math.prod(images.shape[:-3]),
            images.shape[-1],
            _byte_table().numpy().reshape(-1),
            (out.movedim(-3, -1) if channels_last else out).numpy().reshape(-1),
            channels_last,
        )
        return out
    return _normalize_ops(out.copy_(images.movedim(-1, -3).expand_as(out)))


def _normalize_ops(values: torch.Tensor) -> torch.Tensor:
    """torch7's arithmetic, in place on float32 byte values ... x 3 x H x W:
    `(byte * float32(1/255) - mean) / std`."""
    inv255, mean, std = _normalize_constants(values.device)
    return values.mul_(inv255).sub_(mean).div_(std)


@functools.lru_cache(maxsize=1)
def _byte_table() -> torch.Tensor:
    """`normalize_bytes`'s value for each byte and channel, 3 x 256 float32, computed by the
    torch ops it runs on a GPU (`_normalize_ops`), so that looking values up gives the same
    bits."""
    values = torch.arange(256, dtype=torch.float32).view(1, 256, 1).expand(3, 256, 1)
    return _normalize_ops(values.clone()).view(3, 256)


@functools.lru_cache(maxsize=8)
def _normalize_constants(device: torch.device) -> tuple[torch.Tensor, ...]:
    """float32(1/255), mean and std on `device`, copied there once, not once per batch."""
    with torch.inference_mode(False):
        return tuple(t.to(device) for t in (_INV255_T, _MEAN_T, _STD_T))


# --- fast pipeline: Torch's bicubic straight to bytes -------------------------------------------


def _to_bytes(scaled: torch.Tensor) -> torch.Tensor:
    """A float32 scaled image (0..1) rounded to bytes: `x * 255` rounded half to even, clamped."""
    return torch.mul(scaled, 255).round_().clamp_(0, 255).to(torch.uint8)


@functools.lru_cache(maxsize=256)
def _byte_plan(n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Torch's bicubic along one axis as weights: for each output, its first source pixel
    (int64) and the float32 weights of min(4, n_src) consecutive source pixels.

    The Catmull-Rom weights of `cubicInterpolate` at Torch's positions (`_axis_plan`), with the
    linear border extrapolation (p0 = 2*p1 - p2, p3 = 2*p2 - p1) folded into the pixels that
    exist, the last output a copy of the last pixel, and equal sizes or a 1-pixel axis copied.
    Cached, so callers must not modify the arrays.
    """
    if n_src == 1 or n_src == n_dst:  # one tap: the pixel itself
        start = np.arange(n_dst, dtype=np.int64) if n_src == n_dst else np.zeros(n_dst, np.int64)
        return start, np.ones((n_dst, 1), np.float32)
    taps = min(4, n_src)
    index, frac = _axis_plan(n_src, n_dst)
    index = np.append(index, n_src - 2)
    x = np.append(frac, np.float32(1)).astype(np.float64)
    w = np.stack(
        [
            x * (-0.5 + x * (1 - 0.5 * x)),
            1 + x * x * (-2.5 + 1.5 * x),
            x * (0.5 + x * (2 - 1.5 * x)),
            x * x * (-0.5 + 0.5 * x),
        ],
        axis=1,
    )
    first, last = index == 0, index == n_src - 2
    w[first, 1:3] += w[first, 0:1] * [2, -1]
    w[first, 0] = 0
    w[last, 1:3] += w[last, 3:4] * [-1, 2]
    w[last, 3] = 0
    start = np.clip(index - 1, 0, n_src - taps)
    weight = np.zeros((n_dst, taps), np.float32)
    for k in range(4):
        pos = index - 1 + k
        inside = (pos >= 0) & (pos < n_src)
        weight[inside, pos[inside] - start[inside]] = w[inside, k]
    return start, weight


def _scale_bytes(
    im: Image.Image, width: int, height: int, window: tuple[int, int, int, int]
) -> torch.Tensor:
    """A window of Torch's bicubic Scale of an "L" or "RGB" image, rounded to bytes, in one
    compiled pass (`scale_bytes`): H x W x C uint8.

    Torch's positions, kernel and borders, but float32 weights in place of Torch's sequence of
    roundings, so a byte can differ by 1 from the rounded torch7 value where that lies close to
    a rounding boundary (measured within 8e-5 of one; the tests allow 1e-3 and count them).
    The pixels are read where Pillow keeps them (its Arrow export, Pillow >= 11.2), not copied
    out first.
    """
    left, top, right, bottom = window
    row_start, row_weight = _byte_plan(im.height, height)
    col_start, col_weight = _byte_plan(im.width, width)
    channels = len(im.getbands())
    out = torch.empty((bottom - top, right - left, channels), dtype=torch.uint8)
    plan = (row_start[top:bottom], row_weight[top:bottom], col_start[left:right])
    plan += (col_weight[left:right], out.numpy().reshape(-1))
    try:
        _torch_cubic.scale_bytes(im.__arrow_c_array__(), im.height, im.width, channels, *plan)
    except (AttributeError, ValueError):
        # Pillow < 11.2, an image stored in several blocks, or an Arrow layout this code does
        # not know: the same from a copy (an error in the plan itself is raised again here)
        pixels = np.asarray(im).reshape(-1)
        _torch_cubic.scale_bytes(pixels, im.height, im.width, channels, *plan)
    return out
