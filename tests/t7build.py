"""Torch7 objects built in a test as Lua writes them, and the zoo cases (tests' fixtures/zoo)
they are arranged from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7

EMPTY = np.zeros(0, dtype=np.float32)


def module(cls: str, **fields) -> T7Object:
    """A Torch7 module object as Lua writes it: its fields plus output/gradInput/train."""
    return T7Object(cls, 1, {"output": EMPTY, "gradInput": EMPTY, "train": False, **fields})


def zoo(fixtures: Path, name: str) -> dict:
    """A zoo case (fixtures/zoo/NAME.t7) as the file holds it."""
    return load_t7(fixtures / "zoo" / f"{name}.t7")
