"""The binary `torch.save` parser: torchfile's T7Reader with checked reads and lazy storages.

The parser works on the file's bytes in memory (an mmap of the file, or the gunzipped data):
every primitive is one bounds-checked `unpack_from` at an offset, so a truncated or corrupt file
raises `T7FormatError` with the offset, and reading the structure of a 1,000-module network
costs no file calls. Storages are remembered as (file, offset) instead of read (their bytes are
never touched, so never paged in), and every tensor view is bounds-checked against its storage
before any data is touched.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
import torchfile

from converter.errors import T7FormatError
from converter.torch7.objects import (
    STORAGE_DTYPES,
    TENSOR_DTYPES,
    LuaBool,
    LuaFunction,
    T7Object,
    T7Storage,
    T7Tensor,
)

TYPE_NIL, TYPE_NUMBER, TYPE_STRING, TYPE_TABLE, TYPE_TORCH, TYPE_BOOLEAN = 0, 1, 2, 3, 4, 5
FUNCTION_TYPES = (6, 7, 8)  # function, legacy recursive function, recursive function
_REFERENCE_TYPES = frozenset((TYPE_TABLE, TYPE_TORCH, *FUNCTION_TYPES))  # indexed, may be shared

MAX_DEPTH = 2000  # nngraph node chains nest one level per node; deeper than this is corruption
MAX_TENSOR_DIMS = 64

# Torch7 files written on x86_64: little-endian, long = 8 bytes
_INT, _LONG, _DOUBLE = struct.Struct("<i"), struct.Struct("<q"), struct.Struct("<d")

Buffer = Union[bytes, mmap.mmap]  # sliced and unpacked alike
_UNSEEN = object()


class Reader(torchfile.T7Reader):
    """torchfile's T7Reader on a buffer, with checked primitive reads, lazy storages and decoded
    strings."""

    def __init__(self, data: Buffer, path: Path, lazy_path: Path | None):
        super().__init__(None, use_list_heuristic=True, use_int_heuristic=True)
        self.data = data
        self.pos = 0
        self.total_size = len(data)
        self.path = path
        self.lazy_path = lazy_path  # storages stay in this file; None: read them eagerly
        self.depth = 0
        self._versions: dict[bytes, int | None] = {}  # class heads seen: see _read_torch
        self._classes: dict[bytes, tuple[str, Callable[[Reader, Any], Any] | None]] = {}

    # ---- checked primitives
    def fail(self, what: str) -> T7FormatError:
        return T7FormatError(f"{self.path}: at byte {self.tell():,}: {what}")

    def tell(self) -> int:
        return self.pos

    def remaining(self) -> int:
        return self.total_size - self.pos

    def truncated(self, n: int) -> T7FormatError:
        return self.fail(
            f"truncated file: needs {n:,} bytes but only {max(self.remaining(), 0):,} remain "
            f"(file size {self.total_size:,}); the file is incomplete, copy it again"
        )

    def read_bytes(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > self.total_size:
            raise self.truncated(n)
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def _unpack(self, fmt: struct.Struct) -> Any:
        pos, end = self.pos, self.pos + fmt.size
        if end > self.total_size:
            raise self.truncated(fmt.size)
        self.pos = end
        return fmt.unpack_from(self.data, pos)[0]

    def read_int(self) -> int:
        return self._unpack(_INT)

    def read_long(self) -> int:
        return self._unpack(_LONG)

    def read_double(self) -> float:
        return self._unpack(_DOUBLE)

    def read_long_array(self, n: int) -> list[int]:
        return list(struct.unpack(f"<{n}q", self.read_bytes(8 * n)))

    def read_string(self, disable_utf8: bool = False) -> bytes:
        size = self.read_int()
        if size < 0:
            raise self.fail(f"corrupt string length {size}")
        return self.read_raw(size)

    def read_raw(self, n: int) -> bytes:
        """`n` bytes as they stand in the file (a string's or a byte storage's contents)."""
        return self.read_bytes(n)

    def storage_at(self, class_name: str, dtype: np.dtype, size: int, start: int) -> T7Storage:
        """The storage whose `size` elements start at byte `start`: left in the file where it
        is read lazily, else copied out of the buffer now."""
        if self.lazy_path is not None:
            return T7Storage(class_name, dtype, size, path=self.lazy_path, file_offset=start)
        return T7Storage(class_name, dtype, size, data=self._array_at(dtype, size, start))

    def read_array(self, dtype: np.dtype, count: int) -> np.ndarray:
        return self._array_at(dtype, count, self.skip_array(dtype, count))

    def _array_at(self, dtype: np.dtype, count: int, start: int) -> np.ndarray:
        return np.frombuffer(self.data, dtype=dtype, count=count, offset=start).copy()

    def skip_array(self, dtype: np.dtype, count: int) -> int:
        """Skip `count` elements; returns the offset where they start."""
        start = self.pos
        nbytes = count * dtype.itemsize
        if nbytes > self.remaining():
            raise self.fail(
                f"truncated file: a storage of {count:,} elements ({nbytes:,} bytes) starts here "
                f"but the file ends after {self.total_size:,} bytes; copy or download it again"
            )
        self.pos = start + nbytes
        return start

    # ---- objects
    def read_obj(self) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(f"objects nested deeper than {MAX_DEPTH} levels (corrupt file?)")
            return self._read_obj()
        finally:
            self.depth -= 1

    def _read_obj(self) -> Any:
        typeidx = self.read_int()
        if typeidx == TYPE_NIL:
            return None
        if typeidx == TYPE_NUMBER:
            x = self.read_double()
            return int(x) if x.is_integer() and abs(x) < 2**53 else x
        if typeidx == TYPE_BOOLEAN:
            return self.read_int() == 1
        if typeidx == TYPE_STRING:
            return _decode(self.read_string())
        if typeidx not in _REFERENCE_TYPES:
            raise self.fail(f"unknown object type id {typeidx} (corrupt file?)")
        index = self.read_int()
        if index in self.objects:
            return self.objects[index]
        if typeidx in FUNCTION_TYPES:
            return self._read_function(index)
        if typeidx == TYPE_TORCH:
            return self._read_torch(index)
        return self._read_table(index)

    def _read_function(self, index: int) -> LuaFunction:
        dumped = self.read_string()
        obj = LuaFunction(dumped, None)
        self.objects[index] = obj
        obj = LuaFunction(dumped, self.read_obj())
        self.objects[index] = obj
        return obj

    def _read_torch(self, index: int) -> Any:
        # a file repeats a few class heads ("V 1", "torch.FloatTensor") hundreds of times:
        # each distinct one is decoded and checked once
        raw = self.read_string()
        version = self._versions.get(raw, _UNSEEN)
        if version is _UNSEEN:
            version = self._versions[raw] = self._version(raw)
        if version is None:  # no "V n" head: this is the class name (files before versions)
            version = 0
        else:
            raw = self.read_string()
        named = self._classes.get(raw)
        if named is None:
            named = self._classes[raw] = self._class(raw)
        class_name, handler = named
        if handler is not None:
            self.objects[index] = None
            obj = handler(self, version)
            self.objects[index] = obj
            return obj
        obj = T7Object(class_name, version)
        self.objects[index] = obj  # before its fields: an object may refer to itself
        obj.fields = self.read_obj()
        return obj

    def _version(self, raw: bytes) -> int | None:
        """The version in a "V n" class head; None where the head is the class name."""
        text = _decode(raw)
        if not (isinstance(text, str) and text.startswith("V ")):
            return None
        try:
            return int(float(text[2:]))
        except (ValueError, OverflowError):  # "V x", "V inf"
            raise self.fail(f"corrupt class version {text!r}") from None

    def _class(self, raw: bytes) -> tuple[str, Callable[[Reader, Any], Any] | None]:
        """(class name, its reader where it is a tensor, storage or tds class)."""
        class_name = _decode(raw)
        if not isinstance(class_name, str) or not class_name.isprintable() or not class_name:
            raise self.fail(f"corrupt class name {class_name!r}")
        return class_name, _HANDLERS.get(class_name)

    def _read_table(self, index: int) -> Any:
        size = self.read_int()
        if size < 0 or 8 * size > self.remaining():
            raise self.fail(f"corrupt table size {size}")
        table: dict = {}
        self.objects[index] = table
        for _ in range(size):
            key = self.read_obj()
            value = self.read_obj()
            if isinstance(key, bool):  # Lua keeps true and 1 apart; Python's dict would not
                key = LuaBool(key)
            try:
                table[key] = value
            except TypeError:  # a table used as a key: keep it under its identity
                table[_IdentityKey(key)] = value
        if (
            table
            and all(type(k) is int for k in table)
            and sorted(table) == list(range(1, len(table) + 1))
        ):
            items = [table[i] for i in range(1, len(table) + 1)]
            self.objects[index] = items
            return items
        return table


@dataclass(frozen=True, eq=False)
class _IdentityKey:
    """A Lua table key that is itself a table (unhashable in Python): equal only to itself."""

    obj: Any


def _decode(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _storage_handler(class_name: str, dtype: np.dtype):
    def read_storage(reader: Reader, version: Any) -> T7Storage:
        size = reader.read_long()
        if size < 0:
            raise reader.fail(f"corrupt {class_name} size {size}")
        if reader.lazy_path is not None:
            return reader.storage_at(class_name, dtype, size, reader.skip_array(dtype, size))
        return T7Storage(class_name, dtype, size, data=reader.read_array(dtype, size))

    return read_storage


def _tensor_handler(class_name: str, dtype: np.dtype):
    def read_tensor(reader: Reader, version: Any) -> T7Tensor:
        ndim = reader.read_int()
        if not 0 <= ndim <= MAX_TENSOR_DIMS:
            raise reader.fail(f"corrupt {class_name}: {ndim} dimensions")
        header = reader.read_long_array(2 * ndim + 1)  # size, stride, storageOffset
        shape, stride = tuple(header[:ndim]), tuple(header[ndim:-1])
        offset = header[-1] - 1  # Torch's storageOffset is 1-based
        storage = reader.read_obj()
        if storage is not None and not isinstance(storage, T7Storage):
            raise reader.fail(f"corrupt {class_name}: its storage is a {type(storage).__name__}")
        tensor = T7Tensor(class_name, dtype, shape, stride, offset, storage)
        _check_view(tensor, reader)
        return tensor

    return read_tensor


def _check_view(t: T7Tensor, reader: Reader) -> None:
    """A view must lie inside its storage; otherwise reading it would touch foreign memory."""
    if min(t.shape, default=0) < 0 or min(t.stride, default=0) < 0 or t.offset < 0:
        raise reader.fail(
            f"corrupt {t.class_name}: size {t.shape}, stride {t.stride}, offset {t.offset + 1}"
        )
    numel = t.numel
    if numel == 0:
        return
    if t.storage is None:
        raise reader.fail(f"corrupt {t.class_name}: {numel} elements but no storage")
    if t.storage.dtype != t.dtype:
        raise reader.fail(f"corrupt {t.class_name}: it views a {t.storage.class_name}")
    first, end = t.span()
    if end > t.storage.size:
        raise reader.fail(
            f"corrupt {t.class_name} of size {'x'.join(map(str, t.shape))}: it reaches element "
            f"{end:,} of a storage of {t.storage.size:,}"
        )


_HANDLERS: dict[str, Callable[[Reader, Any], Any]] = {
    **{name: _storage_handler(name, dtype) for name, dtype in STORAGE_DTYPES.items()},
    **{name: _tensor_handler(name, dtype) for name, dtype in TENSOR_DTYPES.items()},
}
for _name, _handler in torchfile.type_handlers.items():  # tds.Vec, tds.Hash
    _HANDLERS.setdefault(_name.decode("latin-1"), _handler)
