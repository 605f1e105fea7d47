"""The binary parser made fast: `BinaryReader`, the object loop with its primitives inlined, and
`parse`, the same loop in C (_t7parse.c) where the optional extension was built.

Both build exactly what binary.py's `Reader` builds. The C loop never reports a problem
itself: at anything it does not handle (a damaged file, a tds class) it
gives up, and `BinaryReader` reads the file again and says what is wrong, with its offset, so
a damaged file gets one message whichever loop met it first (tests/test_native_parser.py runs
both on every fixture and on the fuzz mutants).
"""

from __future__ import annotations

import struct
from typing import Any

from converter.torch7.binary import (
    _DOUBLE,
    _HANDLERS,
    _INT,
    _LONG,
    _REFERENCE_TYPES,
    MAX_DEPTH,
    MAX_TENSOR_DIMS,
    TYPE_BOOLEAN,
    TYPE_NIL,
    TYPE_NUMBER,
    TYPE_STRING,
    TYPE_TABLE,
    TYPE_TORCH,
    Reader,
    _decode,
    _IdentityKey,
)
from converter.torch7.objects import (
    STORAGE_DTYPES,
    TENSOR_DTYPES,
    LuaBool,
    LuaFunction,
    T7Object,
    T7Storage,
    T7Tensor,
)

try:
    from converter.torch7 import _t7parse
except ImportError:  # built without a C compiler: BinaryReader alone, 5-7x slower
    _t7parse = None

# what the C loop reads itself: class name -> (0 storage / 1 tensor, dtype, element size)
_SPECS = {
    **{name: (0, dtype, dtype.itemsize) for name, dtype in STORAGE_DTYPES.items()},
    **{name: (1, dtype, dtype.itemsize) for name, dtype in TENSOR_DTYPES.items()},
}
_PYTHON_ONLY = set(_HANDLERS) - set(_SPECS)  # tds.Vec, tds.Hash: torchfile's readers


def native_parser_built() -> bool:
    """Whether the C object loop is there (it is optional: see pyproject.toml)."""
    return _t7parse is not None


def native(reader: BinaryReader) -> tuple[Any, int] | None:
    """(the object, the offset after it) as the C loop reads `reader`'s buffer; None where it
    gives up, or was not built."""
    if _t7parse is None:
        return None
    return _t7parse.parse(
        reader.data, MAX_DEPTH, MAX_TENSOR_DIMS, _SPECS, _PYTHON_ONLY, reader.storage_at,
        T7Object, T7Tensor, T7Storage, LuaFunction, LuaBool, _IdentityKey,
    )  # fmt: skip


def parse(reader: BinaryReader) -> Any:
    """The one object in `reader`'s buffer, read by the C loop where it can, else by
    `reader`; `reader.pos` ends after it either way."""
    done = native(reader)
    if done is None:
        return reader.read_obj()
    obj, reader.pos = done
    return obj


class BinaryReader(Reader):
    """The binary format's object loop with its primitives inlined: a network's structure is
    mostly small numbers and strings, and one Python call per object instead of four parses
    it a fifth faster (the C loop, where built, 5-7 times faster still). Every read is
    still checked (`unpack_from` refuses to read past the end) and fails with the same
    messages; the depth bound counts the tables and objects nested, not the numbers and
    strings at the bottom. The ASCII reader keeps Reader's loop, over its text primitives."""

    def read_int(self) -> int:
        try:
            (value,) = _INT.unpack_from(self.data, self.pos)
        except struct.error:
            raise self.truncated(4) from None
        self.pos += 4
        return value

    def read_long(self) -> int:
        try:
            (value,) = _LONG.unpack_from(self.data, self.pos)
        except struct.error:
            raise self.truncated(8) from None
        self.pos += 8
        return value

    def read_string(self, disable_utf8: bool = False) -> bytes:
        data, pos = self.data, self.pos
        try:
            (size,) = _INT.unpack_from(data, pos)
        except struct.error:
            raise self.truncated(4) from None
        self.pos = pos = pos + 4
        end = pos + size
        if size < 0:
            raise self.fail(f"corrupt string length {size}")
        if end > self.total_size:
            raise self.truncated(size)
        self.pos = end
        return data[pos:end]

    def read_obj(self) -> Any:
        data, pos = self.data, self.pos
        try:
            (typeidx,) = _INT.unpack_from(data, pos)
        except struct.error:
            raise self.truncated(4) from None
        self.pos = pos = pos + 4
        if typeidx == TYPE_STRING:
            return _decode(self.read_string())
        if typeidx == TYPE_NUMBER:
            try:
                (x,) = _DOUBLE.unpack_from(data, pos)
            except struct.error:
                raise self.truncated(8) from None
            self.pos = pos + 8
            return int(x) if x.is_integer() and abs(x) < 2**53 else x
        if typeidx == TYPE_NIL:
            return None
        if typeidx == TYPE_BOOLEAN:
            return self.read_int() == 1
        if typeidx not in _REFERENCE_TYPES:
            raise self.fail(f"unknown object type id {typeidx} (corrupt file?)")
        index = self.read_int()
        if index in self.objects:
            return self.objects[index]
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(f"objects nested deeper than {MAX_DEPTH} levels (corrupt file?)")
            if typeidx == TYPE_TORCH:
                return self._read_torch(index)
            if typeidx == TYPE_TABLE:
                return self._read_table(index)
            return self._read_function(index)
        finally:
            self.depth -= 1
