"""Format detection: binary, ASCII or gzip Torch7, or the other file a user mistook for one.

Files that are not Torch7 at all (PyTorch pickles, Git LFS pointers, HDF5, ...) are named, with
what to do instead, before any parsing starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Union

from converter.errors import NotTorch7Error, T7FormatError

PathLike = Union[str, Path]

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
    image = next((kind for magic, kind in _IMAGES.items() if head.startswith(magic)), None)
    if image is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        image = "WebP"
    if image is not None:
        raise NotTorch7Error(
            f"{path}: this is a {image} image, not a model; give {_command()} a model here (a "
            "Lua Torch7 .t7 file, a checkpoint directory or a file t7convert wrote)"
        )
    if len(head) >= 4 and int.from_bytes(head[:4], "little") in (0, 1, 2, 3, 4, 5, 6, 7, 8):
        return "binary"
    if _ASCII_RE.match(head):
        return "ascii"
    raise NotTorch7Error(
        f"{path}: not a Torch7 file (it starts with {head[:16]!r}); {_command()} reads files "
        "written by Lua torch.save in binary or ASCII format"
    )


_IMAGES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG": "PNG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def _command() -> str:
    """The command the user ran, for messages (t7convert when called from Python)."""
    import click

    ctx = click.get_current_context(silent=True)
    name = ctx.find_root().info_name if ctx is not None else None
    return name or "t7convert"
