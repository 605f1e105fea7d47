"""torch.hub entry points: the converted models loaded from this repository's code.

    model = torch.hub.load("path/to/irv2-torch7", "inception_resnet_v2", source="local",
                           weights="irv2.safetensors")
    net = torch.hub.load("path/to/irv2-torch7", "torch7_translated", source="local",
                         weights="resnet50.safetensors")   # or runs/ft/model_best.pt, a .t7

Weights are files t7convert wrote (nothing is downloaded: the authors' checkpoints are
converted by the user); `.safetensors` loads without unpickling anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

dependencies = ["torch", "numpy", "safetensors", "torchfile", "click", "h5py"]


def inception_resnet_v2(
    weights: str | Path | None = None, device: str = "cpu", **config: Any
) -> nn.Module:
    """Inception-ResNet-v2 (fb.resnet.torch's), in eval mode.

    `weights`: any form converter.load takes that holds an Inception-ResNet-v2 (a Torch7 .t7
    file or checkpoint directory, t7convert's .safetensors/.pt/.h5, an irv2-train run); None
    gives an untrained network shaped by `config` (IRV2Config fields such as num_classes,
    width_divisor).
    """
    from converter import load_model
    from converter.irv2.model import InceptionResNetV2, IRV2Config

    if weights is None:
        return InceptionResNetV2(IRV2Config(**config)).to(device).eval()
    if config:
        raise ValueError(f"{sorted(config)}: the shape comes from the weights; drop these")
    model = load_model(weights, device=device)
    if not isinstance(model, InceptionResNetV2):
        raise ValueError(f"{weights}: not an Inception-ResNet-v2; load it with torch7_translated")
    return model


def torch7_translated(weights: str | Path, device: str = "cpu") -> nn.Module:
    """Any translated Torch7 network: t7convert --generic's .safetensors (rebuilt from the file's
    data through the layer registry; a network that needed a plugin: load the plugin first), a
    Torch7 file, irv2-train's fine-tuned model or t7convert's conversion of it."""
    from converter import load_model

    return load_model(weights, device=device)
