"""Shared test fixtures: where the Torch7-written reference files are.

Small references are bundled in tests/data/ and always run. The full fixture set lives in
../shared/fixtures/torch7 (CI always has it; override with IRV2_FIXTURES). Tests that need it
skip with a clear reason on a fresh clone without it.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "tests" / "data"
_DEFAULT_SHARED = REPO.parent / "shared"


def shared_dir() -> Path:
    return Path(os.environ.get("IRV2_SHARED", _DEFAULT_SHARED))


def fixtures_dir() -> Path:
    return Path(os.environ.get("IRV2_FIXTURES", shared_dir() / "fixtures" / "torch7"))


@pytest.fixture(scope="session")
def bundled() -> Path:
    return BUNDLED


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The Torch7 fixture directory; skips when this clone has no ../shared beside it."""
    d = fixtures_dir()
    if not (d / "MANIFEST.md").is_file():
        pytest.skip(f"Torch7 fixtures not found at {d} (set IRV2_FIXTURES or clone beside shared/)")
    return d


@pytest.fixture(scope="session")
def realworld() -> Path:
    d = shared_dir() / "realworld"
    if not (d / "README.md").is_file():
        pytest.skip(f"real-world files not found at {d} (set IRV2_SHARED)")
    return d


def _gunzip_once(src: Path, tmp_root: Path) -> Path:
    dst = tmp_root / src.name[: -len(".gz")]
    if not dst.exists():
        with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 22)
    return dst


@pytest.fixture(scope="session")
def irv2_full_t7(fixtures, tmp_path_factory) -> Path:
    """full/irv2_full.t7 (253 MB), decompressed once per test session."""
    return _gunzip_once(fixtures / "full" / "irv2_full.t7.gz", tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="session")
def resnet18_t7(fixtures, tmp_path_factory) -> Path:
    """resnet18/resnet18.t7 (94 MB), decompressed once per test session."""
    return _gunzip_once(fixtures / "resnet18" / "resnet18.t7.gz", tmp_path_factory.mktemp("r18"))


@pytest.fixture(scope="session")
def tiny_pt(bundled, tmp_path_factory) -> Path:
    """tests/data/irv2_tiny.t7 converted once to a .pt, as t7convert writes it."""
    from converter.irv2.convert import convert_checkpoint
    from converter.outputs import mapped as output

    conversion = convert_checkpoint(bundled / "irv2_tiny.t7")
    path = tmp_path_factory.mktemp("tiny") / "irv2_tiny.pt"
    output.save(conversion.state_dict, conversion.meta, path, "pt", force=True)
    return path


@pytest.fixture(scope="session")
def photos(fixtures) -> list[Path]:
    found = sorted((fixtures / "images").glob("*.JPEG"))
    assert len(found) == 7
    return found
