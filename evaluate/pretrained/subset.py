"""Which of a model's outputs each class folder is: by name, so any subset of its classes works.

ImageNet class folders are named by WNID, and the package ships the 1000 WNIDs in the model's
output order (evaluate.pretrained.classes), so four synset folders are four known outputs of
a 1000-class model, not "4 classes against 1000 outputs". A fine-tuned model's outputs are the
class folders it recorded, matched the same way. Top-k stays over all outputs (a wrong class
outside the subset still counts as wrong) unless the user restricts it to the present ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from converter.errors import UserError
from evaluate.data.imagelist import ImageList
from evaluate.pretrained.classes import IMAGENET_CLASSES, imagenet

DATASET_SPLITS = {"train", "val", "test"}


@dataclass(frozen=True)
class ClassMatch:
    """The image list relabelled with the model's output indices, and which outputs occur."""

    images: ImageList
    present: list[int] | None  # output indices of the classes present, where only some are


def match_classes(
    images: ImageList, num_outputs: int, recorded: Sequence[str] | None, weights: Path
) -> ClassMatch:
    """Labels as the model's output indices; refused where the folders cannot be matched."""
    if images.classes is None:  # a flat folder's --labels are output indices already
        images.check_num_classes(num_outputs)
        return ClassMatch(images, None)
    if recorded is not None:
        keys = list(recorded)
    else:
        keys = list(imagenet().wnids) if num_outputs == IMAGENET_CLASSES else None
    if keys is None or keys == images.classes:
        images.check_num_classes(num_outputs)
        return ClassMatch(images, None)
    index = {name: i for i, name in enumerate(keys)}
    unknown = [c for c in images.classes if c not in index]
    if unknown:
        if recorded is None:  # folders that are not WNIDs: matched by position, as before
            images.check_num_classes(num_outputs)
            return ClassMatch(images, None)
        raise UserError(
            f"{images.root}: {len(unknown)} class folder(s) are not among the "
            f"{len(recorded)} classes {weights} was trained on (e.g. {', '.join(unknown[:3])}); "
            "evaluate it on folders of those classes"
        )
    present = sorted(index[c] for c in images.classes)
    which = "ImageNet" if recorded is None else "recorded"
    note = (
        f"{len(present)} of the model's {num_outputs} {which} classes are present (class "
        f"folders matched by name); top-1/top-5 are over all {num_outputs} outputs "
        "(--restrict-to-present: over the present classes only)"
    )
    relabelled = replace(
        images,
        labels=[index[images.classes[label]] for label in images.labels],
        classes=keys,
        notes=[*images.notes, note],
    )
    return ClassMatch(relabelled, present)


def refuse_dataset_root(images: ImageList) -> None:
    """A dataset root (train/, val/) is not a folder of classes: point at its val/."""
    splits = sorted(set(images.classes or ()) & DATASET_SPLITS)
    if splits and (images.root / "val").is_dir():
        raise UserError(
            f"{images.root}: holds {', '.join(s + '/' for s in splits)} rather than class "
            f"folders; give --data {images.root / 'val'}"
        )
