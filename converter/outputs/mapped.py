"""Writing and reading converted weights: `.pt` (plain state_dict + metadata) and `.h5`.

Both are written atomically (temp file in the same directory, then rename), so an interrupted
run never leaves a half-written output, and both load without unpickling code:
`torch.load(path, weights_only=True)` for .pt, h5py for .h5.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from converter.errors import UserError
from converter.outputs.atomic import atomic_path

if TYPE_CHECKING:  # torch is imported where used: format_for runs before the slow import
    import torch

FORMATS = ("pt", "h5")
_SUFFIXES = {".pt": "pt", ".pth": "pt", ".h5": "h5", ".hdf5": "h5"}


def format_for(path: Path, requested: str | None) -> str:
    """The output format: as requested, else from the file suffix. A request that contradicts a
    known suffix is refused: loaders pick the format by suffix, so `x.pt` holding HDF5 would
    never load again."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if requested:
        if fmt not in (None, requested):
            raise UserError(
                f"{path}: --format {requested} contradicts the suffix {path.suffix!r}; "
                f"name the file .{requested} or leave --format out"
            )
        return requested
    if fmt is None:
        raise UserError(
            f"{path}: cannot tell the output format from the suffix {path.suffix!r}; "
            "use .pt or .h5, or pass --format pt|h5"
        )
    return fmt


def save(
    state_dict: dict[str, torch.Tensor],
    meta: dict[str, Any],
    path: Path,
    fmt: str,
    force: bool = False,
) -> None:
    import torch

    with atomic_path(path, force) as tmp:
        if fmt == "pt":
            torch.save({"state_dict": state_dict, "meta": meta}, tmp)
        elif fmt == "h5":
            _save_h5(state_dict, meta, tmp)
        else:
            raise UserError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}")


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


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, meta) from a file written by `save`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() in (".h5", ".hdf5"):
        return _load_h5(path)
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
