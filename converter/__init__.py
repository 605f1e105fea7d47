"""Torch7 -> PyTorch: fb.resnet.torch Inception-ResNet-v2 checkpoints (mapped), any other nn
tree, nngraph graphs included (translated generically).

    from converter import load_converted, load_model, translate, register_translation
    model = load_converted("irv2.pt")        # written by t7convert
    model = load_model("model_90.t7")        # .pt, .h5, a .t7 file or a checkpoint directory
    net = translate("model.t7")              # any supported Torch7 nn tree as an nn.Module

    @register_translation("nn.SpatialCircularPadding")   # a class of your own
    def circular(t7, ctx): ...

Imports are lazy so that `t7convert --help` does not pay for `import torch`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from converter.irv2.model import InceptionResNetV2

__all__ = [
    "load_converted",
    "load_model",
    "translate",
    "convert_checkpoint",
    "register_translation",
    "load_plugin",
    "ModuleContext",
]

# name -> module that defines it, imported on first use (PEP 562)
_LAZY = {
    "register_translation": "converter.generic.registry",
    "ModuleContext": "converter.generic.registry",
    "load_plugin": "converter.generic.plugins",
}


def __getattr__(name: str):  # noqa: ANN202 - the attribute's own type
    if name not in _LAZY:
        raise AttributeError(f"module 'converter' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


def load_converted(path: str | Path, device: str = "cpu") -> InceptionResNetV2:
    """The model stored by `t7convert` (.pt or .h5), in eval mode, on `device`."""
    from converter.errors import UserError
    from converter.irv2.model import InceptionResNetV2, IRV2Config
    from converter.outputs import mapped as output

    state, meta = output.load(path)
    if meta.get("arch") != "inception_resnet_v2":
        raise UserError(f"{path}: holds a {meta.get('arch')!r} model, not inception_resnet_v2")
    model = InceptionResNetV2(IRV2Config(**meta["config"]))
    model.load_state_dict(state)
    return model.to(device).eval()


def load_model(path: str | Path, device: str = "cpu") -> InceptionResNetV2:
    """Any form a user has: converted .pt/.h5, a Torch7 .t7 model, or a checkpoint directory."""
    from converter.errors import UserError
    from converter.irv2.convert import convert_checkpoint

    p = Path(path)
    if p.suffix.lower() == ".pt2":
        raise UserError(
            f"{p}: a torch.export program (t7convert --generic), not converted IRv2 weights; "
            "load it with torch.export.load(path).module(), or give a .pt/.h5 from t7convert, "
            "a .t7 file or a checkpoint directory"
        )
    if p.suffix.lower() in (".pt", ".pth", ".h5", ".hdf5") and not p.is_dir():
        return load_converted(p, device)
    return convert_checkpoint(p).build_model().to(device)


def convert_checkpoint(path: str | Path):  # noqa: ANN201 - re-export, typed at the source
    from converter.irv2.convert import convert_checkpoint as _convert

    return _convert(path)


def translate(path_or_module, dtype=None) -> nn.Module:  # noqa: ANN001
    """Generic Torch7 nn tree -> torch.nn.Module (see converter.generic.translator)."""
    from converter.generic.translator import translate as _translate

    return _translate(path_or_module, dtype)
