"""The HDF5 file irv2-features writes, row block by row block as the batches finish.

`features` (N x D float32, row i = image i; NaN for an image --skip-bad left out),
`paths` (the images as given), `skipped_paths` (those left out), and for class folders
`labels` (0-based) and `classes`; every setting as attributes (`settings_json` holds
them all). The file is written under a temporary name and renamed only once every row is in,
so a failed or interrupted run leaves no partial file; nothing is held in memory but the
current block.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import UserError

_CHUNK_BYTES = 1 << 20  # HDF5 chunks of about 1 MiB: whole rows, few enough to index


class FeatureWriter:
    """Puts blocks of rows into `features`, created when the first block tells D."""

    def __init__(self, file: Any, n_rows: int, layer: str) -> None:
        self.file, self.n_rows, self.layer = file, n_rows, layer
        self.written = 0
        self.dataset: Any = None
        self.skipped: list[tuple[int, str]] = []  # (row, message): rows left NaN

    def write(self, start: int, rows: np.ndarray) -> None:
        if self.dataset is None:
            dim = rows.shape[1]
            chunk_rows = max(1, min(self.n_rows, _CHUNK_BYTES // (4 * dim)))
            self.dataset = self.file.create_dataset(
                "features", (self.n_rows, dim), np.float32, chunks=(chunk_rows, dim),
                fillvalue=np.nan,
            )  # fmt: skip
            self.dataset.attrs["layer"] = self.layer
        self.dataset[start : start + len(rows)] = rows
        self.written += len(rows)

    def write_rows(self, indices: list[int], rows: np.ndarray) -> None:
        """Rows at `indices` (ascending), written run by run of consecutive rows."""
        begin = 0
        for k in range(1, len(indices) + 1):
            if k == len(indices) or indices[k] != indices[k - 1] + 1:
                self.write(indices[begin], rows[begin:k])
                begin = k

    def skip(self, bad: list[tuple[int, str]]) -> None:
        """Rows of unreadable images: left at the fill value, NaN, and listed."""
        self.skipped += bad
        self.written += len(bad)


@contextmanager
def feature_file(
    path: Path,
    force: bool,
    paths: Sequence[str],
    labels: Sequence[int] | None,
    classes: Sequence[str] | None,
    settings: dict[str, Any],
) -> Iterator[FeatureWriter]:
    """A FeatureWriter for `path`; the file appears there when the block ends with every row
    written."""
    import h5py

    from converter.outputs.atomic import atomic_path

    strings = h5py.string_dtype()
    with atomic_path(path, force) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("paths", data=list(paths), dtype=strings)
        if labels is not None:
            f["labels"] = np.asarray(labels, dtype=np.int64)
        if classes is not None:
            f.create_dataset("classes", data=list(classes), dtype=strings)
        for key, value in settings.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            f.attrs[key] = "" if value is None else value
        f.attrs["settings_json"] = json.dumps(settings)
        writer = FeatureWriter(f, len(paths), str(settings.get("layer", "")))
        yield writer
        if writer.written != len(paths):  # a bug, not a user error: never rename such a file
            raise RuntimeError(f"wrote {writer.written} of {len(paths)} feature rows")
        if writer.dataset is None and paths:
            raise UserError(f"none of the {len(paths)} images could be read; nothing written")
        skipped = [paths[row] for row, _ in sorted(writer.skipped)]
        f.create_dataset("skipped_paths", data=skipped, dtype=strings)
        f.attrs["n_skipped"] = len(skipped)
