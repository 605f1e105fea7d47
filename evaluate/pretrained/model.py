"""A model file of any form a user has, loaded as the pretrained model it was: the network (its
logits), the penultimate activation (its features), its class names and its preprocessing.

- t7convert's `.pt`/`.h5` and irv2-train's checkpoints: the mapped Inception-ResNet-v2;
- a Torch7 `.t7` file or checkpoint directory: the mapped IRv2 where the mapping table fits,
  otherwise the generic translation of its nn tree (fb.resnet.torch's ResNets);
- what `t7convert --generic` writes: a `.safetensors` artifact (rebuilt from data, no pickle)
  or a `.pt2` program (loading it unpickles: a warning says so).

Features are what the model's classifier reads, as extract-features.lua takes them: for the
mapped IRv2 the global average pool (before dropout and fc), for a generic model the input of
its last nn.Linear.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from converter import load_translated
from converter.errors import MappingError, UserError
from converter.irv2.model import InceptionResNetV2
from evaluate.pretrained import classes, presets
from evaluate.pretrained.classes import ClassNames
from evaluate.pretrained.presets import Preset

_CONVERTED = (".safetensors", ".pt", ".pth", ".h5", ".hdf5")


@dataclass
class PretrainedModel:
    """What irv2-classify and irv2-features need of a model, whatever file it came from."""

    network: nn.Module  # images (N x 3 x H x W) -> logits (N x classes), in eval mode
    kind: str  # "mapped" (the IRv2 mapping table) or "generic" (translated nn tree, .pt2)
    preset: Preset  # the preprocessing it was trained with
    description: str  # one line: what was loaded, for the user and for every output
    recorded_classes: list[str] | None = None  # a fine-tuned model's class-folder names
    input_size: int | None = None  # the one crop size an exported program takes

    def class_names(self, num_outputs: int) -> ClassNames:
        return classes.for_model(num_outputs, self.recorded_classes)

    def features(self) -> tuple[nn.Module, str]:
        """A module giving the penultimate activation (N x D), and a line saying which it is."""
        if isinstance(self.network, InceptionResNetV2):
            return PooledFeatures(self.network), "global average pool, before dropout and fc"
        if isinstance(self.network, torch.fx.GraphModule):
            return _exported_features(self.network), "input of the program's last aten.linear"
        module = LinearInput(self.network)
        return module, f"input of the last nn.Linear (Torch7 path {module.path})"

    def check_preset(self, preset: Preset) -> None:
        """Refuse crops an exported program cannot take, before any image is read."""
        if self.input_size is not None and preset.crop_size != self.input_size:
            raise UserError(
                f"{self.description}: it takes {self.input_size}x{self.input_size} inputs but "
                f"preset {preset.name} crops {preset.crop_size}x{preset.crop_size}; "
                "choose the preset with that crop size"
            )


class PooledFeatures(nn.Module):
    """The mapped IRv2's pooled 2048 (before dropout and fc): what its `fc` reads in eval mode."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.global_pool(self.network.forward_features(x)).flatten(1)


class LinearInput(nn.Module):
    """The input of a translated network's last nn.Linear.

    extract-features.lua removes the model's last module (asserting it is an nn.Linear) and runs
    the rest; for such a model this is the same activation, and it also finds a last Linear
    that sits deeper in the tree.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        linears = [(name, m) for name, m in network.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise UserError(
                "the model has no nn.Linear, so it has no penultimate activation to extract "
                "(extract-features.lua needs one too)"
            )
        self.network = network
        self.path, self._linear = linears[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def capture(module: nn.Module, args: tuple[Any, ...]) -> None:
            captured.append(args[0])

        # hooked for this call only: the same network also gives the logits elsewhere
        handle = self._linear.register_forward_pre_hook(capture)
        try:
            self.network(x)
        finally:
            handle.remove()
        return captured[-1]


def _exported_features(program: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """A copy of an exported program that returns its last `aten.linear`'s input instead."""
    with warnings.catch_warnings():  # torch's own pytree specs warn about themselves when copied
        warnings.simplefilter("ignore", FutureWarning)
        module = copy.deepcopy(program)
    nodes = list(module.graph.nodes)
    linears = [n for n in nodes if n.target is torch.ops.aten.linear.default]
    if not linears:
        raise UserError("the exported program has no linear layer, so no penultimate activation")
    output = next(n for n in nodes if n.op == "output")
    output.args = ((linears[-1].args[0],),)
    module.graph.eliminate_dead_code()
    module.recompile()
    return module


def load_pretrained(path: str | Path) -> PretrainedModel:
    """The model in `path` on the CPU in eval mode, with its preset and class names."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory (--weights)")
    if path.suffix.lower() == ".pt2":
        return _load_exported(path)
    from converter import load_model_meta
    from converter.outputs.translated import is_translated

    if path.suffix.lower() == ".safetensors" and is_translated(path):
        return _generic_model(load_translated(path), f"{path} (generic translation, .safetensors)")

    if path.suffix.lower() not in _CONVERTED:
        return _load_torch7(path)
    network, meta = load_model_meta(path)
    what = "irv2-train checkpoint" if meta.get("format") else "t7convert's mapped weights"
    return _mapped_model(network, meta, path, what)


def _mapped_model(network: nn.Module, meta: dict, path: Path, what: str) -> PretrainedModel:
    return PretrainedModel(
        network.eval(),
        "mapped",
        presets.PRESETS["irv2"],
        f"{path} (Inception-ResNet-v2, {what})",
        meta.get("classes"),
    )


def _load_torch7(path: Path) -> PretrainedModel:
    """A Torch7 file or checkpoint directory, read once: the mapped IRv2 where the mapping
    table fits the tree, otherwise the generic translation of the same tree."""
    from converter.generic.translator import translate
    from converter.irv2.convert import convert_tree
    from converter.torch7 import checkpoint
    from converter.torch7.reader import load_t7

    source = checkpoint.resolve(path)
    tree = load_t7(source.model_path)
    try:
        conversion = convert_tree(tree, source)
    except MappingError as mapping_error:
        try:
            network = translate(tree, name=str(source.model_path))
        except UserError as e:
            raise UserError(
                f"{e} (nor is it an Inception-ResNet-v2 checkpoint: {mapping_error})"
            ) from None
        return _generic_model(network, f"{path} (generic translation)")
    return _mapped_model(conversion.build_model(), conversion.meta, path, "Torch7, mapped")


def _generic_model(network: nn.Module, description: str) -> PretrainedModel:
    return PretrainedModel(network, "generic", presets.PRESETS["fbresnet"], description)


def _load_exported(path: Path) -> PretrainedModel:
    """A torch.export program: its fixed input size picks the preset it was exported for.
    torch.export.load unpickles, so a file from elsewhere could run code: said on stderr."""
    from converter.outputs.export import UNPICKLES, UnpicklingFormatWarning

    warnings.warn(f"{path}: {UNPICKLES}", UnpicklingFormatWarning, stacklevel=2)
    try:
        program = torch.export.load(path).module()
    except Exception as e:  # noqa: BLE001 - any failure here means "not a loadable program"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise UserError(f"{path}: not a torch.export program ({first})") from None
    _fill_meta_buffers(program)
    inputs = [n.meta.get("val") for n in program.graph.nodes if n.op == "placeholder"]
    shape = tuple(inputs[0].shape) if len(inputs) == 1 and inputs[0] is not None else ()
    if len(shape) != 4 or not all(isinstance(s, int) for s in shape[2:]) or shape[2] != shape[3]:
        raise UserError(
            f"{path}: the program takes {shape or 'several inputs'}, not one batch of square "
            "images (N x 3 x S x S)"
        )
    size = int(shape[3])
    preset = presets.for_crop(size) or presets.PRESETS["fbresnet"]
    return PretrainedModel(
        program, "generic", preset, f"{path} (torch.export program, {size}x{size} inputs)",
        input_size=size,
    )  # fmt: skip


def _fill_meta_buffers(program: nn.Module) -> None:
    """Zeros for buffers saved without data: t7convert --generic wrote BatchNorm's
    `num_batches_tracked` as meta tensors until converter.generic fixed it (never read in eval mode,
    but they stop the program from moving to a device)."""
    for name, buffer in list(program.named_buffers()):
        if buffer.is_meta:
            owner, _, leaf = name.rpartition(".")
            module = program.get_submodule(owner) if owner else program
            module._buffers[leaf] = torch.zeros(buffer.shape, dtype=buffer.dtype)
