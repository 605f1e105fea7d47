"""A model file of any form a user has, loaded as the pretrained model it was: the network (its
logits), the penultimate activation (its features), its class names and its preprocessing.

Every form converter.load takes: Torch7 files and checkpoint directories (mapped IRv2 or the
generic translation), what t7convert writes, irv2-train's checkpoints and run directories.

Features are what the model's classifier reads, as extract-features.lua takes them: for the
mapped IRv2 the global average pool (before dropout and fc), for a generic model the input of
its last nn.Linear.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from converter.architecture import IRV2, TRANSLATED
from converter.errors import UserError
from converter.irv2.model import InceptionResNetV2
from converter.load import RUNNING_TOOLS
from evaluate.pretrained import classes, presets
from evaluate.pretrained.classes import ClassNames
from evaluate.pretrained.presets import Preset


@dataclass
class PretrainedModel:
    """What irv2-classify and irv2-features need of a model, whatever file it came from."""

    network: nn.Module  # images (N x 3 x H x W) -> logits (N x classes), in eval mode
    kind: str  # "mapped" (IRv2 table), "generic" (translated tree), "program" (.pt2), "onnx"
    preset: Preset  # the preprocessing it was trained with
    description: str  # one line: what was loaded, for the user and for every output
    recorded_classes: list[str] | None = None  # a fine-tuned model's class-folder names
    input_size: int | None = None  # the one crop size an exported program takes
    # check_preset's answers by crop size: its probe is a forward of the whole network, which
    # the command and classify() both ask for
    _checked: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def arch(self) -> str:
        """What the outputs record as the architecture (a program's or graph's is not known)."""
        return {"mapped": IRV2, "generic": TRANSLATED}.get(self.kind, self.kind)

    def class_names(self, num_outputs: int) -> ClassNames:
        return classes.for_model(num_outputs, self.recorded_classes)

    def features(self) -> tuple[nn.Module, str]:
        """A module giving the penultimate activation (N x D), and a line saying which it is."""
        if self.kind == "onnx":
            raise UserError(
                f"{self.description}: an ONNX graph is only run ({RUNNING_TOOLS} take it), its "
                "penultimate activation is not reachable; give the model it was exported from"
            )
        if isinstance(self.network, InceptionResNetV2):
            return PooledFeatures(self.network), "global average pool, before dropout and fc"
        if isinstance(self.network, torch.fx.GraphModule):
            return _exported_features(self.network), "input of the program's last aten.linear"
        module = LinearInput(self.network)
        return module, f"input of the last nn.Linear (Torch7 path {module.path})"

    def check_preset(self, preset: Preset) -> int:
        """Refuse crops an exported program cannot take, and a model that does not classify
        images of the preset's size (evaluate.pretrained.probe), before any image is read;
        returns the number of class scores per image."""
        from evaluate.pretrained.probe import check_image_classifier

        if self.input_size is not None and preset.crop_size != self.input_size:
            raise UserError(
                f"{self.description}: it takes {self.input_size}x{self.input_size} inputs but "
                f"preset {preset.name} crops {preset.crop_size}x{preset.crop_size}; "
                "choose the preset with that crop size"
            )
        if preset.crop_size not in self._checked:
            self._checked[preset.crop_size] = check_image_classifier(
                self.network, preset.crop_size, self.description
            )
        return self._checked[preset.crop_size]


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
    """The model in `path` (any form converter.load takes) on the CPU in eval mode, with its
    preset and class names."""
    from converter.load import load

    loaded = load(path)
    if loaded.preset is not None:
        preset = presets.get(loaded.preset)
    else:  # a program or graph of one input size: the preset whose crops it takes
        preset = presets.for_crop(loaded.input_size) or presets.PRESETS["fbresnet"]
    return PretrainedModel(
        loaded.network,
        loaded.kind,
        preset,
        loaded.description,
        loaded.meta.get("classes"),
        loaded.input_size,
    )
