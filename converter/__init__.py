"""Torch7 -> PyTorch: fb.resnet.torch Inception-ResNet-v2 checkpoints (mapped), any other nn
tree, nngraph graphs included (translated generically).

    from converter import load_converted, load_model, load_translated, translate
    model = load_converted("irv2.safetensors")   # by t7convert or irv2-train (.safetensors/.pt/.h5)
    model = load_model("model_90.t7")            # any model file, checkpoint or run directory
    net = translate("model.t7")                  # any supported Torch7 nn tree as an nn.Module
    net = load_translated("resnet.safetensors")  # written by t7convert --generic
    model, meta = load_model_meta("irv2.pt")     # and its metadata (a fine-tuned one's classes)

    from converter import register_translation
    @register_translation("nn.SpatialCircularPadding")   # a class of your own
    def circular(t7, ctx): ...

Imports are lazy so that `t7convert --help` does not pay for `import torch`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "load_converted",
    "load_converted_meta",
    "load_model",
    "load_model_meta",
    "load_translated",
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


def load_converted(path: str | Path, device: str = "cpu") -> nn.Module:
    """The model stored by `t7convert` or irv2-train (.safetensors, .pt or .h5), in eval mode."""
    return load_converted_meta(path, device)[0]


def load_converted_meta(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """`load_converted`'s model and the metadata stored beside it: architecture, source file,
    and for a model irv2-train fine-tuned, `classes` (its class-folder names)."""
    from converter.architecture import rebuild
    from converter.outputs import mapped as output

    tensors, meta = output.load(path)
    return rebuild(meta, tensors, str(path)).to(device), meta


def load_model(path: str | Path, device: str = "cpu") -> nn.Module:
    """Any form a user has (converter.load): a Torch7 .t7 model or checkpoint directory, what
    t7convert writes (.safetensors/.pt/.h5, .pt2, .onnx), irv2-train's files and run
    directories; in eval mode."""
    from converter.load import load

    return load(path).network.to(device)


def load_model_meta(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """`load_model`'s model and its file's metadata (a fine-tuned one's classes, its epoch; a
    Torch7 file's sha256, which load_model skips)."""
    from converter.load import load

    loaded = load(path, hashed=True)
    return loaded.network.to(device), loaded.meta


def load_translated(path: str | Path, device: str = "cpu") -> nn.Module:
    """The module `t7convert --generic` wrote to a .safetensors file, rebuilt from its data
    (no pickle, no code from the file), in eval mode, on `device`."""
    from converter.outputs.translated import load_translated as _load

    return _load(path, device)


def convert_checkpoint(path: str | Path):  # noqa: ANN201 - re-export, typed at the source
    from converter.irv2.convert import convert_checkpoint as _convert

    return _convert(path)


def translate(path_or_module, dtype=None, module: str | None = None) -> nn.Module:  # noqa: ANN001
    """Generic Torch7 nn tree -> torch.nn.Module (see converter.generic.translator); `module`:
    the path of the one to take from a file holding several ("G", "protos.rnn", "2")."""
    from converter.generic.translator import translate as _translate

    return _translate(path_or_module, dtype, module=module)
