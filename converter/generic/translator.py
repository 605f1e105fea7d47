"""Generic path: a Torch7 `nn` module tree becomes an equivalent `torch.nn.Module`, module by module

Unlike the IRv2 mapping table (converter.irv2), nothing here knows the architecture: each Torch7
module becomes one PyTorch module, built by the translation its class registered
(converter.generic.registry; the built-in ones are the layer families in converter.generic.layers).
Containers keep their children under Lua's 1-based indices, so state_dict keys are the Torch7
paths (`"1.2.1.weight"` is `model:get(1):get(2):get(1).weight`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

import torch
from torch import nn

from converter.errors import UserError
from converter.generic import layers  # noqa: F401 - registers the built-in translations
from converter.generic.registry import TreeTranslation, guarded, lookup, supported
from converter.torch7 import checkpoint
from converter.torch7.modules import child_path, children, descend, show, unwrap
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7

# a path (model file, checkpoint directory, latest.t7) or what load_t7 returned
Source = Union[str, Path, T7Object, Any]


class UnsupportedModuleError(UserError):
    """The tree holds modules this translator has no equivalent for; all are listed at once."""

    def __init__(self, source: str, unsupported: list[tuple[str, str]]):
        self.unsupported = unsupported
        listed = ", ".join(f"{cls} at {show(path)}" for path, cls in unsupported)
        super().__init__(
            f"{source}: {len(unsupported)} Torch7 module(s) have no generic translation: {listed}; "
            f"supported are {', '.join(supported())} (nn./cudnn.)"
        )


def _unsupported_reason(m: Any, path: str) -> str | None:
    if not isinstance(m, T7Object):
        return f"a {type(m).__name__}, not a module"
    translation = lookup(m.class_name)
    if translation is None:
        return m.class_name
    if translation.check is None:
        return None
    return guarded(f"{m.class_name} at {show(path)}", lambda: translation.check(m))


def find_unsupported(
    root: T7Object, path: str = "", above: tuple[int, ...] = ()
) -> list[tuple[str, str]]:
    """(path, class name) of every module that cannot be translated; none below those. Also
    where a damaged tree is refused (a cycle, a `modules` that is not a list of modules),
    before anything is built."""
    reason = _unsupported_reason(root, path)
    if reason is not None:
        return [(path, reason)]
    below = descend(root, path, above)
    found = []
    for i, child in enumerate(children(root, path), start=1):
        found += find_unsupported(child, child_path(path, i), below)
    return found


def translate(source: Source) -> nn.Module:
    """The Torch7 network in `source` (model file, checkpoint directory, latest.t7, or what
    `load_t7` returned) as an ordinary nn.Module in eval mode (checkpoints are saved training).

    Raises UnsupportedModuleError listing every untranslatable module by class and path.
    """
    if not isinstance(source, (str, os.PathLike)):
        name, root = "module tree", unwrap(source, "module tree")
    else:
        path = checkpoint.resolve(source).model_path
        name, root = str(path), unwrap(load_t7(path), str(path))
    unsupported = find_unsupported(root)
    if unsupported:
        raise UnsupportedModuleError(name, unsupported)
    translation = TreeTranslation(name)
    with torch.device("meta"):  # structure only; the file's tensors are assigned below
        module = translation.module(root, "")
    module.load_state_dict(translation.state, strict=True, assign=True)
    return module.eval()
