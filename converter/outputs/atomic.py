"""Every output file of every command is written the same way: refused if it exists (unless
--force), written under a temporary name beside it, renamed into place only on success.

So an interrupted or failing run never leaves a half-written file or clobbers a user's work.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from converter.errors import UserError


def check_writable(path: Path, force: bool) -> None:
    """Refuse an output that exists (without --force) or has no directory: before, not after,
    the expensive part of a command."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a file name for the output")
    if path.exists() and not force:
        raise UserError(f"{path}: already exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: output directory does not exist")


@contextmanager
def atomic_path(path: Path, force: bool) -> Iterator[Path]:
    """A temp path beside `path` that replaces it only if the block succeeds."""
    path = Path(path)
    check_writable(path, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield Path(tmp)
        # after the write: mkstemp's 0600 (or a writer's own new file, as safetensors makes)
        # would make outputs private to this user
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
