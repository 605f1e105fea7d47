"""Safe, lazy reader for Lua Torch7 `torch.save` files (binary and ASCII), built on torchfile.

torchfile's `T7Reader` is the parser; this package extends it where real checkpoints need more:
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
import mmap
import sys
from pathlib import Path
from typing import Any, BinaryIO

from converter.errors import T7FormatError
from converter.torch7.ascii import AsciiReader
from converter.torch7.binary import MAX_DEPTH, Buffer
from converter.torch7.fast import BinaryReader, parse
from converter.torch7.objects import T7Object, kind_of
from converter.torch7.sniff import PathLike, sniff_format


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
            kind = sniff_format(f.read(256), path)
            f.seek(0)
            if kind == "gzip":
                with gzip.open(f) as g:
                    return _parse(_gunzip(g, path), path, None, sniff_again=True)
            if kind == "ascii" or not lazy:
                return _parse(f.read(), path, None, ascii=kind == "ascii")
            # the parser walks the mapped file; storage bytes are skipped, never paged in
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(data, path, path)
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


def _parse(
    data: Buffer,
    path: Path,
    lazy_path: Path | None,
    ascii: bool = False,
    sniff_again: bool = False,
) -> Any:
    if sniff_again:
        ascii = sniff_format(data[:256], path) == "ascii"
    reader = (AsciiReader if ascii else BinaryReader)(data, path, lazy_path)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 200))
    try:
        obj = reader.read_obj() if ascii else parse(reader)
    except RecursionError:
        raise T7FormatError(f"{path}: objects nested too deeply (corrupt file?)") from None
    except MemoryError:
        raise T7FormatError(f"{path}: a size field is absurdly large (corrupt file?)") from None
    finally:
        sys.setrecursionlimit(limit)
    _check_one_object(data, reader.pos, path, obj)
    return obj


def _check_one_object(data: Buffer, end: int, path: Path, first: Any) -> None:
    """A torch.save file holds one object. Files of 2011 (torch5 and the first Torch7) hold
    several, written one after the other, and classes with their own write() add trailers:
    Torch7's torch.load returns the first, an empty tensor, which is not the model."""
    rest = data[end : end + (1 << 16)]
    if not rest.strip() or isinstance(first, (dict, list, T7Object)):
        return
    more = len(data) - end
    raise T7FormatError(
        f"{path}: holds several top-level objects ({kind_of(first)} first, then {more:,} more "
        "bytes): a 2011-era Torch file whose classes wrote their own trailers; Torch7's own "
        "torch.load reads only that first object, so no Torch7 loads this model from it"
    )
