"""The image list every layout gives (`ImageList`: paths, 0-based labels, class names, notes)
and the class-folder layout itself, where the sorted folder names are the classes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from converter.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_EXAMPLES = 3  # how many names an error message shows
_LOOKED = f" (looked for {', '.join(IMAGE_EXTENSIONS)})"


@dataclass(frozen=True)
class ImageList:
    """The images to evaluate, in evaluation order, with 0-based labels."""

    root: Path
    paths: list[Path]
    labels: list[int]
    classes: list[str] | None  # synset of each class index, when the layout says
    source: str  # how the labels were found, for the summary
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def relpath(self, i: int) -> str:
        return os.path.relpath(self.paths[i], self.root)

    def limit(self, n: int | None) -> ImageList:
        """The first n images (for quick checks); the notes say so."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise UserError(f"--limit {n}: must be a positive number of images")
        note = f"--limit {n}: evaluating the first {n} of {len(self)} images"
        return replace(
            self, paths=self.paths[:n], labels=self.labels[:n], notes=[*self.notes, note]
        )

    def check_num_classes(self, num_classes: int) -> None:
        """Refuse labels the model cannot predict, before any image is read."""
        if self.classes is not None and len(self.classes) != num_classes:
            n = len(self.classes)
            raise UserError(
                f"{self.root}: the data has {n} classes (from {self.source}) but the model "
                f"has {num_classes} outputs, one per class it was trained on; give --data a "
                f"validation set of the model's {num_classes} classes, or --weights of a model "
                f"trained on these {n}"
            )
        bad = [i for i, label in enumerate(self.labels) if not 0 <= label < num_classes]
        if bad:
            raise UserError(
                f"{self.root}: label {self.labels[bad[0]]} of {self.relpath(bad[0])} is out of "
                f"range for a model with {num_classes} classes (0..{num_classes - 1}); "
                f"{len(bad)} image(s) affected"
            )


def class_folders(root: Path, scan: _Scan | None = None) -> ImageList:
    """DATA/<synset>/**/<image>: classes are the sorted sub-directory names. Hidden entries
    (names starting with '.', such as .ipynb_checkpoints/ or .DS_Store) are skipped; whatever is
    left out is counted in the notes. `scan`: a listing already begun (folder_images'), so that
    `root` is not listed twice."""
    scan = scan or _Scan()
    names = sorted(e.name for e in scan.entries(root) if e.is_dir())
    loose = _split_images(scan.files_in(root))[0]
    if not names:
        if loose:
            raise UserError(
                f"{root}: holds {len(loose)} images but no class folders; for a flat folder "
                "pass --labels FILE (LOC_val_solution.csv, ILSVRC2012_validation_ground_truth"
                ".txt or a 'filename label' list)"
            )
        raise UserError(
            f"{root}: empty; expected one folder per class (e.g. {root}/n01440764/*.JPEG)"
        )
    paths: list[Path] = []
    labels: list[int] = []
    ignored = 0
    for index, name in enumerate(names):
        found, others = _split_images(scan.walk(root / name))
        paths += found
        labels += [index] * len(found)
        ignored += others
    if not paths:
        raise UserError(f"{root}: {len(names)} class folders but no image files in any{_LOOKED}")
    notes = scan.notes(ignored)
    if loose:
        notes.append(
            f"{len(loose)} image(s) directly in {root}, outside the class folders, have no class "
            f"and were not used (e.g. {', '.join(p.name for p in loose[:_EXAMPLES])}); move them "
            "into a class folder"
        )
    return ImageList(root, paths, labels, names, "class folders", notes)


def folder_images(root: Path) -> ImageList:
    """A folder as a user hands it over: class folders (labelled, as class_folders), or image
    files directly in it (unlabelled, name order)."""
    if not root.is_dir():
        raise UserError(f"{root}: {'not a' if root.exists() else 'no such'} directory (--data)")
    scan = _Scan()
    if any(e.is_dir() for e in scan.entries(root)):
        return class_folders(root, scan)
    paths, others = _split_images(scan.files_in(root))
    if not paths:
        raise UserError(f"{root}: no image files in it, nor class folders{_LOOKED}")
    notes = scan.notes(others)
    return ImageList(root, paths, [-1] * len(paths), None, "image files, name order", notes)


def expand_folders(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Image arguments as given, each folder among them replaced by the images under it (walked,
    sorted, hidden entries skipped); and notes on what those folders held besides images."""
    scan = _Scan()
    files: list[str] = []
    ignored = 0
    for arg in args:
        if not Path(arg).is_dir():
            files.append(arg)
            continue
        found, others = _split_images(scan.walk(Path(arg)))
        if not found:
            raise UserError(f"{arg}: a folder with no image files under it{_LOOKED}")
        files += [str(p) for p in found]
        ignored += others
    return files, scan.notes(ignored)


class _Scan:
    """Directory listing that skips hidden entries and counts them, for the notes."""

    def __init__(self) -> None:
        self.hidden = 0
        self._listed: dict[Path, list[os.DirEntry]] = {}  # a folder listed twice counts once

    def entries(self, folder: Path) -> list[os.DirEntry]:
        if folder not in self._listed:
            with os.scandir(folder) as it:
                found = list(it)
            visible = [e for e in found if not e.name.startswith(".")]
            self.hidden += len(found) - len(visible)
            self._listed[folder] = visible
        return self._listed[folder]

    def files_in(self, folder: Path) -> list[Path]:
        """Files directly in `folder` (a flat folder is not walked), sorted."""
        return sorted(Path(e.path) for e in self.entries(folder) if e.is_file())

    def walk(self, folder: Path) -> list[Path]:
        found = []
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            visible = sorted(d for d in dirnames if not d.startswith("."))
            self.hidden += len(dirnames) - len(visible)
            dirnames[:] = visible
            names = [f for f in filenames if not f.startswith(".")]
            self.hidden += len(filenames) - len(names)
            found += [Path(dirpath) / f for f in sorted(names)]
        return found

    def notes(self, unused: int = 0) -> list[str]:
        """What was left out: the hidden entries, and `unused` files without an image suffix."""
        notes = []
        if self.hidden:
            notes.append(
                f"{self.hidden} hidden file(s)/folder(s) (names starting with '.') were skipped"
            )
        if unused:
            notes.append(f"{unused} file(s) without an image extension were not used")
        return notes


def _split_images(files: Sequence[Path]) -> tuple[list[Path], int]:
    images = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
    return images, len(files) - len(images)


def image_files(folder: Path) -> list[Path]:
    """Images directly in `folder` (a flat validation folder is not walked), hidden ones not."""
    return _split_images(_Scan().files_in(folder))[0]
