"""Where the benchmarks find the Torch7 fixture set (IRV2_FIXTURES, else ../shared beside the
checkout), and how they unpack its gzipped files."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

FIXTURES = Path(
    os.environ.get(
        "IRV2_FIXTURES",
        Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "torch7",
    )
)


def gunzip(src: Path, dst: Path) -> Path:
    """`src` (.gz) unpacked to `dst`, in 4 MB pieces."""
    with gzip.open(src) as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 22)
    return dst
