"""One suffix rule for every file a command writes, checked before any work.

Each command declares its outputs up front (`Output`: the option that names it, the path, the
formats it can hold) and calls `check_outputs` before it reads a model or an image: the format
is the suffix (loaders and users go by it; `--format` only confirms it), a suffix the option
cannot hold is refused, and so is a path that exists (without --force), a missing folder, a
folder this process cannot write in, and two options naming one file. So an hour of evaluation
never ends in "cannot write", and an `.npy` never holds HDF5.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from converter.errors import UserError
from converter.outputs.atomic import check_writable

# Suffixes that are other spellings of one format; every other suffix names itself.
_ALIASES = {"pth": "pt", "hdf5": "h5"}
STDOUT = "-"


def format_of(path: Path | str) -> str | None:
    """The format `path`'s suffix names (`x.pth` -> "pt"), None without a suffix."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return _ALIASES.get(suffix, suffix) or None


def suffixes_of(formats: Iterable[str]) -> str:
    """The suffixes that name `formats`, for a message: ".pt, .pth, .h5, .hdf5"."""
    spelt = []
    for fmt in formats:
        spelt += [f".{fmt}"] + [f".{a}" for a, f in _ALIASES.items() if f == fmt]
    return ", ".join(spelt)


def file_path(text: str, option: str) -> Path:
    """`text` as an output file's path; "out/" (a folder, as the user typed it) is refused,
    naming the mistake, before Path() drops the slash."""
    if text.endswith(("/", os.sep)):
        raise UserError(
            f"{text}: names a folder; {option} is a file: give its name, e.g. {text}model"
            ".safetensors"
        )
    return Path(text)


@dataclass(frozen=True)
class Output:
    """One file a command will write: the option naming it (as the user typed it, for
    messages), its path, the formats it can hold, and whether '-' (stdout) is allowed."""

    option: str
    path: Path | str | None
    formats: tuple[str, ...]
    stdout: bool = False
    requested: str | None = None  # --format, which must agree with the suffix

    def check_format(self) -> str | None:
        """The format this output is written in; a UserError when the suffix cannot say it."""
        if self.path is None or (self.stdout and str(self.path) == STDOUT):
            return None
        path = Path(self.path)
        if path.is_dir():
            raise UserError(f"{path}: is a directory; give a file name for {self.option}")
        fmt = format_of(path)
        if fmt not in self.formats:
            what = f"the suffix {path.suffix!r}" if path.suffix else "no suffix"
            raise UserError(
                f"{path}: {self.option} writes {suffixes_of(self.formats)}, and {what} names "
                f"none of them; name the file with one of these suffixes"
            )
        if self.requested is not None and self.requested != fmt:
            raise UserError(
                f"{path}: --format {self.requested} contradicts the suffix {path.suffix!r}; "
                f"name the file .{self.requested} or leave --format out"
            )
        return fmt


def check_outputs(outputs: Iterable[Output], force: bool) -> dict[str, str | None]:
    """Check every declared output before any work; {option: format} of those given."""
    given = [o for o in outputs if o.path is not None]
    seen: dict[str, str] = {}
    for o in given:
        key = str(o.path) if str(o.path) == STDOUT else str(Path(o.path).resolve())
        if key in seen:
            where = "stdout" if key == STDOUT else str(o.path)
            raise UserError(f"{seen[key]} and {o.option} both name {where}; give two files")
        seen[key] = o.option
    formats = {o.option: o.check_format() for o in given}
    for o in given:
        if formats[o.option] is not None:
            check_writable(Path(o.path), force, o.option)
    return formats
