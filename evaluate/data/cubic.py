"""image.c's bicubic in numpy and torch ops: the positions every path uses, and the
interpolation an install without a C compiler runs, expression for expression, for Torch's bits.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import torch

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
