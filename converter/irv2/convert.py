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
from converter.irv2.model import InceptionResNetV2, IRV2Config
from converter.torch7 import checkpoint
from converter.torch7 import modules as t7modules
from converter.torch7.digest import BackgroundSha256
from converter.torch7.objects import T7Object
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

    def build_model(self) -> InceptionResNetV2:
        """The converted network, in eval mode (checkpoints are saved with train=true)."""
        model = InceptionResNetV2(self.config)
        model.load_state_dict(self.state_dict)
        return model.eval()


def _converter_version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is set)."""
    try:
        return importlib.metadata.version("irv2-torch7")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout, not installed
        return "0+unknown"


def infer_config(root: T7Object) -> IRV2Config:
    """Width and class count read off the tensors; what cannot be read stays at the default."""
    convs = [m for _, m in t7modules.walk(root) if "Convolution" in m.class_name]
    linears = [
        m for _, m in t7modules.walk(root) if t7modules.short_class(m.class_name) == "Linear"
    ]
    kwargs: dict[str, Any] = {}
    if convs and "weight" in convs[0] and convs[0]["weight"].numel:
        stem = convs[0]["weight"].shape[0]
        if stem and _STEM_WIDTH % stem == 0:
            kwargs["width_divisor"] = _STEM_WIDTH // stem
    if linears and "weight" in linears[-1]:
        kwargs["num_classes"] = int(linears[-1]["weight"].shape[0])
    return IRV2Config(**kwargs)


def convert_checkpoint(
    path: str | Path, table: str = "irv2", digest: BackgroundSha256 | None = None
) -> Conversion:
    """Convert a model file, a checkpoint directory or its latest.t7.

    `digest` may be a hash of the model file already under way (see converter.digest).
    """
    source = checkpoint.resolve(path)
    if digest is None or digest.path != source.model_path:
        digest = BackgroundSha256(source.model_path)
    root = t7modules.unwrap(load_t7(source.model_path), str(source.model_path))
    config = infer_config(root)
    with torch.device("meta"):  # shapes and geometry only: no memory, no weight init
        target = InceptionResNetV2(config)
    state = mapping.apply_table(root, mapping.read_table(table_path(table)), target)
    meta = {
        "arch": ARCH,
        "config": config.to_dict(),
        "source_file": source.model_path.name,
        "source_sha256": digest.result(),
        "source_epoch": source.epoch,
        "mapping": table,
        "converter_version": _converter_version(),
    }
    return Conversion(state, config, source, meta)
