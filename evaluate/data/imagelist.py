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


def class_names(root: Path) -> list[str]:
    """The classes of a folder of class folders: its sorted sub-directory names."""
    return sorted(e.name for e in os.scandir(root) if e.is_dir())


def class_folders(root: Path) -> ImageList:
    """DATA/<synset>/**/<image>: classes are the sorted sub-directory names."""
    names = class_names(root)
    if not names:
        loose = _image_files(root)
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
        found, others = _split_images(_walk(root / name))
        paths += found
        labels += [index] * len(found)
        ignored += others
    if not paths:
        raise UserError(
            f"{root}: {len(names)} class folders but no image files in any "
            f"(looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    notes = []
    if ignored:
        notes.append(f"{ignored} file(s) without an image extension were not evaluated")
    return ImageList(root, paths, labels, names, "class folders", notes)


def _walk(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        found += [Path(dirpath) / f for f in sorted(filenames)]
    return found


def _split_images(files: Sequence[Path]) -> tuple[list[Path], int]:
    images = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
    return images, len(files) - len(images)


def _image_files(folder: Path) -> list[Path]:
    """Images directly in `folder` (a flat validation folder is not walked)."""
    return _split_images(sorted(p for p in folder.iterdir() if p.is_file()))[0]
