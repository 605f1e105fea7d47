"""Image lists and labels: class folders and flat folders with every labels format we accept.

Files are empty placeholders: listing never decodes an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converter.errors import UserError
from evaluate.data.datasets import ImageDataset, open_images
from evaluate.data.labels import read_devkit_meta

SYNSETS = ["n01440764", "n01443537", "n01484850", "n01491361"]


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def flat(tmp_path: Path, n: int) -> Path:
    root = tmp_path / "val_flat"
    for i in range(1, n + 1):
        touch(root / f"ILSVRC2012_val_{i:08d}.JPEG")
    return root


# --- class folders -------------------------------------------------------------------------


def test_class_folders_sorted_with_empty_classes_and_subfolders(tmp_path):
    root = tmp_path / "val"
    for name in reversed(SYNSETS):  # created out of order: the listing must sort
        (root / name).mkdir(parents=True)
    touch(root / SYNSETS[2] / "b.JPEG")
    touch(root / SYNSETS[2] / "a.jpeg")
    touch(root / SYNSETS[0] / "deeper" / "c.png")
    touch(root / SYNSETS[0] / "README.txt")
    images = open_images(root)
    assert images.classes == SYNSETS
    assert [images.relpath(i) for i in range(len(images))] == [
        f"{SYNSETS[0]}/deeper/c.png",
        f"{SYNSETS[2]}/a.jpeg",
        f"{SYNSETS[2]}/b.JPEG",
    ]
    assert images.labels == [0, 2, 2]
    assert images.notes == ["1 file(s) without an image extension were not used"]


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "empty; expected one folder per class"),
        ({"x.JPEG": ""}, "holds 1 images but no class folders; for a flat folder pass --labels"),
        ({"n01440764/notes.txt": ""}, "1 class folders but no image files in any"),
    ],
)
def test_class_folders_refusals(tmp_path, layout, message):
    root = tmp_path / "val"
    root.mkdir()
    for name, text in layout.items():
        touch(root / name, text)
    with pytest.raises(UserError, match=message):
        open_images(root)


def test_missing_data_directory(tmp_path):
    with pytest.raises(UserError, match="no such directory"):
        open_images(tmp_path / "nope")


def test_classes_file_must_match_class_folders(tmp_path):
    root = tmp_path / "val"
    for name in SYNSETS[:2]:
        touch(root / name / "x.JPEG")
    listing = touch(tmp_path / "classes.txt", "\n".join(SYNSETS) + "\n")
    with pytest.raises(UserError, match=r"do not match the 4 classes .*\(missing e.g. n01484850"):
        open_images(root, classes=listing)


def test_wrong_class_count_and_out_of_range_label(tmp_path):
    root = tmp_path / "val"
    for name in SYNSETS:
        touch(root / name / "x.JPEG")
    images = open_images(root)
    images.check_num_classes(4)
    with pytest.raises(UserError, match="4 classes \\(from .*\\) but the model has 1000 outputs"):
        images.check_num_classes(1000)
    labels = touch(tmp_path / "labels.txt", "n01440764/x.JPEG 7\n")
    plain = open_images(root, labels=labels)
    with pytest.raises(UserError, match="label 7 of n01440764/x.JPEG is out of range .* 5 classes"):
        plain.check_num_classes(5)


def test_limit_keeps_the_first_images_and_says_so(tmp_path):
    root = tmp_path / "val"
    for name in SYNSETS:
        touch(root / name / "x.JPEG")
    images = open_images(root).limit(3)
    assert images.labels == [0, 1, 2]
    assert images.notes == ["--limit 3: evaluating the first 3 of 4 images"]


# --- Kaggle LOC_val_solution.csv -------------------------------------------------------------

KAGGLE = (
    "ImageId,PredictionString\n"
    "ILSVRC2012_val_00000003,n01484850 1 2 3 4 n01484850 5 6 7 8\n"
    "ILSVRC2012_val_00000001,n01491361 1 2 3 4\n"
    "ILSVRC2012_val_00000002,n01440764 1 2 3 4\n"
)
MAPPING = "".join(f"{s} some words, more words\n" for s in SYNSETS)


def test_kaggle_csv_with_synset_mapping_beside_it(tmp_path):
    root = flat(tmp_path, 3)
    csv = touch(tmp_path / "LOC_val_solution.csv", KAGGLE)
    touch(tmp_path / "LOC_synset_mapping.txt", MAPPING)
    images = open_images(root, labels=csv)
    assert [p.name for p in images.paths] == [f"ILSVRC2012_val_0000000{i}.JPEG" for i in (1, 2, 3)]
    assert images.labels == [3, 0, 2]
    assert images.classes == SYNSETS
    assert images.source == "LOC_val_solution.csv"


def test_kaggle_csv_with_classes_option_and_unlabelled_images_noted(tmp_path):
    root = flat(tmp_path, 4)
    csv = touch(tmp_path / "labels" / "LOC_val_solution.csv", "\ufeff" + KAGGLE)
    classes = touch(tmp_path / "synsets.txt", "\n".join(SYNSETS))
    images = open_images(root, labels=csv, classes=classes)
    assert images.labels == [3, 0, 2]
    assert images.notes == [
        f"1 image(s) in {root} have no label in LOC_val_solution.csv: not evaluated"
    ]


def test_kaggle_csv_without_a_class_list_is_refused(tmp_path):
    csv = touch(tmp_path / "LOC_val_solution.csv", KAGGLE)
    with pytest.raises(UserError, match="put LOC_synset_mapping.txt .* or pass --classes"):
        open_images(flat(tmp_path, 3), labels=csv)


def test_kaggle_csv_unknown_synset(tmp_path):
    csv = touch(tmp_path / "LOC_val_solution.csv", KAGGLE.replace("n01491361", "n09999999"))
    touch(tmp_path / "LOC_synset_mapping.txt", MAPPING)
    with pytest.raises(UserError, match=r"csv:3: synset n09999999 is not in the class list"):
        open_images(flat(tmp_path, 3), labels=csv)


# --- devkit ILSVRC2012_validation_ground_truth.txt -------------------------------------------

# Devkit IDs are in WordNet-tree order, not sorted-synset order: ID 1 is the LAST sorted synset.
DEVKIT_META = "1 n01491361\n2 n01440764\n3 n01484850\n4 n01443537\n1001 n00001740\n"


def test_devkit_ground_truth_without_meta_is_refused_with_what_to_provide(tmp_path):
    truth = touch(tmp_path / "ILSVRC2012_validation_ground_truth.txt", "1\n2\n3\n")
    with pytest.raises(UserError) as err:
        open_images(flat(tmp_path, 3), labels=truth)
    message = str(err.value)
    print(message)
    assert "not the sorted-synset class order" in message
    for needed in ("--devkit-meta", "meta.mat", "'ILSVRC2012_ID WNID'", "LOC_val_solution.csv"):
        assert needed in message


def test_devkit_ground_truth_through_a_text_meta_export(tmp_path):
    truth = touch(tmp_path / "ILSVRC2012_validation_ground_truth.txt", "1\n2\n3\n")
    meta = touch(tmp_path / "meta.txt", DEVKIT_META)
    images = open_images(flat(tmp_path, 3), labels=truth, devkit_meta=meta)
    # ID 1 -> n01491361 -> sorted index 3; ID 2 -> n01440764 -> 0; ID 3 -> n01484850 -> 2.
    assert images.labels == [3, 0, 2]
    assert images.classes == SYNSETS  # IDs above 1000 (ancestors in meta.mat) are not classes


def test_devkit_ground_truth_through_meta_mat(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    records = np.zeros((5, 1), dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O")])
    for row, line in enumerate(DEVKIT_META.splitlines()):
        number, wnid = line.split()
        records[row, 0] = (np.array([[int(number)]], dtype=np.uint16), wnid, "words")
    scipy_io.savemat(tmp_path / "meta.mat", {"synsets": records})
    assert read_devkit_meta(tmp_path / "meta.mat")[1] == "n01491361"
    truth = touch(tmp_path / "ILSVRC2012_validation_ground_truth.txt", "1\n2\n3\n")
    images = open_images(flat(tmp_path, 3), labels=truth, devkit_meta=tmp_path / "meta.mat")
    assert images.labels == [3, 0, 2]


def test_devkit_meta_text_must_be_id_wnid_lines(tmp_path):
    meta = touch(tmp_path / "meta.txt", "n01491361 1\n")
    with pytest.raises(UserError, match=r"meta.txt:1: expected 'ILSVRC2012_ID WNID'"):
        read_devkit_meta(meta)


# --- plain 'filename label' -----------------------------------------------------------------


def test_plain_labels_indices_and_synsets(tmp_path):
    root = flat(tmp_path, 3)
    labels = touch(
        tmp_path / "val.txt",
        "# file label\nILSVRC2012_val_00000002.JPEG 0\n\n"
        "ILSVRC2012_val_00000001 n01484850  # a stem and a synset\n",
    )
    with pytest.raises(UserError, match=r"val.txt:4: label n01484850 is a synset; pass --classes"):
        open_images(root, labels=labels)
    classes = touch(tmp_path / "classes.txt", "\n".join(SYNSETS))
    images = open_images(root, labels=labels, classes=classes)
    assert [p.name for p in images.paths] == [
        "ILSVRC2012_val_00000001.JPEG",
        "ILSVRC2012_val_00000002.JPEG",
    ]
    assert images.labels == [2, 0]
    assert images.notes == [f"1 image(s) in {root} have no label in val.txt: not evaluated"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a.JPEG\n", r"val.txt:1: expected 'filename label'"),
        ("ILSVRC2012_val_00000001.JPEG -1\n", r"label '-1' is neither a 0-based class index"),
        ("gone.JPEG 1\nalso_gone.JPEG 2\n", r"2 labelled image\(s\) are missing from .* gone.JPEG"),
        ("\n# nothing\n", "no labels in it"),
    ],
)
def test_plain_labels_refusals(tmp_path, text, message):
    labels = touch(tmp_path / "val.txt", text)
    with pytest.raises(UserError, match=message):
        open_images(flat(tmp_path, 1), labels=labels)


def test_missing_labels_and_classes_files(tmp_path):
    root = flat(tmp_path, 1)
    with pytest.raises(UserError, match="no such labels file"):
        open_images(root, labels=tmp_path / "LOC_val_solution.csv")
    labels = touch(tmp_path / "val.txt", "ILSVRC2012_val_00000001.JPEG n01440764\n")
    with pytest.raises(UserError, match="no such class list"):
        open_images(root, labels=labels, classes=tmp_path / "classes.txt")


# --- the dataset the loader reads ------------------------------------------------------------


def test_image_dataset_returns_errors_instead_of_raising(tmp_path):
    root = tmp_path / "val"
    good = touch(root / SYNSETS[0] / "good.JPEG")
    touch(root / SYNSETS[1] / "bad.JPEG")

    def transform(path: Path) -> str:
        if path.name == "bad.JPEG":
            raise UserError("truncated")
        return f"pixels of {path.name}"

    dataset = ImageDataset(open_images(root), transform)
    assert dataset[0] == ("pixels of good.JPEG", 0, None)
    image, label, error = dataset[1]
    assert (image, label) == (None, 1)
    assert error == f"{root / SYNSETS[1] / 'bad.JPEG'}: truncated"  # the path is always named
    assert good.exists()


@pytest.mark.parametrize("option", ["labels", "classes", "devkit_meta"])
def test_binary_or_non_utf8_text_files_are_named_not_decoded(tmp_path, option):
    """A JPEG passed as a text file, or a Latin-1 list: one clear error, never a traceback."""
    root = flat(tmp_path, 1)
    truth = touch(tmp_path / "ILSVRC2012_validation_ground_truth.txt", "1\n")
    for name, content in [
        ("img.JPEG", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
        ("l1.txt", b"caf\xe9"),
    ]:
        wrong = tmp_path / name
        wrong.write_bytes(content)
        kwargs = {
            "labels": {"labels": wrong},
            "classes": {"labels": touch(tmp_path / "val.txt", "a.JPEG 0\n"), "classes": wrong},
            "devkit_meta": {"labels": truth, "devkit_meta": wrong},
        }[option]
        with pytest.raises(UserError) as err:
            open_images(root, **kwargs)
        print(err.value)
        assert str(wrong) in str(err.value) and "not UTF-8 text" in str(err.value)


def test_corrupt_meta_mat_is_one_line(tmp_path):
    pytest.importorskip("scipy")
    (tmp_path / "meta.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 20)
    with pytest.raises(UserError, match="not a readable MATLAB file") as info:
        read_devkit_meta(tmp_path / "meta.mat")
    assert "\n" not in str(info.value)
