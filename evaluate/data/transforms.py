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

import functools
import math
import os
import threading

import numpy as np
import torch
from PIL import Image

from evaluate.data.imagedecode import load_pixels, open_image, torch_channels

try:  # Torch's bicubic pass compiled at install time; the torch-op version gives the same bits
    from evaluate.data import _torch_cubic
except ImportError:  # pragma: no cover - an install without a C compiler
    _torch_cubic = None

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SCALE_SIZE = 328
CROP_SIZE = 299
MODES = ("torch7", "fast")

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

_CHUNK = 1 << 20  # outputs (times channels) per cubic chunk: bounds the scratch memory


class _Workspace(threading.local):
    """Scratch tensors reused across images (one set per thread, so per DataLoader worker).

    Fresh multi-megabyte temporaries cost a page fault per 4 KiB on every image, which made
    the bicubic twice as slow; chunking (`_CHUNK`) bounds what is kept.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
        size = shape[0] * shape[1]
        buf = self.buffers.get(name)
        if buf is None or buf.numel() < size:
            with torch.inference_mode(False):  # a caller's inference mode must not stick to it
                buf = self.buffers[name] = torch.empty(size, dtype=dtype)
        return buf[:size].view(shape)


_WORK = _Workspace()


@functools.lru_cache(maxsize=256)
def _axis_plan(n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Source interval and fraction of each output but the last (copied), as scaleCubic_rowcol.

    `scale` is float32 (n_src-1)/(n_dst-1); `di * scale` is a float32 product, truncated.
    Cached (photo sizes repeat: most of ImageNet is 500x375 or 375x500), so callers must not
    modify the arrays.
    """
    scale = np.float32(n_src - 1) / np.float32(max(n_dst - 1, 1))
    pos = np.arange(n_dst - 1, dtype=np.float32) * scale
    index = pos.astype(np.int64)
    return index, pos - index.astype(np.float32)


def _source_span(n_src: int, n_dst: int, lo: int, hi: int) -> tuple[int, int]:
    """Source rows [first, last) that outputs lo..hi-1 of a cubic pass read."""
    if n_src == n_dst:
        return lo, hi
    if n_src == 1:
        return 0, 1
    index, _ = _axis_plan(n_src, n_dst)
    interp_hi = min(hi, n_dst - 1)
    first = max(int(index[lo]) - 1, 0) if lo < interp_hi else n_src - 1
    last = n_src if hi == n_dst else min(int(index[interp_hi - 1]) + 3, n_src)
    return first, last


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


def _cubic_rows(
    flat: torch.Tensor, offset: int, n_src: int, index: np.ndarray, frac: np.ndarray
) -> torch.Tensor:
    """Interpolated rows as float64: exactly the C code's double, before its float store.

    Every float32 rounding of image.c's `scaleCubic_rowcol` / `cubicInterpolate` happens here
    in the same order, one elementwise op at a time:
        p0 = 2*p1 - p2 (first interval), p3 = 2*p2 - p1 (last interval)
        a1 = p2 - p0;  a2 = 2*p0 - 5*p1 + 4*p2 - p3;  a3 = 3*(p1 - p2) + p3 - p0
        value = p1 + (0.5*x) * (a1 + x*(a2 + x*a3))     # 0.5 is a C double
    Two rewrites save time without changing a bit: a2 is computed negated with `alpha`
    products 2 and 4 (exact, so each step rounds once whether or not the kernel fuses a
    multiply-add, and round-to-nearest is symmetric); the double step is one `addcmul`
    whose product (24 x 24 bits) is exact in float64.
    """
    shape = (len(index), flat.shape[1])
    i1 = torch.from_numpy(index - offset)
    x = torch.from_numpy(frac).view(-1, 1)
    f32, get = torch.float32, _WORK.get
    p0 = torch.index_select(flat, 0, (i1 - 1).clamp_(min=0), out=get("p0", shape, f32))
    p1 = torch.index_select(flat, 0, i1, out=get("p1", shape, f32))
    p2 = torch.index_select(flat, 0, i1 + 1, out=get("p2", shape, f32))
    p3 = torch.index_select(
        flat, 0, (i1 + 2).clamp_(max=n_src - 1 - offset), out=get("p3", shape, f32)
    )
    # Intervals touching a border extrapolate linearly; `index` is sorted, so they are a
    # prefix (interval 0) and a suffix (interval n_src-2).
    head = int(np.searchsorted(index, 0, side="right"))
    if head:
        torch.sub(p1[:head] * 2, p2[:head], out=p0[:head])
    tail = int(np.searchsorted(index, n_src - 2, side="left"))
    if tail < len(index):
        torch.sub(p2[tail:] * 2, p1[tail:], out=p3[tail:])
    neg_a2 = torch.mul(p1, 5, out=get("a2", shape, f32)).sub_(p0, alpha=2)
    neg_a2.sub_(p2, alpha=4).add_(p3)
    a3 = torch.sub(p1, p2, out=get("a3", shape, f32)).mul_(3).add_(p3).sub_(p0)
    a1 = torch.sub(p2, p0, out=p0)
    inner = get("inner", shape, torch.float64).copy_(a3.mul_(x).sub_(neg_a2).mul_(x).add_(a1))
    value = get("value", shape, torch.float64).copy_(p1)
    return value.addcmul_(inner, x.double().mul_(0.5))


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


def model_input(images: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """A batch as `ValTransform` ships it -> what the model sees: bytes are normalised
    (`normalize_bytes`), float32 tensors are already the model input."""
    if images.dtype == torch.uint8:
        return normalize_bytes(images, channels_last)
    return images


@functools.lru_cache(maxsize=8)
def _normalize_constants(device: torch.device) -> tuple[torch.Tensor, ...]:
    """float32(1/255), mean and std on `device`, copied there once, not once per batch."""
    with torch.inference_mode(False):
        return tuple(t.to(device) for t in (_INV255_T, _MEAN_T, _STD_T))


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


# --- fast pipeline --------------------------------------------------------------------------


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


def _fast_bytes(
    path: str | os.PathLike, crops: int, scale_size: int, crop_size: int
) -> torch.Tensor:
    """The fast crop(s) as bytes: crop x crop x 3 uint8, or 10 x crop x crop x 3."""
    im, width, height = _decode(path, scale_size, draft=True)
    window = _window(width, height, crops, crop_size)
    if (width, height) == im.size:  # no resize: Torch's bytes as they are
        pixels = _crop_bytes(im, window)
    elif _torch_cubic is not None:
        pixels = _scale_bytes(im, width, height, window)
    else:  # the torch7 arithmetic in torch ops, rounded: the same bytes but at near-ties
        pixels = _to_bytes(_scale(im, width, height, window))  # H x W x C, like _crop_bytes
    pixels = pixels.expand(-1, -1, 3)
    return pixels.contiguous() if crops == 1 else _ten_crops(pixels, crop_size, h_dim=0)


# --- public entry points --------------------------------------------------------------------


def bicubic_kernel() -> str:
    """Which implementation of Torch's bicubic runs: "compiled", or "torch ops" (same bits,
    about four times slower) where evaluate.data._torch_cubic was not built at install time."""
    return "compiled" if _torch_cubic is not None else "torch ops"


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
