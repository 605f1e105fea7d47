"""The generic path's safe artifact: `t7convert X.t7 out.safetensors --generic`.

The Torch7 tree's tensors are the safetensors tensors, the tree itself is the JSON spec in the
header (converter.outputs.spec), and `load_translated` rebuilds the tree from that data and
translates it again through the same layer registry. No pickle, no code from the file: the
worst an altered file can do is fail with one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from converter.errors import UserError
from converter.outputs.atomic import atomic_path
from converter.outputs.spec import to_spec
from converter.outputs.spec_load import SpecError, from_spec
from converter.torch7.objects import T7Object

if TYPE_CHECKING:
    from torch import nn

FORMAT_TAG = "irv2-torch7.translated"  # the header's "format": what kind of .safetensors this is
BUILT_IN = "converter."  # translations defined in this project, not a plugin


def _plugins(classes: set[str]) -> dict[str, str]:
    """Class -> file of the plugin whose translation it used (built-in ones are not listed)."""
    from converter.generic.registry import lookup

    found = {}
    for name in sorted(classes):
        translation = lookup(name)
        owner = getattr(translation.build, "__module__", "") if translation else ""
        if translation and not owner.startswith(BUILT_IN):
            module_file = getattr(sys.modules.get(owner), "__file__", None)
            found[name] = Path(module_file).name if module_file else owner
    return found


def save_translated(
    root: T7Object, path: Path, force: bool, source_file: str, dtype: str | None = None
) -> int:
    """Write the tree `root` (one `translate` accepts) as a generic .safetensors artifact,
    atomically; returns the number of tensors written. `dtype` ("float32"/"float64", as
    t7convert --dtype) is what load_translated casts the parameters to; None keeps the file's."""
    from safetensors.numpy import save_file

    missing = _unregistered(root, {})
    if missing:
        raise UserError(
            f"{source_file}: {missing}; register their translations (a plugin) before writing"
        )
    spec, arrays = to_spec(root, {}, source_file)
    spec["plugins"] = _plugins({e["class"] for e in spec["objects"] if "class" in e})
    header = {"format": FORMAT_TAG, "spec": json.dumps(spec, allow_nan=False)}
    if dtype is not None:
        header["dtype"] = dtype
    with atomic_path(path, force) as tmp:
        save_file(arrays, str(tmp), metadata=header)
    return len(arrays)


def read_artifact(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """(header metadata, tensors) of a .safetensors file, any failure one line."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, TypeError, ValueError) as e:
        raise UserError(f"{path}: not a readable .safetensors file ({e})") from None
    return meta, arrays


def is_translated(path: str | Path) -> bool:
    """Whether a .safetensors file is a generic artifact (its header says so), read from the
    header alone: mapped IRv2 weights are the other kind t7convert writes."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return (f.metadata() or {}).get("format") == FORMAT_TAG
    except (SafetensorError, OSError, TypeError, ValueError):
        return False


def _read(path: Path) -> tuple[T7Object, dict[str, str]]:
    meta, arrays = read_artifact(path)
    if meta.get("format") != FORMAT_TAG:
        raise UserError(
            f"{path}: not a generic translation from t7convert --generic"
            + (
                "; it holds mapped IRv2 weights: load it with converter.load_converted"
                if "meta_json" in meta
                else ""
            )
        )
    try:
        spec = json.loads(meta.get("spec", ""))
    except (ValueError, RecursionError) as e:
        raise SpecError(f"{path}: the spec in the header is not valid JSON ({e})") from None
    root = from_spec(spec, arrays, str(path))
    missing = _unregistered(root, spec["plugins"])
    if missing:  # the plugin is named, never imported: loading it is the user's decision
        raise UserError(
            f"{path}: {missing}; load the plugin that registers them "
            "(converter.generic.register_translation) before loading"
        )
    return root, meta


def _unregistered(root: T7Object, plugins: dict) -> str:
    """'' when every class has a translation now, else which do not (and with which plugin
    the file was written, when it says)."""
    from converter.generic.translator import find_unsupported

    missing = find_unsupported(root)

    def saved_with(cls: str) -> str:
        plugin = plugins.get(cls)
        return f" (written with the plugin {plugin})" if isinstance(plugin, str) else ""

    listed = ", ".join(f"{cls} at {where or '(root)'}{saved_with(cls)}" for where, cls in missing)
    return f"{len(missing)} module(s) have no translation registered: {listed}" if missing else ""


def load_translated(path: str | Path, device: str = "cpu") -> nn.Module:
    """The module `t7convert --generic` stored in a .safetensors file, in eval mode, rebuilt
    from the file's data through the layer registry (plugins it used must be loaded first)."""
    return translate_artifact(path)[0].to(device)


def translate_artifact(path: str | Path) -> tuple[nn.Module, T7Object]:
    """(the translated network, the Torch7 tree it was translated from) of a generic
    artifact: the tree read and checked once, the parameters cast to the stored type."""
    import torch

    from converter.generic.translator import translate

    root, dtype = read_artifact_tree(path)
    cast = getattr(torch, dtype) if dtype else None
    return translate(root, cast, name=str(path)), root


def read_artifact_tree(path: str | Path) -> tuple[T7Object, str | None]:
    """(the validated Torch7 tree, the parameter type to cast to or None) of a generic artifact."""
    root, meta = _read(Path(path))
    dtype = meta.get("dtype")
    if dtype not in (None, "float32", "float64"):
        raise UserError(f"{path}: unknown dtype {dtype!r} in the header (float32 or float64)")
    return root, dtype
