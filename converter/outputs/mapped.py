"""Writing and reading converted weights (.pt, .h5, .safetensors), and the one table that says
which format an output's suffix means, for the mapped and the generic path alike.

All weight files are written atomically (temp file in the same directory, then rename), so an
interrupted run never leaves a half-written output, and all load without unpickling code:
`torch.load(path, weights_only=True)` for .pt, h5py for .h5, safetensors for .safetensors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from converter.errors import UserError
from converter.outputs import declared, safetensors_mapped
from converter.outputs.atomic import atomic_path

if TYPE_CHECKING:  # torch is imported where used: format_for runs before the slow import
    import torch

FORMATS = ("pt", "h5", "safetensors", "onnx", "pt2", "py")  # every format t7convert writes
MAPPED_FORMATS = ("pt", "h5", "safetensors", "onnx", "py")  # the IRv2 mapping's outputs
GENERIC_FORMATS = ("safetensors", "onnx", "pt2", "py")  # --generic's outputs
_WHAT = {
    "pt": "the IRv2 mapping's state_dict",
    "h5": "the IRv2 mapping's HDF5 weights",
    "pt2": "a torch.export program, written by --generic",
}


def format_of(path: Path) -> str | None:
    """The format a file's suffix means (None: no format of ours)."""
    fmt = declared.format_of(path)
    return fmt if fmt in FORMATS else None


def format_for(path: Path, requested: str | None, generic: bool = False) -> str:
    """The output format, which the suffix decides: loaders go by it, so `x.pt` holding HDF5
    would never load again and `x.bin` would not load at all (--format only confirms it). A
    format the path (mapped IRv2 or --generic) does not write is refused, saying which does."""
    allowed = GENERIC_FORMATS if generic else MAPPED_FORMATS
    fmt = format_of(path)
    if fmt is not None and fmt not in allowed and requested in (None, fmt):
        path_name = "--generic" if generic else "the IRv2 mapping (without --generic)"
        raise UserError(
            f"{path}: {path_name} writes {declared.suffixes_of(allowed)}, not .{fmt} "
            f"({_WHAT[fmt]}); loaders go by the suffix"
        )
    return declared.Output("OUTPUT", path, allowed, requested=requested).check_format()


def _save_pt(state_dict: dict[str, torch.Tensor], meta: dict[str, Any], path: Path) -> None:
    import torch

    torch.save({"state_dict": state_dict, "meta": meta}, path)


def _save_h5(state_dict: dict[str, torch.Tensor], meta: dict[str, Any], path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["meta_json"] = json.dumps(meta)
        for key, value in meta.items():
            f.attrs[key] = (
                json.dumps(value)
                if isinstance(value, (dict, list))
                else ("" if value is None else value)
            )
        for key, tensor in state_dict.items():
            f.create_dataset(key, data=tensor.numpy())  # '.' in names keeps keys verbatim


def _load_pt(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure here means "not our file"
        raise UserError(
            f"{path}: not a converted checkpoint readable by torch.load ({e})"
        ) from None
    if not isinstance(blob, dict) or "state_dict" not in blob or "meta" not in blob:
        raise UserError(f"{path}: not written by t7convert (no state_dict/meta); convert it first")
    return blob["state_dict"], blob["meta"]


def _load_h5(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    import h5py
    import torch

    try:
        with h5py.File(path, "r") as f:
            meta = json.loads(f.attrs["meta_json"])
            state = {k: torch.from_numpy(np.asarray(f[k][()])) for k in f.keys()}
    except (OSError, KeyError) as e:
        raise UserError(f"{path}: not an HDF5 file written by t7convert ({e})") from None
    return state, meta


Saver = Callable[[dict, dict, Path], None]
Loader = Callable[[Path], tuple]
WRITERS: dict[str, Saver] = {
    "pt": _save_pt,
    "h5": _save_h5,
    "safetensors": safetensors_mapped.save,
}
READERS: dict[str, Loader] = {
    "pt": _load_pt,
    "h5": _load_h5,
    "safetensors": safetensors_mapped.load,
}


def save(
    state_dict: dict[str, torch.Tensor],
    meta: dict[str, Any],
    path: Path,
    fmt: str,
    force: bool = False,
) -> None:
    if fmt not in WRITERS:
        raise UserError(f"unknown weights format {fmt!r}; use one of {', '.join(WRITERS)}")
    with atomic_path(path, force) as tmp:
        WRITERS[fmt](state_dict, meta, tmp)


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, meta) from a file written by `save`, read as its suffix says (.pt when the
    suffix is none of ours, as before)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return READERS.get(format_of(path), _load_pt)(path)
