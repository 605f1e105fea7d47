"""Torch7 -> PyTorch conversion of fb.resnet.torch Inception-ResNet-v2 checkpoints.

    from converter import load_converted, load_model
    model = load_converted("irv2.pt")        # written by t7convert
    model = load_model("model_90.t7")        # .pt, .h5, a .t7 file or a checkpoint directory
    model, meta = load_model_meta("irv2.pt")  # and its metadata (a fine-tuned one's classes)

Imports are lazy so that `t7convert --help` does not pay for `import torch`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from converter.irv2.model import InceptionResNetV2

__all__ = [
    "load_converted",
    "load_converted_meta",
    "load_model",
    "load_model_meta",
    "translate",
    "convert_checkpoint",
]


def load_converted(path: str | Path, device: str = "cpu") -> InceptionResNetV2:
    """The model stored by `t7convert` (.pt or .h5), in eval mode, on `device`."""
    return load_converted_meta(path, device)[0]


def load_converted_meta(
    path: str | Path, device: str = "cpu"
) -> tuple[InceptionResNetV2, dict[str, Any]]:
    """`load_converted`'s model and the metadata stored beside it: architecture, source file,
    and for a model irv2-train fine-tuned, `classes` (its class-folder names)."""
    from converter.errors import UserError
    from converter.irv2.model import InceptionResNetV2, IRV2Config
    from converter.outputs import mapped as output

    state, meta = output.load(path)
    if meta.get("arch") != "inception_resnet_v2":
        raise UserError(f"{path}: holds a {meta.get('arch')!r} model, not inception_resnet_v2")
    model = InceptionResNetV2(IRV2Config(**meta["config"]))
    model.load_state_dict(state)
    return model.to(device).eval(), meta


def load_model(path: str | Path, device: str = "cpu") -> InceptionResNetV2:
    """Any form a user has: converted .pt/.h5, a Torch7 .t7 model, or a checkpoint directory."""
    return load_model_meta(path, device)[0]


def load_model_meta(
    path: str | Path, device: str = "cpu"
) -> tuple[InceptionResNetV2, dict[str, Any]]:
    """`load_model`'s model and its metadata (`load_converted_meta`'s, or the conversion's)."""
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
        return load_converted_meta(p, device)
    conversion = convert_checkpoint(p)
    return conversion.build_model().to(device), conversion.meta


def convert_checkpoint(path: str | Path):  # noqa: ANN201 - re-export, typed at the source
    from converter.irv2.convert import convert_checkpoint as _convert

    return _convert(path)


def translate(path_or_module) -> nn.Module:  # noqa: ANN001
    """Generic Torch7 nn tree -> torch.nn.Module (see converter.generic.translator)."""
    from converter.generic.translator import translate as _translate

    return _translate(path_or_module)
