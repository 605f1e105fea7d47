"""Generic path: a Torch7 `nn` module tree becomes an equivalent `torch.nn.Module`, module by module

Unlike the IRv2 mapping table (converter.irv2), nothing here knows the architecture: each Torch7
module becomes one PyTorch module, built by the translation its class registered
(converter.generic.registry; the built-in ones are the layer families in converter.generic.layers,
a user's own come from plugins, converter.generic.plugins). Containers keep their children under
Lua's 1-based indices, so state_dict keys are the Torch7 paths (`"1.2.1.weight"` is
`model:get(1):get(2):get(1).weight`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import torch
from torch import nn

from converter.errors import UserError
from converter.generic import layers  # noqa: F401 - registers the built-in translations
from converter.generic.forward_errors import name_forward_errors
from converter.generic.registry import TreeTranslation, guarded, lookup
from converter.torch7 import checkpoint
from converter.torch7.modules import (
    FORWARD_FUNCTIONS,
    child_path,
    children,
    descend,
    is_module,
    module_fields,
    show,
    stored_functions,
    unwrap,
)
from converter.torch7.objects import T7Object, T7Storage, T7Tensor, reading_files
from converter.torch7.reader import load_t7

# a path (model file, checkpoint directory, latest.t7) or what load_t7 returned
Source = Union[str, Path, T7Object, Any]

# Classes of 2011-era Torch (torch5 and the first nn/nnx) that Torch7's nn never defined: no
# Torch7 can run a file holding one, so there is no behaviour to reproduce.
PREDATES_NN = frozenset({"nn.SpatialConvolutionSparse"})

# {name}: a class it names, exactly as the file writes it (that is what the registry looks up)
HOW_TO_REGISTER = (
    "translate a class of your own with @converter.register_translation('{name}') in a "
    "Python file and pass it as t7convert --plugin FILE.py (README: Custom Torch7 classes)"
)


class UnsupportedModuleError(UserError):
    """The tree holds modules this translator has no equivalent for; all are listed at once:
    the message names each with its path, and one detail line per class lists its fields
    (what a translation for it would read)."""

    def __init__(self, source: str, found: list[tuple[str, str, Any]]):
        self.unsupported = [(path, reason) for path, reason, _ in found]
        listed = ", ".join(f"{reason} at {show(path)}" for path, reason, _ in found)
        by_class: dict[str, list[tuple[str, Any]]] = {}
        for path, reason, m in found:
            by_class.setdefault(reason, []).append((path, m))
        super().__init__(
            f"{source}: {len(found)} Torch7 module(s) have no generic translation: {listed}; "
            + HOW_TO_REGISTER.format(name=_class_to_register(found)),
            details=[_class_line(reason, where) for reason, where in by_class.items()],
        )


def _class_to_register(found: list[tuple[str, str, Any]]) -> str:
    """The first listed module's class name as the file writes it (prefix or none: what the
    registry looks up); '<class>' where no module was found, only other values."""
    return next((m.class_name for _, _, m in found if isinstance(m, T7Object)), "<class>")


def _class_line(reason: str, where: list[tuple[str, Any]]) -> str:
    paths = ", ".join(show(p) for p, _ in where)
    m = where[0][1]
    if not isinstance(m, T7Object) or not isinstance(m.fields, dict):
        return f"{reason} at {paths}"
    era = (
        " (a 2011-era class that predates Torch7's nn: Torch7 itself cannot run this file)"
        if m.class_name in PREDATES_NN
        else ""
    )
    fields = ", ".join(f"{k}{_field_kind(v)}" for k, v in sorted(m.fields.items(), key=_key))
    return f"{reason}{era} at {paths}; fields: {fields or 'none'}"


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def _field_kind(value: Any) -> str:
    if isinstance(value, T7Tensor):
        return f" ({value.class_name.removeprefix('torch.')} {'x'.join(map(str, value.shape))})"
    if isinstance(value, T7Object):
        return f" ({value.class_name})"
    if isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return f"={text if len(text) <= 20 else text[:17] + '...'}"
    if isinstance(value, T7Storage):
        return f" ({value.class_name.removeprefix('torch.')} of {value.size})"
    return f" (table of {len(value)})" if isinstance(value, (list, dict)) else ""


class IgnoredFunctionWarning(UserWarning):
    """A module stores a Lua function that Torch7 does not call on the forward path (a hook,
    a misspelt `updateGradInpout`): the translation, and the .safetensors, leave it out."""


def _unsupported_reason(m: Any, path: str) -> str | None:
    if not isinstance(m, T7Object):
        return f"a {type(m).__name__}, not a module"
    overrides = [name for name in stored_functions(m) if name in FORWARD_FUNCTIONS]
    if overrides:
        return (
            f"{m.class_name} (its own Lua function '{overrides[0]}' replaces the class's "
            "computation, and a function is code this translator does not run)"
        )
    translation = lookup(m.class_name)
    if translation is None:
        return m.class_name
    if translation.check is None:
        return None
    where = f"{m.class_name} at {show(path)}"
    return guarded(where, lambda: translation.check(m), translation.check)


def _unsupported(
    root: Any, path: str, above: tuple[int, ...] = ()
) -> Iterator[tuple[str, str, Any]]:
    reason = _unsupported_reason(root, path)
    if reason is not None:
        yield path, reason, root
        if isinstance(root, T7Object) and lookup(root.class_name) is None:
            below = descend(root, path, above)
            for inner_path, inner in _held_modules(root, path):
                if id(inner) not in below:  # a field pointing back up (a parent) is no child
                    yield from _unsupported(inner, inner_path, below)
        return
    below = descend(root, path, above)
    for i, child in enumerate(children(root, path), start=1):
        yield from _unsupported(child, child_path(path, i), below)
    for name in lookup(root.class_name).inner:
        yield from _unsupported(root.get(name), child_path(path, name), below)


def _held_modules(m: T7Object, path: str) -> list[tuple[str, T7Object]]:
    """The modules a class without a translation holds, as far as its fields show: its
    `modules` entries, then the fields holding a module (rnn's Repeater keeps its `module` in
    both: once). So a report lists what is untranslatable below it too, with paths."""
    held: dict[int, tuple[str, T7Object]] = {}
    mods = m.fields.get("modules") if isinstance(m.fields, dict) else None
    for i, child in enumerate(mods if isinstance(mods, list) else [], start=1):
        if is_module(child):
            held.setdefault(id(child), (child_path(path, i), child))
    for name, value in module_fields(m):
        held.setdefault(id(value), (child_path(path, name), value))
    return list(held.values())


def find_unsupported(root: T7Object, path: str = "") -> list[tuple[str, str]]:
    """(path, class name) of every module that cannot be translated; none below those. Also
    where a damaged tree is refused (a cycle, a `modules` that is not a list of modules),
    before anything is built."""
    return [(p, reason) for p, reason, _ in _unsupported(root, path)]


def load_tree(
    source: Source, name: str | None = None, module: str | None = None
) -> tuple[str, T7Object]:
    """(what messages call it, the network's root module) of a model file, checkpoint
    directory, latest.t7, or what `load_t7` returned: a tree or a checkpoint table (called
    `name`, default "module tree"). `module` is the path of the module to take from a file
    that holds several (t7convert --module: "protos.rnn", "G", "2")."""
    if not isinstance(source, (str, os.PathLike)):
        name = name or "module tree"
        return name, unwrap(source, name, module)
    path = checkpoint.resolve(source).model_path
    return str(path), unwrap(load_t7(path), str(path), module)


def translate(
    source: Source,
    dtype: torch.dtype | None = None,
    name: str | None = None,
    module: str | None = None,
) -> nn.Module:
    """The Torch7 network in `source` (model file, checkpoint directory, latest.t7, a training
    script's checkpoint table holding one model, or an already loaded module tree) as an
    ordinary nn.Module in eval mode (checkpoints are saved training).

    Parameters keep the file's precision (a DoubleTensor model stays float64) unless `dtype`
    is given. `name` is what messages call an already loaded tree (its file, say). `module`
    picks one module by its path where the file holds several (a GAN's "G", a Lua list's
    "2"); the error for such a file lists them. Raises UnsupportedModuleError listing every
    untranslatable module by class and path.
    """
    if dtype is not None and not dtype.is_floating_point:
        raise UserError(f"dtype {dtype}: give a floating-point type such as torch.float32")
    name, root = load_tree(source, name, module)
    unsupported = list(_unsupported(root, ""))
    if unsupported:
        raise UnsupportedModuleError(name, unsupported)
    translation = TreeTranslation(name)
    # structure only, on the meta device; the file's tensors, read through one open file, are
    # assigned below
    with torch.device("meta"), reading_files():
        module = translation.module(root, "")
    _warn_ignored_functions(translation)
    translation.assign(module)
    if dtype is not None:
        module = module.to(dtype)
    classes = {path: m.class_name for m, _, path in translation.built()}
    return name_forward_errors(module, classes).eval()


def _warn_ignored_functions(translation: TreeTranslation) -> None:
    ignored = [
        f"'{name}' on {m.class_name} at {show(path)}"
        for m, _, path in translation.built()
        for name in stored_functions(m)
    ]
    if ignored:
        warnings.warn(
            f"{translation.source}: ignored the Lua function(s) {', '.join(ignored)}: Torch7 "
            "does not call them on the forward path",
            IgnoredFunctionWarning,
            stacklevel=3,
        )
