"""Shared by the irv2-eval tests: a class-folder validation tree and the CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from evaluate.cli import main

N_CLASSES = 1000


def synset(i: int) -> str:
    return f"n{i:08d}"


def class_tree(root: Path, photos: list[Path], labels: list[int]) -> Path:
    """1000 class folders, mostly empty; photo k in the folder of labels[k]."""
    for i in range(N_CLASSES):
        (root / synset(i)).mkdir(parents=True)
    for photo, label in zip(photos, labels):
        shutil.copy(photo, root / synset(label) / photo.name)
    return root


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
