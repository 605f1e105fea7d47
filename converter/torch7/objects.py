"""What a Torch7 file holds once read: module objects, lazy storages, bounds-checked tensor views.

Kept apart from the parsers so the converter and translator depend on these types only, never on
how the bytes were read (binary, ASCII or gzip).
"""

from __future__ import annotations

import contextvars
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from converter.errors import T7FormatError

# Element dtype of every Torch7 storage/tensor class. cutorch serialises CUDA types with exactly
# the bytes of the CPU type of the same element type, only the class name differs.
_ELEMENT_DTYPES = {
    "Byte": np.uint8,
    "Char": np.int8,
    "Short": np.int16,
    "Int": np.int32,
    "Long": np.int64,
    "Float": np.float32,
    "Double": np.float64,
    "Half": np.float16,
}
_CUDA_PREFIX = {"Float": "Cuda", **{k: f"Cuda{k}" for k in _ELEMENT_DTYPES if k != "Float"}}


def _class_dtypes(kind: str) -> dict[str, np.dtype]:
    names = {}
    for elem, dtype in _ELEMENT_DTYPES.items():
        names[f"torch.{elem}{kind}"] = np.dtype(dtype).newbyteorder("<")
        names[f"torch.{_CUDA_PREFIX[elem]}{kind}"] = np.dtype(dtype).newbyteorder("<")
    return names


MAX_REPEATED_ELEMENTS = 1 << 24

STORAGE_DTYPES = _class_dtypes("Storage")
TENSOR_DTYPES = _class_dtypes("Tensor")


def kind_of(value: Any) -> str:
    """A few words naming what a value is, for messages about fields holding the wrong thing."""
    if value is None:
        return "missing"
    if isinstance(value, (T7Object, T7Tensor, T7Storage)):
        return f"a {value.class_name}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"a {type(value).__name__}" if not isinstance(value, bool) else f"the boolean {value}"


@dataclass(eq=False)
class T7Object:
    """An instance of a Torch class that is not a tensor or storage (an nn module, usually)."""

    class_name: str
    version: int
    fields: Any = None  # normally a dict of the object's Lua table

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default) if isinstance(self.fields, dict) else default

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise T7FormatError(
                f"{self.class_name} has no field {key!r}; the file is not a complete Torch7 module"
            )
        return self.fields[key]

    def number(self, key: str, default: float | None = None, where: str = "") -> float:
        """A numeric field (Lua numbers are doubles), or `default` where it is absent; anything
        else (a table, a string, a boolean) is refused naming the module and the field."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise T7FormatError(
                f"{where or self.class_name}: field {key!r} is {kind_of(value)}, not a number"
            )
        return float(value)

    def integer(self, key: str, default: int | None = None, where: str = "") -> int:
        """An integral numeric field (sizes, strides, paddings, dimensions)."""
        value = self.number(key, default, where)
        if not math.isfinite(value) or value != int(value):
            raise T7FormatError(
                f"{where or self.class_name}: field {key!r} is {value!r}, not an integer"
            )
        return int(value)

    def __contains__(self, key: str) -> bool:
        return isinstance(self.fields, dict) and key in self.fields

    def __repr__(self) -> str:
        return f"T7Object({self.class_name})"


class _OpenFiles:
    """The files lazy storages were read from within one `reading_files` block."""

    def __init__(self) -> None:
        self.files: dict[tuple[Path, int], BinaryIO] = {}  # (path, process id) -> its file
        self.lock = threading.Lock()  # seek + read as one, whichever thread reads


_READING: contextvars.ContextVar[_OpenFiles | None] = contextvars.ContextVar(
    "t7_reading_files", default=None
)


@contextmanager
def reading_files() -> Iterator[None]:
    """Within the block, the lazy storages of a file share one open file: a network's tensors
    cost one `open` instead of one per tensor (which on a small model took longer than the
    reading). The files are closed when the outermost block ends, so no tree, and no network
    that keeps its tree, holds a file open. A process forked inside the block opens its own
    (the two would share one file position)."""
    if _READING.get() is not None:
        yield
        return
    session = _OpenFiles()
    token = _READING.set(session)
    try:
        yield
    finally:
        _READING.reset(token)
        for f in session.files.values():
            f.close()


def _read_into(f: BinaryIO, offset: int, out: np.ndarray) -> bool:
    """Fill `out` from byte `offset` of `f`; False where the file ends first."""
    view, done = memoryview(out).cast("B"), 0
    f.seek(offset)
    while done < len(view):
        n = f.readinto(view[done:])
        if not n:
            return False
        done += n
    return True


@dataclass(eq=False)
class T7Storage:
    """A Torch storage whose data stays in the file until a tensor view asks for it."""

    class_name: str
    dtype: np.dtype
    size: int
    path: Path | None = None  # lazy: data is at `file_offset` in `path`
    file_offset: int = 0
    data: np.ndarray | None = None  # eager: already in memory (ASCII or compressed input)

    def read(self, start: int, count: int) -> np.ndarray:
        """Elements [start, start+count) as a new, writable array."""
        if start < 0 or count < 0 or start + count > self.size:
            raise T7FormatError(
                f"{self.path or 'storage'}: read of {count} elements at {start} is outside a "
                f"storage of {self.size}"
            )
        if self.data is not None:
            return self.data[start : start + count].copy()
        out = np.empty(count, self.dtype)
        offset, session = self.file_offset + start * self.dtype.itemsize, _READING.get()
        if not count:
            return out
        if session is None:
            with open(self.path, "rb", buffering=0) as f:
                whole = _read_into(f, offset, out)
        else:
            with session.lock:
                key = (self.path, os.getpid())
                f = session.files.get(key) or session.files.setdefault(
                    key, open(self.path, "rb", buffering=0)
                )
                whole = _read_into(f, offset, out)
        if not whole:
            raise T7FormatError(f"{self.path}: file changed or truncated while reading a storage")
        return out


@dataclass(eq=False)
class T7Tensor:
    """A Torch tensor: a bounds-checked strided view into a `T7Storage` (0-based offset)."""

    class_name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int
    storage: T7Storage | None

    @property
    def numel(self) -> int:
        return math.prod(self.shape) if self.shape else 0

    def span(self) -> tuple[int, int]:
        """(first, last+1) storage element touched by this view."""
        if self.numel == 0:
            return self.offset, self.offset
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        return self.offset, last + 1

    def numpy(self) -> np.ndarray:
        """The tensor's values as a new contiguous array (reads only the bytes the view covers).

        A view may repeat its storage's elements (stride 0), as Torch allows; one that would
        copy more than MAX_REPEATED_ELEMENTS that way is refused: no parameter is stored so,
        and a corrupt size would otherwise ask for terabytes.
        """
        if self.numel == 0:
            return np.zeros(self.shape or (0,), dtype=self.dtype.newbyteorder("="))
        first, end = self.span()
        if self.numel > max(end - first, MAX_REPEATED_ELEMENTS):
            raise T7FormatError(
                f"{getattr(self.storage, 'path', None) or 'tensor'}: a {self.class_name} of "
                f"size {'x'.join(map(str, self.shape))} holds {self.numel:,} elements but views "
                f"{end - first:,} stored ones (stride {self.stride}); corrupt sizes?"
            )
        flat = self.storage.read(first, end - first).astype(
            self.dtype.newbyteorder("="), copy=False
        )
        if flat.size == self.numel and self.stride == _contiguous_strides(self.shape):
            return flat.reshape(self.shape)  # how parameters are stored: no view to build
        view = np.lib.stride_tricks.as_strided(
            flat,
            shape=self.shape,
            strides=[s * flat.itemsize for s in self.stride],
            writeable=False,
        )
        if flat.size == self.numel and view.flags.c_contiguous:
            return flat.reshape(self.shape)
        return np.ascontiguousarray(view)

    def __repr__(self) -> str:
        return f"T7Tensor({self.class_name}, {'x'.join(map(str, self.shape)) or 'empty'})"


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


@dataclass(frozen=True)
class LuaFunction:
    """A serialised Lua function (bytecode and upvalues); kept so the rest of a file still reads."""

    dumped: bytes
    upvalues: Any = field(repr=False)


@dataclass(frozen=True)
class LuaBool:
    """A boolean table key, kept distinct from the number keys 1 and 0 it equals in Python."""

    value: bool
