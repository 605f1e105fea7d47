"""Preprocessing presets: the Scale/CenterCrop sizes a model was trained and published with.

Both are fb.resnet.torch's val pipeline, `Scale(s) -> ColorNormalize -> CenterCrop(c)` with
Torch's arithmetic (evaluate.data.transforms); only the sizes differ:

- ``irv2``: lim0606's Inception-ResNet-v2 (`datasets/imagenet.lua`, 328 -> 299), the preset of
  every model the IRv2 mapping converts;
- ``fbresnet``: facebook's `pretrained/classify.lua` and `extract-features.lua` (256 -> 224),
  the preset of a generically translated model (the fb.resnet.torch ResNets).

Scale leaves an image whose shorter side already has the size as it is, and otherwise asks
image.scale for `long/short*size`, truncated (both forks' transforms.lua).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from converter.errors import UserError


@dataclass(frozen=True)
class Preset:
    name: str
    scale_size: int
    crop_size: int
    origin: str

    def describe(self, mode: str, crops: int = 1) -> str:
        crop = f"CenterCrop {self.crop_size}" if crops == 1 else f"TenCrop {self.crop_size}"
        return f"{self.name} (Scale {self.scale_size}, ColorNormalize, {crop}; {mode})"

    def record(self, mode: str, crops: int = 1) -> dict[str, Any]:
        """What every output file says about the preprocessing of its images."""
        return {
            "preset": self.name,
            "mode": mode,
            "scale_size": self.scale_size,
            "crop_size": self.crop_size,
            "crops": crops,
        }


PRESETS = {
    "irv2": Preset("irv2", 328, 299, "lim0606/fb.resnet.torch inception-resnet-v2 val"),
    "fbresnet": Preset("fbresnet", 256, 224, "facebook/fb.resnet.torch pretrained/classify.lua"),
}


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"--preset {name!r}: expected one of {', '.join(PRESETS)}") from None


def for_crop(crop_size: int) -> Preset | None:
    """The preset whose crops a model with a fixed input size takes, if one does."""
    return next((p for p in PRESETS.values() if p.crop_size == crop_size), None)
