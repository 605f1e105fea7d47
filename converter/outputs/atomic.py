"""Every output file of every command is written the same way: refused if it exists (unless
--force), written under a temporary name beside it, renamed into place only on success.

So an interrupted or failing run never leaves a half-written file or clobbers a user's work,
and a folder that cannot take the file is found before the work, not after it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from converter.errors import UserError


def check_writable(path: Path, force: bool, option: str = "output") -> None:
    """Refuse an output that exists (without --force), has no directory, or whose directory
    this process cannot create a file in: before, not after, the expensive part of a command.

    The folder is probed by creating (and removing) a temp file in it, the very operation the
    write will do: permission bits, read-only mounts and root's rights all answer as they will.
    """
    path = Path(path)
    _check_target(path, force, option)
    check_folder(path.parent, path, option)


def _check_target(path: Path, force: bool, option: str) -> None:
    """Everything `check_writable` refuses but an unwritable folder."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a file name for {option}")
    if path.exists() and not force:
        raise UserError(f"{path}: already exists; pass --force to overwrite it")
    if path.parent.exists() and not path.parent.is_dir():
        raise UserError(f"{path}: {path.parent} is a file, not a folder; choose another {option}")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: output directory does not exist ({option} {path})")


def check_folder(folder: Path, path: Path, option: str) -> None:
    """Refuse `path` (named by `option`) when this process cannot create a file in `folder`."""
    fd, probe = _temp_file(folder, path, option)
    os.close(fd)
    os.unlink(probe)


def _temp_file(folder: Path, path: Path, option: str) -> tuple[int, str]:
    """A new temp file in `folder` for `path`, or the one-line refusal of that folder."""
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise UserError(
            f"{path}: cannot write in {folder} ({e.strerror}); choose another {option} "
            "or a folder you can write in"
        ) from None


@contextmanager
def atomic_path(path: Path, force: bool) -> Iterator[Path]:
    """A temp path beside `path` that replaces it only if the block succeeds. An OS error on
    the temp file is reported on `path`: the user never named the temp file."""
    path = Path(path)
    _check_target(path, force, "output")
    fd, tmp = _temp_file(path.parent, path, "output")  # its own folder check: no probe first
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield Path(tmp)
        # after the write: mkstemp's 0600 (or a writer's own new file, as safetensors makes)
        # would make outputs private to this user
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as e:
        if e.filename is None or Path(e.filename) != Path(tmp):
            raise
        raise UserError(f"{path}: cannot write it ({e.strerror or e})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
