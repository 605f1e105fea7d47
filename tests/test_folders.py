"""Folders as users hand them over: hidden entries (.ipynb_checkpoints/, .DS_Store, macOS ._
files) are skipped and counted, no image is left out without a note, and a folder is a valid
input wherever images are (irv2-classify DIR, a flat --data for irv2-features)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_invoke import invoke_streams as invoke
from PIL import Image

from converter.errors import UserError
from evaluate.data.imagelist import class_folders, expand_folders, folder_images


def image(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def dataset(tmp_path) -> Path:
    """Two classes, plus what a notebook and a Mac leave behind."""
    root = tmp_path / "train"
    image(root / "cat" / "a.png")
    image(root / "dog" / "b.png", 1)
    image(root / ".ipynb_checkpoints" / "c.png", 2)
    image(root / "cat" / "._a.png", 3)  # AppleDouble: not the image, despite its suffix
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def test_hidden_folders_are_no_class_and_hidden_files_no_image(dataset):
    images = class_folders(dataset)
    print(images.notes)
    assert images.classes == ["cat", "dog"]  # not a third class, .ipynb_checkpoints
    assert [p.name for p in images.paths] == ["a.png", "b.png"]
    assert images.notes == ["3 hidden file(s)/folder(s) (names starting with '.') were skipped"]


def test_images_outside_the_class_folders_are_named_in_a_note(dataset):
    image(dataset / "loose.png")
    images = class_folders(dataset)
    loose = [n for n in images.notes if "outside the class folders" in n]
    assert len(images) == 2 and len(loose) == 1 and "1 image(s)" in loose[0]
    assert "loose.png" in loose[0]


def test_a_hidden_only_folder_is_no_class_folder(tmp_path):
    image(tmp_path / "flat" / ".ipynb_checkpoints" / "x.png")
    image(tmp_path / "flat" / "y.png")
    images = folder_images(tmp_path / "flat")  # flat, not "class folders, no images"
    assert images.source == "image files, name order" and [p.name for p in images.paths] == [
        "y.png"
    ]
    assert images.labels == [-1] and "1 hidden" in images.notes[0]


def test_folders_among_files_stand_for_the_images_under_them(dataset, tmp_path):
    single = image(tmp_path / "z.png")
    files, notes = expand_folders([str(single), str(dataset)])
    assert files == [str(single), str(dataset / "cat" / "a.png"), str(dataset / "dog" / "b.png")]
    assert notes and "hidden" in notes[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: a folder with no image files"):
        expand_folders([str(tmp_path / "empty")])


def test_classify_takes_a_folder(dataset, bundled):
    from evaluate.pretrained.classify_cli import main

    code, out, err = invoke(main, dataset, "--weights", bundled / "irv2_tiny.t7", "--workers", 0)
    print(err)
    assert code == 0, err
    assert "a.png" in out and "b.png" in out and "c.png" not in out
    assert "note: 3 hidden file(s)/folder(s)" in err


def test_features_of_a_mixed_folder_say_what_they_left_out(dataset, tmp_path, bundled):
    from evaluate.pretrained.features_cli import main

    image(dataset / "loose.png")
    out = tmp_path / "f.h5"
    code, _, err = invoke(
        main, "--data", dataset, "--weights", bundled / "irv2_tiny.t7", "-o", out,
        "--workers", 0, "-q",
    )  # fmt: skip
    print(err)
    assert code == 0, err
    assert "note: 1 image(s) directly in" in err and "loose.png" in err
    with h5py.File(out) as f:
        assert len(f["paths"]) == 2

    flat = tmp_path / "flat"
    image(flat / "p.png")
    image(flat / "q.bmp", 1)
    code, _, err = invoke(
        main, "--data", flat, "--weights", bundled / "irv2_tiny.t7", "-o", tmp_path / "g.h5",
        "--workers", 0, "-q",
    )  # fmt: skip
    assert code == 0, err
    with h5py.File(tmp_path / "g.h5") as f:
        assert [p.decode() for p in f["paths"]] == [str(flat / "p.png"), str(flat / "q.bmp")]
