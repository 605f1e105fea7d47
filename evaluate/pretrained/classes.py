"""Class names: ImageNet's (fb.resnet.torch's `pretrained/imagenet.lua` names, with the WNIDs of
the ILSVRC2012 devkit), or a fine-tuned model's own.

`synset_words.txt` (package data) holds one `WNID name, synonyms...` line per class in the
sorted-WNID order that class folders, fb.resnet.torch and PyTorch all use: line i is class
index i (Lua's i + 1). irv2-train records a fine-tuned model's class-folder names in its
checkpoint (`meta["classes"]`), and those name the model's outputs instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from converter.errors import UserError

IMAGENET_CLASSES = 1000
_WNID = re.compile(r"n\d{8}")


@dataclass(frozen=True)
class ClassNames:
    """What each output index of a model means: a WNID where there is one, and a name."""

    wnids: tuple[str | None, ...]
    names: tuple[str, ...]
    source: str  # where the names come from, for every output to record

    def __len__(self) -> int:
        return len(self.names)


@functools.lru_cache(maxsize=1)
def imagenet() -> ClassNames:
    """The 1000 ImageNet-1k classes, as fb.resnet.torch's classify.lua names them."""
    text = resources.files("evaluate.pretrained").joinpath("synset_words.txt").read_text("utf-8")
    wnids, names = zip(*(line.split(" ", 1) for line in text.splitlines()))
    return ClassNames(wnids, names, "ImageNet (fb.resnet.torch's names)")


def for_model(num_outputs: int, recorded: Sequence[str] | None) -> ClassNames:
    """The names of a model's `num_outputs` outputs.

    A model that records its classes (irv2-train's class folders) is named by them: a folder
    named by a WNID gets ImageNet's name for it where ImageNet has one, any other folder name
    is the class's name. Without a record, 1000 outputs are ImageNet's classes and other
    widths get "class i".
    """
    if recorded is not None:
        if len(recorded) != num_outputs:
            raise UserError(
                f"the model records {len(recorded)} class names but has {num_outputs} outputs; "
                "its file is inconsistent, convert or train it again"
            )
        known = dict(zip(imagenet().wnids, imagenet().names))
        wnids = tuple(c if _WNID.fullmatch(c) else None for c in recorded)
        names = tuple(known.get(c, c) for c in recorded)
        return ClassNames(wnids, names, f"the model's own ({num_outputs} class folders)")
    if num_outputs == IMAGENET_CLASSES:
        return imagenet()
    return ClassNames(
        (None,) * num_outputs,
        tuple(f"class {i}" for i in range(num_outputs)),
        f"unnamed ({num_outputs} outputs, no class names recorded)",
    )
