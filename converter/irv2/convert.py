"""read -> map -> model: a Torch7 IRv2 checkpoint becomes a named PyTorch state_dict.

`convert_checkpoint` is what `t7convert`, `load_model` and the trainer call; it reads only the
tensors the mapping uses (see converter.torch7.reader's lazy storages).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from converter.irv2 import mapping
from converter.irv2.model import (
    WIDTH_DIVISORS,
    InceptionResNetV2,
    IRV2Config,
    skeleton,
    with_weights,
)
from converter.torch7 import checkpoint
from converter.torch7 import modules as t7modules
from converter.torch7.digest import BackgroundSha256
from converter.torch7.objects import T7Object, T7Tensor, reading_files
from converter.torch7.reader import load_t7
from mappings import table_path

ARCH = "inception_resnet_v2"
_STEM_WIDTH = 32  # output channels of the first convolution at full width


@dataclass
class Conversion:
    state_dict: dict[str, torch.Tensor]
    config: IRV2Config
    source: checkpoint.CheckpointSource
    meta: dict[str, Any] = field(default_factory=dict)
    # the meta-device network the mapping was checked against, until build_model fills it in
    checked: InceptionResNetV2 | None = field(default=None, repr=False)

    def build_model(self, fresh: bool = False) -> InceptionResNetV2:
        """The converted network, in eval mode (checkpoints are saved with train=true). It holds
        `state_dict`'s tensors, not copies: a second model of the same conversion shares them.
        The first call fills in the network the mapping was checked against (building 1,600
        modules again cost a sixth of a load); `fresh` builds a new one, for a `.py` export,
        which records the constructor calls made while this runs."""
        model, self.checked = (None if fresh else self.checked), None
        return with_weights(self.config, self.state_dict, model).eval()


def converter_version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is set)."""
    try:
        return importlib.metadata.version("irv2-torch7")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout, not installed
        return "0+unknown"


def infer_config(root: T7Object) -> IRV2Config:
    """Width and class count read off the tensors; what cannot be read stays at the default
    (the mapping then says what does not fit)."""
    modules = [m for _, m in t7modules.walk(root)]
    convs = [m for m in modules if "Convolution" in m.class_name]
    linears = [m for m in modules if t7modules.short_class(m.class_name) == "Linear"]
    kwargs: dict[str, Any] = {}
    stem = convs[0].get("weight") if convs else None
    if isinstance(stem, T7Tensor) and stem.numel:
        width = stem.shape[0]
        if _STEM_WIDTH % width == 0 and _STEM_WIDTH // width in WIDTH_DIVISORS:
            kwargs["width_divisor"] = _STEM_WIDTH // width
    classifier = linears[-1].get("weight") if linears else None
    if isinstance(classifier, T7Tensor) and classifier.shape and classifier.shape[0] > 0:
        kwargs["num_classes"] = int(classifier.shape[0])
    return IRV2Config(**kwargs)


def convert_checkpoint(
    path: str | Path,
    table: str = "irv2",
    digest: BackgroundSha256 | None = None,
) -> Conversion:
    """Convert a model file, a checkpoint directory or its latest.t7.

    `digest` may be a hash of the model file already under way (see converter.digest).
    """
    source = checkpoint.resolve(path)
    if digest is None or digest.path != source.model_path:
        digest = BackgroundSha256(source.model_path)
    return convert_tree(load_t7(source.model_path), source, table, digest)


def convert_tree(
    obj: Any,
    source: checkpoint.CheckpointSource,
    table: str = "irv2",
    digest: BackgroundSha256 | None = None,
) -> Conversion:
    """Convert what a Torch7 file holds (`obj` as `load_t7` returns it, wrappers included), read
    from `source`; without `digest` the meta has no sha256 (a tree built or altered in memory).
    """
    root = t7modules.unwrap(obj, str(source.model_path))
    rows = mapping.read_table(table_path(table))
    mapping.check_architecture(root, rows)  # before a model is built for it
    config = infer_config(root)
    target = skeleton(config)
    with reading_files():  # the tensors through one open file
        state = mapping.apply_table(root, rows, target)
    meta = {
        "arch": ARCH,
        "config": config.to_dict(),
        "source_file": source.model_path.name,
        "source_sha256": digest.result() if digest is not None else None,
        "source_epoch": source.epoch,
        "mapping": table,
        "converter_version": converter_version(),
    }
    return Conversion(state, config, source, meta, checked=target)
