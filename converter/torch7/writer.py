"""A minimal Torch7 binary writer, the mirror of converter.torch7.reader.

It exists so tests and benchmarks can build Torch7 files that real Lua would write but the
fixtures do not include (a checkpoint bloated with activation buffers, a corrupted variant),
without Lua. It is trusted because it re-writes real Torch7 files byte for byte (tests).

Objects are numbered in first-write order and repeated objects become back-references, as
torch.File:writeObject does, so shared storages stay shared.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from converter.torch7.binary import MAX_DEPTH, _IdentityKey
from converter.torch7.objects import (
    STORAGE_DTYPES,
    LuaBool,
    LuaFunction,
    T7Object,
    T7Storage,
    T7Tensor,
)

_TENSOR_FOR_DTYPE = {
    np.dtype(np.float32): "torch.FloatTensor",
    np.dtype(np.float64): "torch.DoubleTensor",
    np.dtype(np.int64): "torch.LongTensor",
    np.dtype(np.int32): "torch.IntTensor",
    np.dtype(np.uint8): "torch.ByteTensor",
}


class _Writer:
    def __init__(self, f: BinaryIO):
        self.f = f
        self.indices: dict[int, int] = {}
        self.keep_alive: list[Any] = []  # ids must stay unique while writing

    def int(self, v: int) -> None:
        self.f.write(struct.pack("<i", v))

    def long(self, v: int) -> None:
        self.f.write(struct.pack("<q", v))

    def string(self, s: str | bytes) -> None:
        raw = s.encode("utf-8") if isinstance(s, str) else s
        self.int(len(raw))
        self.f.write(raw)

    def ref(self, obj: Any) -> bool:
        """Write the object index; True when the object was written before (a back-reference)."""
        key = id(obj)
        if key in self.indices:
            self.int(self.indices[key])
            return True
        self.indices[key] = len(self.indices) + 1
        self.keep_alive.append(obj)
        self.int(self.indices[key])
        return False

    def obj(self, v: Any) -> None:
        if v is None:
            self.int(0)
        elif isinstance(v, (bool, LuaBool)):
            self.int(5)
            self.int(1 if (v.value if isinstance(v, LuaBool) else v) else 0)
        elif isinstance(v, (int, float)):
            self.int(1)
            self.f.write(struct.pack("<d", float(v)))
        elif isinstance(v, (str, bytes)):
            self.int(2)
            self.string(v)
        elif isinstance(v, (dict, list)):
            self.int(3)
            if not self.ref(v):
                items = list(enumerate(v, start=1)) if isinstance(v, list) else list(v.items())
                self.int(len(items))
                for k, val in items:
                    self.obj(k.obj if isinstance(k, _IdentityKey) else k)
                    self.obj(val)
        elif isinstance(v, LuaFunction):
            self.int(8)
            if not self.ref(v):
                self.string(v.dumped)
                self.obj(v.upvalues)
        elif isinstance(v, np.ndarray):
            self.tensor(_as_t7_tensor(v))
        elif isinstance(v, (T7Object, T7Tensor, T7Storage)):
            self.torch_object(v)
        else:
            raise TypeError(f"cannot write a {type(v).__name__} to a Torch7 file")

    def torch_object(self, v: T7Object | T7Tensor | T7Storage) -> None:
        self.int(4)
        if self.ref(v):
            return
        version = v.version if isinstance(v, T7Object) else 1
        if version:
            self.string(f"V {version}")
        self.string(v.class_name)
        if isinstance(v, T7Tensor):
            self.tensor_body(v)
        elif isinstance(v, T7Storage):
            self.long(v.size)
            self.f.write(v.read(0, v.size).astype(v.dtype, copy=False).tobytes())
        else:
            self.obj(v.fields)

    def tensor(self, t: T7Tensor) -> None:
        self.torch_object(t)

    def tensor_body(self, t: T7Tensor) -> None:
        self.int(len(t.shape))
        for n in t.shape:
            self.long(n)
        for s in t.stride:
            self.long(s)
        self.long(t.offset + 1)
        self.obj(t.storage)


def _as_t7_tensor(a: np.ndarray) -> T7Tensor:
    """A fresh contiguous FloatTensor-style view over its own storage."""
    a = np.ascontiguousarray(a)
    tensor_class = _TENSOR_FOR_DTYPE[a.dtype]
    storage_class = tensor_class.replace("Tensor", "Storage")
    storage = T7Storage(storage_class, STORAGE_DTYPES[storage_class], a.size, data=a.ravel())
    stride = tuple(int(s) // a.itemsize for s in a.strides)
    return T7Tensor(tensor_class, storage.dtype, tuple(a.shape), stride, 0, storage)


def save_t7(obj: Any, path: str | Path) -> None:
    """Write `obj` (as t7reader returns it, or built from dicts/lists/numpy arrays) in binary;
    as deeply nested as the reader reads (it recurses as deep)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 200))
    try:
        with open(path, "wb") as f:
            _Writer(f).obj(obj)
    finally:
        sys.setrecursionlimit(limit)
