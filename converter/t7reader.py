"""Safe, lazy reader for Lua Torch7 `torch.save` files (binary and ASCII), built on torchfile.

torchfile's `T7Reader` is the parser; this module extends it where real checkpoints need more:
- every read is checked against the end of the file, so a truncated or corrupt file raises
  `T7FormatError` (with the offset) instead of reading garbage or hanging;
- storages are not read into memory: binary storages are remembered as (file, offset, dtype, size)
  and only the slice a tensor view needs is read when `T7Tensor.numpy()` is called, so a checkpoint
  saved without `clearState()` costs memory for the parameters only;
- every tensor view is bounds-checked against its storage before any data is touched;
- all tensor types read, CUDA ones included (cutorch writes their bytes exactly like the CPU types),
  and Half;
- the ASCII format (`torch.save(path, obj, 'ascii')`) reads too;
- files that are not Torch7 at all (PyTorch pickles, Git LFS pointers, ...) are named, with what to
  do instead (see `sniff_format`).
"""

from __future__ import annotations

import gzip
import io
import math
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Union

import numpy as np
import torchfile

from converter.errors import NotTorch7Error, T7FormatError

PathLike = Union[str, Path]

TYPE_NIL, TYPE_NUMBER, TYPE_STRING, TYPE_TABLE, TYPE_TORCH, TYPE_BOOLEAN = 0, 1, 2, 3, 4, 5
FUNCTION_TYPES = (6, 7, 8)  # function, legacy recursive function, recursive function

MAX_DEPTH = 2000  # nngraph node chains nest one level per node; deeper than this is corruption
MAX_TENSOR_DIMS = 64

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


STORAGE_DTYPES = _class_dtypes("Storage")
TENSOR_DTYPES = _class_dtypes("Tensor")


@dataclass(eq=False)
class T7Object:
    """An instance of a Torch class that is not a tensor or storage (an nn module, usually)."""

    class_name: str
    version: int
    fields: Any = None  # normally a dict of the object's Lua table

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default) if isinstance(self.fields, dict) else default

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def __contains__(self, key: str) -> bool:
        return isinstance(self.fields, dict) and key in self.fields

    def __repr__(self) -> str:
        return f"T7Object({self.class_name})"


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
        with open(self.path, "rb") as f:
            f.seek(self.file_offset + start * self.dtype.itemsize)
            out = np.fromfile(f, dtype=self.dtype, count=count)
        if out.size != count:
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
        """The tensor's values as a new contiguous array (reads only the bytes the view covers)."""
        if self.numel == 0:
            return np.zeros(self.shape or (0,), dtype=self.dtype.newbyteorder("="))
        first, end = self.span()
        flat = self.storage.read(first, end - first).astype(
            self.dtype.newbyteorder("="), copy=False
        )
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


@dataclass(frozen=True)
class LuaFunction:
    """A serialised Lua function (bytecode and upvalues); kept so the rest of a file still reads."""

    dumped: bytes
    upvalues: Any = field(repr=False)


# --------------------------------------------------------------------------- format detection

_LFS_RE = re.compile(rb"^version https://git-lfs\.github\.com/spec/v1\s")
_ASCII_RE = re.compile(rb"^\s*-?\d+\s*\n")


def sniff_format(head: bytes, path: PathLike) -> str:
    """'binary', 'ascii' or 'gzip'; raises NotTorch7Error naming what the file really is."""
    if not head:
        raise T7FormatError(f"{path}: the file is empty (0 bytes); copy or download it again")
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if _LFS_RE.match(head):
        size = re.search(rb"\nsize (\d+)", head)
        real = f" of {int(size.group(1)):,} bytes" if size else ""
        raise NotTorch7Error(
            f"{path}: this is a Git LFS pointer file, not the model; fetch the real file{real} "
            "with `git lfs pull` in its repository (or download it from the LFS storage)"
        )
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise NotTorch7Error(
            f"{path}: this is a Python pickle written by PyTorch's torch.save (legacy format), "
            "not a Lua Torch7 file; load it in PyTorch with torch.load(path, weights_only=True)"
        )
    if head[:4] == b"PK\x03\x04":
        raise NotTorch7Error(
            f"{path}: this is a ZIP archive (PyTorch >= 1.6 torch.save format), not a Lua Torch7 "
            "file; load it in PyTorch with torch.load(path, weights_only=True)"
        )
    if head[:4] == b"\x89HDF":
        raise NotTorch7Error(
            f"{path}: this is an HDF5 file, not a Lua Torch7 file; open it with h5py"
        )
    if head[:6] == b"\x93NUMPY":
        raise NotTorch7Error(
            f"{path}: this is a NumPy .npy file, not a Lua Torch7 file; use numpy.load"
        )
    if len(head) >= 4 and int.from_bytes(head[:4], "little") in (0, 1, 2, 3, 4, 5, 6, 7, 8):
        return "binary"
    if _ASCII_RE.match(head):
        return "ascii"
    raise NotTorch7Error(
        f"{path}: not a Torch7 file (it starts with {head[:16]!r}); t7convert reads files written "
        "by Lua torch.save in binary or ASCII format"
    )


# --------------------------------------------------------------------------- the reader


class _Reader(torchfile.T7Reader):
    """torchfile's T7Reader with checked primitive reads, lazy storages and decoded strings."""

    def __init__(self, fileobj: BinaryIO, total_size: int, path: Path, lazy_path: Path | None):
        super().__init__(fileobj, use_list_heuristic=True, use_int_heuristic=True)
        self.total_size = total_size
        self.path = path
        self.lazy_path = lazy_path  # storages stay in this file; None: read them eagerly
        self.depth = 0
        self.handlers: dict[str, Callable[[_Reader, str], Any]] = {}
        for name, dtype in STORAGE_DTYPES.items():
            self.handlers[name] = _storage_handler(name, dtype)
        for name, dtype in TENSOR_DTYPES.items():
            self.handlers[name] = _tensor_handler(name, dtype)
        for name, handler in torchfile.type_handlers.items():  # tds.Vec, tds.Hash
            self.handlers.setdefault(name.decode("latin-1"), handler)

    # ---- checked primitives
    def fail(self, what: str) -> T7FormatError:
        return T7FormatError(f"{self.path}: at byte {self.tell():,}: {what}")

    def tell(self) -> int:
        return self.f.tell()

    def remaining(self) -> int:
        return self.total_size - self.tell()

    def read_bytes(self, n: int) -> bytes:
        if n < 0 or n > self.remaining():
            raise self.fail(
                f"truncated file: needs {n:,} bytes but only {max(self.remaining(), 0):,} remain "
                f"(file size {self.total_size:,}); the file is incomplete, copy it again"
            )
        return self.f.read(n)

    def _read(self, fmt: str) -> tuple:
        fmt = "<" + fmt.replace("l", "q")  # Torch7 files written on x86_64: little-endian, long=8
        return struct.unpack(fmt, self.read_bytes(struct.calcsize(fmt)))

    def read_long(self) -> int:
        return self._read("q")[0]

    def read_long_array(self, n: int) -> list[int]:
        return list(np.frombuffer(self.read_bytes(8 * n), dtype="<i8").tolist())

    def read_string(self, disable_utf8: bool = False) -> bytes:
        size = self.read_int()
        if size < 0:
            raise self.fail(f"corrupt string length {size}")
        return self.read_bytes(size)

    def read_array(self, dtype: np.dtype, count: int) -> np.ndarray:
        return np.frombuffer(self.read_bytes(count * dtype.itemsize), dtype=dtype).copy()

    def skip_array(self, dtype: np.dtype, count: int) -> int:
        """Skip `count` elements; returns the offset where they start."""
        start = self.tell()
        nbytes = count * dtype.itemsize
        if nbytes > self.remaining():
            raise self.fail(
                f"truncated file: a storage of {count:,} elements ({nbytes:,} bytes) starts here "
                f"but the file ends after {self.total_size:,} bytes; copy or download it again"
            )
        self.f.seek(nbytes, io.SEEK_CUR)
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
        if typeidx not in (TYPE_TABLE, TYPE_TORCH, *FUNCTION_TYPES):
            raise self.fail(f"unknown object type id {typeidx} (corrupt file?)")
        index = self.read_int()
        if index in self.objects:
            return self.objects[index]
        if typeidx in FUNCTION_TYPES:
            dumped = self.read_string()
            obj = LuaFunction(dumped, None)
            self.objects[index] = obj
            obj = LuaFunction(dumped, self.read_obj())
            self.objects[index] = obj
            return obj
        if typeidx == TYPE_TORCH:
            return self._read_torch(index)
        return self._read_table(index)

    def _read_torch(self, index: int) -> Any:
        version_string = _decode(self.read_string())
        if isinstance(version_string, str) and version_string.startswith("V "):
            try:
                version = int(float(version_string[2:]))
            except ValueError:
                raise self.fail(f"corrupt class version {version_string!r}") from None
            class_name = _decode(self.read_string())
        else:
            class_name, version = version_string, 0
        if not isinstance(class_name, str) or not class_name.isprintable() or not class_name:
            raise self.fail(f"corrupt class name {class_name!r}")
        handler = self.handlers.get(class_name)
        if handler is not None:
            self.objects[index] = None
            obj = handler(self, version)
            self.objects[index] = obj
            return obj
        obj = T7Object(class_name, version)
        self.objects[index] = obj  # before its fields: an object may refer to itself
        obj.fields = self.read_obj()
        return obj

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


@dataclass(frozen=True)
class LuaBool:
    """A boolean table key, kept distinct from the number keys 1 and 0 it equals in Python."""

    value: bool


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
    def read_storage(reader: _Reader, version: Any) -> T7Storage:
        size = reader.read_long()
        if size < 0:
            raise reader.fail(f"corrupt {class_name} size {size}")
        if reader.lazy_path is not None:
            start = reader.skip_array(dtype, size)
            return T7Storage(class_name, dtype, size, path=reader.lazy_path, file_offset=start)
        return T7Storage(class_name, dtype, size, data=reader.read_array(dtype, size))

    return read_storage


def _tensor_handler(class_name: str, dtype: np.dtype):
    def read_tensor(reader: _Reader, version: Any) -> T7Tensor:
        ndim = reader.read_int()
        if not 0 <= ndim <= MAX_TENSOR_DIMS:
            raise reader.fail(f"corrupt {class_name}: {ndim} dimensions")
        shape = tuple(reader.read_long_array(ndim))
        stride = tuple(reader.read_long_array(ndim))
        offset = reader.read_long() - 1  # Torch's storageOffset is 1-based
        storage = reader.read_obj()
        if storage is not None and not isinstance(storage, T7Storage):
            raise reader.fail(f"corrupt {class_name}: its storage is a {type(storage).__name__}")
        tensor = T7Tensor(class_name, dtype, shape, stride, offset, storage)
        _check_view(tensor, reader)
        return tensor

    return read_tensor


def _check_view(t: T7Tensor, reader: _Reader) -> None:
    """A view must lie inside its storage; otherwise reading it would touch foreign memory."""
    if any(n < 0 for n in t.shape) or any(s < 0 for s in t.stride) or t.offset < 0:
        raise reader.fail(
            f"corrupt {t.class_name}: size {t.shape}, stride {t.stride}, offset {t.offset + 1}"
        )
    if t.numel == 0:
        return
    if t.storage is None:
        raise reader.fail(f"corrupt {t.class_name}: {t.numel} elements but no storage")
    if t.storage.dtype != t.dtype:
        raise reader.fail(f"corrupt {t.class_name}: it views a {t.storage.class_name}")
    first, end = t.span()
    if end > t.storage.size:
        raise reader.fail(
            f"corrupt {t.class_name} of size {'x'.join(map(str, t.shape))}: it reaches element "
            f"{end:,} of a storage of {t.storage.size:,}"
        )


# --------------------------------------------------------------------------- ASCII format


class _AsciiReader(_Reader):
    """Torch's ASCII format: numbers as whitespace-separated text, strings as raw bytes."""

    def read_int(self) -> int:
        token = self._token()
        try:
            return int(token)
        except ValueError:
            raise self.fail(f"expected an integer, found {token[:20]!r}") from None

    def read_long(self) -> int:
        return self.read_int()

    def read_double(self) -> float:
        token = self._token()
        try:
            return float(token)
        except ValueError:
            raise self.fail(f"expected a number, found {token[:20]!r}") from None

    def read_long_array(self, n: int) -> list[int]:
        return [self.read_int() for _ in range(n)]

    def read_string(self, disable_utf8: bool = False) -> bytes:
        size = self.read_int()
        if size < 0:
            raise self.fail(f"corrupt string length {size}")
        return self._raw(size)

    def read_array(self, dtype: np.dtype, count: int) -> np.ndarray:
        if dtype.itemsize == 1:  # Byte/Char: DiskFile.c writes them raw even in ASCII mode
            return np.frombuffer(self._raw(count), dtype=dtype).copy()
        if count > self.remaining():
            raise self.fail(f"truncated file: a storage of {count:,} values does not fit")
        tokens: list[bytes] = []
        while len(tokens) < count:  # torch writes all values on one line
            line = self.f.readline(self.remaining())
            if not line:
                raise self.fail("truncated file: it ends in the middle of a storage")
            tokens += line.split()
        if len(tokens) != count:
            raise self.fail(f"corrupt storage: {len(tokens):,} values where {count:,} belong")
        try:  # integers parsed as integers: a float64 detour would round longs above 2**53
            values = np.array(tokens)
            return values.astype(dtype if dtype.kind in "iu" else np.float64).astype(dtype)
        except (ValueError, OverflowError):
            raise self.fail("corrupt storage values") from None

    def _raw(self, n: int) -> bytes:
        """`n` raw bytes and the newline Torch's auto-spacing writes after them."""
        data = self.read_bytes(n)
        if n and self.f.read(1) not in (b"\n", b""):
            self.f.seek(-1, io.SEEK_CUR)
        return data

    def _token(self) -> bytes:
        out = bytearray()
        while True:
            c = self.f.read(1)
            if not c:
                if out:
                    return bytes(out)
                raise self.fail("truncated file: it ends in the middle of an object")
            if c.isspace():
                if out:
                    return bytes(out)
                continue
            out += c
            if len(out) > 64:
                raise self.fail("corrupt number token")


# --------------------------------------------------------------------------- public API


def load_t7(path: PathLike, lazy: bool = True) -> Any:
    """Read a Torch7 file; tensors come back as `T7Tensor` views whose data is read on demand.

    With `lazy` (the default) storage bytes of binary files are not read now: only the
    tensors that are later converted with `.numpy()` cost memory. Raises `T7FormatError` for
    truncated or corrupt files and `NotTorch7Error` for files of another format.
    """
    path = Path(path)
    if path.is_dir():
        raise T7FormatError(f"{path}: is a directory; give a .t7 file")
    try:
        with open(path, "rb") as f:
            head = f.read(256)
            kind = sniff_format(head, path)
            f.seek(0)
            if kind == "gzip":
                with gzip.open(f) as g:
                    data = _gunzip(g, path)
                return _read_stream(io.BytesIO(data), len(data), path, None, sniff_again=True)
            total = f.seek(0, io.SEEK_END)
            f.seek(0)
            lazy_path = path if lazy and kind == "binary" else None
            return _read_stream(f, total, path, lazy_path, ascii=kind == "ascii")
    except FileNotFoundError:
        raise T7FormatError(f"{path}: no such file") from None
    except PermissionError:
        raise T7FormatError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise T7FormatError(f"{path}: is a directory; give a .t7 file") from None


def _gunzip(g: BinaryIO, path: Path) -> bytes:
    try:
        return g.read()
    except (OSError, EOFError) as e:
        raise T7FormatError(
            f"{path}: corrupt or truncated gzip data ({e}); copy it again"
        ) from None


def _read_stream(
    f: BinaryIO,
    total: int,
    path: Path,
    lazy_path: Path | None,
    ascii: bool = False,
    sniff_again: bool = False,
) -> Any:
    if sniff_again:
        ascii = sniff_format(f.read(256), path) == "ascii"
        f.seek(0)
    reader = (_AsciiReader if ascii else _Reader)(f, total, path, lazy_path)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 200))
    try:
        return reader.read_obj()
    except RecursionError:
        raise T7FormatError(f"{path}: objects nested too deeply (corrupt file?)") from None
    except MemoryError:
        raise T7FormatError(f"{path}: a size field is absurdly large (corrupt file?)") from None
    finally:
        sys.setrecursionlimit(limit)
