"""What rebuilds a network from its tensors, recorded beside them in every file the tools write.

A state_dict alone names tensors, not the network they fill. irv2-train's checkpoints and what
t7convert makes of them therefore carry an architecture record in their metadata:
- the mapped Inception-ResNet-v2: `arch: inception_resnet_v2` and its `config`;
- any translated network: `arch: torch7_translated`, its Torch7 module tree as the generic
  artifact's spec (data, never code: converter.outputs.spec), the parameter `dtype`, and the
  classifier `head` fine-tuning put in place of the last nn.Linear.
Rebuilding translates the tree again through the layer registry and loads the state_dict into
it. The tree's own tensors that the state_dict already holds (same name, shape and type: the
parameters and statistics) are not stored twice; the few it does not (Torch7 bookkeeping such as
`iSize`) travel beside the state_dict under `TREE_KEY`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from converter.errors import UserError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from converter.torch7.objects import T7Object

IRV2 = "inception_resnet_v2"
TRANSLATED = "torch7_translated"
TREE_KEY = "torch7_tree:"  # prefix of the tree's tensors that the state_dict does not hold
PRESETS = {IRV2: "irv2", TRANSLATED: "fbresnet"}  # the preprocessing each is trained with

# an .onnx file's metadata_props key for the carried metadata (JSON); here, not in
# converter.outputs.onnx_run, so that t7convert can check for it without importing torch
ONNX_META_KEY = "irv2_torch7_meta"


@dataclass
class Architecture:
    """One network's shape: the IRv2 configuration, or a Torch7 tree and its replaced head."""

    arch: str
    config: dict[str, Any] | None = None  # IRV2Config fields
    tree: T7Object | None = None  # a translated network's Torch7 root module
    dtype: str | None = None  # a translated network's parameter type ("float32", "float64")
    head: dict[str, Any] | None = None  # {"path", "in_features", "out_features"}
    name: str = "network"  # what messages call it (its source file)
    _encoded: tuple[dict, dict] | None = field(default=None, repr=False, compare=False)

    @property
    def preset(self) -> str:
        return PRESETS[self.arch]

    def build(self) -> nn.Module:
        """The network with this shape, its tensors those of the tree (or fresh for the IRv2)."""
        import torch

        if self.arch == IRV2:
            from converter.irv2.model import InceptionResNetV2, IRV2Config

            return InceptionResNetV2(IRV2Config(**self.config))
        from converter.generic.translator import translate

        dtype = getattr(torch, self.dtype) if self.dtype else None
        network = translate(self.tree, dtype, name=self.name)
        if self.head is not None:
            replace_linear(network, self.head["path"], self.head["out_features"])
        return network

    def saved(
        self, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """(the JSON-ready record, the tensors to store beside it: the state_dict and the
        tree's tensors it does not hold, as one flat dict), the tree matched against the
        state_dict once."""
        import torch

        if self.arch == IRV2:
            return {"arch": IRV2, "config": self.config}, dict(state_dict)
        spec, arrays = self._spec()
        shared = {k for k, a in arrays.items() if _same(state_dict.get(k), a)}
        record = {
            "arch": TRANSLATED,
            "torch7_tree": json.dumps(spec, allow_nan=False),
            "tree_from_state_dict": sorted(shared),
            "dtype": self.dtype,
            "head": self.head,
        }
        extra = {
            TREE_KEY + k: torch.from_numpy(a.copy()) for k, a in arrays.items() if k not in shared
        }
        return record, {**state_dict, **extra}

    def _spec(self) -> tuple[dict, dict]:
        """The tree as spec and arrays, encoded once (checkpoints are written every epoch)."""
        from converter.outputs.spec import to_spec

        if self._encoded is None:
            self._encoded = to_spec(self.tree, {}, self.name)
        return self._encoded


def _same(tensor: torch.Tensor | None, array: Any) -> bool:
    return (
        tensor is not None
        and tuple(tensor.shape) == array.shape
        and str(tensor.dtype).removeprefix("torch.") == str(array.dtype)
    )


def of_network(
    network: nn.Module, tree: T7Object | None = None, name: str = "network"
) -> Architecture:
    """The record of a network built here: the IRv2 by its config, a translation by its tree."""
    from converter.irv2.model import InceptionResNetV2

    if isinstance(network, InceptionResNetV2):
        return Architecture(IRV2, config=network.cfg.to_dict(), name=name)
    if tree is None:
        raise UserError(f"{name}: a translated network without its Torch7 tree cannot be saved")
    dtype = parameter_dtype(network)
    dtype_name = str(dtype).removeprefix("torch.") if dtype else None
    return Architecture(TRANSLATED, tree=tree, dtype=dtype_name, name=name)


def parameter_dtype(network: nn.Module) -> torch.dtype | None:
    """The type of the network's first floating parameter (None without one): what its inputs
    must be, and what a translation records, since a translated network is one type throughout."""
    return next((p.dtype for p in network.parameters() if p.dtype.is_floating_point), None)


def from_meta(
    meta: dict[str, Any], tensors: dict[str, torch.Tensor], where: str
) -> tuple[Architecture, dict[str, torch.Tensor]]:
    """(the record, the state_dict) of a file's metadata and tensors; a damaged or foreign
    record is one UserError naming `where`."""
    arch = meta.get("arch")
    if arch == IRV2:
        if not isinstance(meta.get("config"), dict):
            raise UserError(f"{where}: an Inception-ResNet-v2 record without its config")
        return Architecture(IRV2, config=meta["config"], name=where), dict(tensors)
    if arch != TRANSLATED:
        raise UserError(
            f"{where}: holds a {arch!r} model; irv2-torch7 writes {IRV2} and {TRANSLATED}"
        )
    from converter.outputs.spec_load import from_spec

    state = {k: v for k, v in tensors.items() if not k.startswith(TREE_KEY)}
    arrays = {k[len(TREE_KEY) :]: v.numpy() for k, v in tensors.items() if k.startswith(TREE_KEY)}
    shared = meta.get("tree_from_state_dict", [])
    missing = [k for k in shared if k not in state]
    if missing or not isinstance(meta.get("torch7_tree"), str):
        raise UserError(
            f"{where}: the translated network's record is incomplete (no {missing[:3]})"
        )
    arrays.update({k: state[k].numpy() for k in shared})
    try:
        spec = json.loads(meta["torch7_tree"])
    except (ValueError, RecursionError) as e:
        raise UserError(
            f"{where}: the Torch7 tree in the metadata is not valid JSON ({e})"
        ) from None
    tree = from_spec(spec, arrays, where)
    head = meta.get("head")
    if head is not None and not (
        isinstance(head, dict) and isinstance(head.get("path"), str)
        and isinstance(head.get("out_features"), int)
    ):  # fmt: skip
        raise UserError(f"{where}: the classifier head record is damaged ({str(head)[:80]})")
    return Architecture(
        TRANSLATED, tree=tree, dtype=meta.get("dtype"), head=head, name=where
    ), state


def rebuild(meta: dict[str, Any], tensors: dict[str, torch.Tensor], where: str) -> nn.Module:
    """The network a file holds, its state_dict loaded, in eval mode. An IRv2 is built without
    random initialisation and holds the file's tensors themselves (converter.irv2.model's
    with_weights): initialising 56 M parameters only to overwrite them cost more than reading."""
    record, state = from_meta(meta, tensors, where)
    try:
        if record.arch == IRV2:
            from converter.irv2.model import IRV2Config, with_weights

            network = with_weights(IRV2Config(**record.config), state)
        else:
            network = record.build()
            network.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0][:200]
        raise UserError(f"{where}: its tensors do not fit its recorded network ({first})") from None
    network.architecture = record  # kept, so what is trained from it can be saved again
    return network.eval()


def last_linear(network: nn.Module) -> tuple[str, nn.Linear]:
    """(path, module) of the network's last nn.Linear: a classifier's head."""
    from torch import nn

    linears = [(name, m) for name, m in network.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UserError("the model has no nn.Linear, so no classifier head to replace")
    return linears[-1]


def replace_linear(network: nn.Module, path: str, out_features: int) -> dict[str, Any]:
    """Put a new nn.Linear with `out_features` outputs where the one at `path` was (its input
    size and type kept, initialised by PyTorch's default); returns the head record."""
    from torch import nn

    old = network.get_submodule(path)
    parent_path, _, leaf = path.rpartition(".")
    parent = network.get_submodule(parent_path) if parent_path else network
    new = nn.Linear(
        old.in_features, out_features, bias=old.bias is not None, dtype=old.weight.dtype
    )
    setattr(parent, leaf, new)
    return {"path": path, "in_features": old.in_features, "out_features": out_features}


def num_classes(network: nn.Module) -> int | None:
    """The IRv2's configured class count, or a translation's last nn.Linear's outputs."""
    inner = getattr(network, "_orig_mod", network)  # torch.compile wraps the module
    if hasattr(inner, "num_classes"):
        return inner.num_classes
    try:
        return last_linear(inner)[1].out_features
    except UserError:
        return None


def square_size(shape: tuple, path: object, what: str) -> int:
    """The S of an N x C x S x S input shape; anything else is refused in one line."""
    if len(shape) != 4 or not all(isinstance(s, int) for s in shape[2:]) or shape[2] != shape[3]:
        raise UserError(
            f"{path}: the {what} takes {shape or 'several inputs'}, not one batch of square "
            "images (N x 3 x S x S)"
        )
    return int(shape[3])
