"""Validation image lists and their labels, in the layouts people actually have.

Class index i is the i-th synset in sorted order, as fb.resnet.torch's imagenet-gen.lua and
torchvision's ImageFolder both number them. Two layouts:

* class folders: DATA/n01440764/*.JPEG ... (classes = sorted sub-directory names, empty ones
  allowed, files found recursively with an image extension);
* a flat folder plus a labels file, one of
  - Kaggle `LOC_val_solution.csv` (`ImageId,PredictionString`, first token = synset): the class
    order comes from `--classes` or from `LOC_synset_mapping.txt` beside the csv;
  - the devkit's `ILSVRC2012_validation_ground_truth.txt` (one ILSVRC2012_ID per line, for
    ILSVRC2012_val_00000001, 00000002, ...): those IDs are NOT the sorted-synset order, so the
    devkit's `data/meta.mat` (read with scipy when installed) or a text export of it
    (`ILSVRC2012_ID WNID` per line) must be given as `--devkit-meta`;
  - plain text, `filename label` per line: label is a 0-based class index, or a synset when a
    class list (`--classes`) is given; `#` starts a comment.

A `--classes` file holds one synset per line (extra words after it are ignored, so
LOC_synset_mapping.txt works as is); line i is class index i.

Any file this module cannot use is reported, never dropped silently: `ImageList.notes` says what
was left out and why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from converter.errors import UserError
from evaluate.data.imagelist import _EXAMPLES, ImageList, class_folders
from evaluate.data.labels import labelled_folder, read_class_list


def open_images(
    data: str | Path,
    labels: str | Path | None = None,
    classes: str | Path | None = None,
    devkit_meta: str | Path | None = None,
) -> ImageList:
    """The image list for `--data` (class folders), or for `--data` + `--labels` (flat folder)."""
    root = Path(data)
    if not root.is_dir():
        what = "not a directory" if root.exists() else "no such directory"
        raise UserError(f"{root}: {what} (--data must be a folder of images)")
    if labels is None:
        if devkit_meta is not None:
            raise UserError("--devkit-meta is only used with --labels (the devkit ground truth)")
        images = class_folders(root)
        if classes is not None:
            _check_folder_classes(images, read_class_list(Path(classes)), Path(classes))
        return images
    return labelled_folder(
        root,
        Path(labels),
        None if classes is None else Path(classes),
        None if devkit_meta is None else Path(devkit_meta),
    )


SKIP_BAD_HINT = "(or pass --skip-bad to leave unreadable images out)"


def unreadable(message: str) -> UserError:
    """The error that stops a run at an unreadable image, pointing to --skip-bad."""
    return UserError(f"{message} {SKIP_BAD_HINT}")


def skipped_lines(messages: list[str], consequence: str) -> list[str]:
    """The report of --skip-bad, the same in every command: a count, what it means, each image."""
    if not messages:
        return []
    head = f"skipped {len(messages)} unreadable image(s); {consequence}:"
    return [head, *(f"  {m}" for m in messages)]


class ImageDataset:
    """Map-style dataset over an ImageList: item k -> (image or None, label, error or None).

    An unreadable image comes back as its error message instead of an exception: a DataLoader
    worker would wrap the exception in a multi-line traceback, and the caller decides whether a
    bad image stops the run or is skipped (and listed).
    """

    def __init__(self, images: ImageList, transform: Callable[[Path], Any]) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, k: int) -> tuple[Any, int, str | None]:
        path = self.images.paths[k]
        try:
            return self.transform(path), self.images.labels[k], None
        except UserError as e:
            message = str(e)
            if str(path) not in message:
                message = f"{path}: {message}"
            return None, self.images.labels[k], message


def _check_folder_classes(images: ImageList, classes: list[str], classes_file: Path) -> None:
    if classes != images.classes:
        missing = [c for c in classes if c not in set(images.classes or [])]
        raise UserError(
            f"{images.root}: its {len(images.classes or [])} class folders do not match the "
            f"{len(classes)} classes of {classes_file} in order"
            + (f" (missing e.g. {', '.join(missing[:_EXAMPLES])})" if missing else "")
            + "; class folders define the classes themselves, drop --classes or fix the list"
        )
