"""Walking a Torch7 `nn` module tree as the reader returns it.

Paths are Lua's 1-based child indices joined by dots ("1.4.2.1" is
`model:get(1):get(4):get(2):get(1)`), the same names `model:parameters()` listings use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from converter.errors import T7FormatError
from converter.torch7 import nngraph
from converter.torch7.objects import T7Object, T7Tensor

# Containers whose first child is the real network (what fb.resnet.torch unwraps before saving).
WRAPPERS = ("nn.DataParallelTable", "nn.DataParallel", "nn.GPU")

# Fields that hold learned parameters or statistics, per module; everything else is bookkeeping.
STATE_FIELDS = ("weight", "bias", "running_mean", "running_var", "running_std")


def children(module: T7Object) -> list[Any]:
    mods = module.get("modules")
    if mods is None and module.class_name == "nn.gModule":  # nngraph before gModule kept them
        return nngraph.node_modules(module)
    if isinstance(mods, dict):  # a table with holes; Lua's ipairs order is by index
        return [mods[k] for k in sorted(k for k in mods if isinstance(k, int))]
    return list(mods) if isinstance(mods, list) else []


def _is_model(value: Any) -> bool:
    return (
        isinstance(value, T7Object)
        and isinstance(value.fields, dict)
        and not value.class_name.endswith("Criterion")
        and not value.class_name.startswith("torch.")
    )


def _model_in_table(table: dict, source: str) -> Any:
    """The one model a training script's checkpoint table holds: torch-rnn's `model`,
    char-rnn's `protos.rnn` (beside its criterion), or any single module-valued entry."""
    found = [(str(k), v) for k, v in table.items() if _is_model(v)]
    if not found:  # one level down: char-rnn's protos = {rnn = ..., criterion = ...}
        found = [
            (f"{k}.{k2}", v2)
            for k, v in table.items()
            if isinstance(v, dict)
            for k2, v2 in v.items()
            if _is_model(v2)
        ]
    if len(found) > 1:
        keys = ", ".join(k for k, _ in found)
        raise T7FormatError(
            f"{source}: is a table holding {len(found)} models ({keys}); load it with "
            "converter.torch7.reader.load_t7 and translate the one you want"
        )
    return found[0][1] if found else table


def unwrap(obj: Any, source: str = "checkpoint") -> T7Object:
    """The network inside a file: strips DataParallelTable-style wrappers and finds the model
    in a checkpoint table (torch-rnn's `model`, char-rnn's `protos`)."""
    if isinstance(obj, dict) and "modelFile" not in obj and "dfdx" not in obj:
        obj = _model_in_table(obj, source)
    while isinstance(obj, T7Object) and obj.class_name in WRAPPERS:
        kids = children(obj)
        if not kids:
            raise T7FormatError(f"{source}: {obj.class_name} holds no module")
        obj = kids[0]
    if isinstance(obj, dict) and "modelFile" in obj:
        raise T7FormatError(
            f"{source}: is a fb.resnet.torch latest.t7 (epoch {obj.get('epoch')}, model file "
            f"{obj['modelFile']}); give the checkpoint directory, with that file in it"
        )
    if isinstance(obj, dict) and "dfdx" in obj:
        raise T7FormatError(
            f"{source}: is an optim.sgd state (optimState_N.t7), not a model; give model_N.t7"
        )
    if not isinstance(obj, T7Object) or not isinstance(obj.fields, dict):
        what = type(obj).__name__ if not isinstance(obj, T7Object) else obj.class_name
        keys = f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else ""
        raise T7FormatError(
            f"{source}: holds a {what}{keys}, not an nn module; give a model file "
            "(model_N.t7 / model_best.t7) or a checkpoint directory"
        )
    return obj


def walk(module: T7Object, path: str = "") -> Iterator[tuple[str, T7Object]]:
    """(path, module) depth-first in `model:modules()` / `model:parameters()` order."""
    yield path, module
    for i, child in enumerate(children(module), start=1):
        if isinstance(child, T7Object):
            yield from walk(child, f"{path}.{i}" if path else str(i))


def get(root: T7Object, path: str) -> T7Object:
    module = root
    for part in path.split(".") if path else []:
        kids = children(module)
        idx = int(part)
        if not 1 <= idx <= len(kids):
            raise KeyError(path)
        module = kids[idx - 1]
    return module


def state_tensors(module: T7Object) -> dict[str, T7Tensor]:
    """The module's non-empty parameter/statistics tensors by field name."""
    return {
        name: t
        for name in STATE_FIELDS
        if isinstance(t := module.get(name), T7Tensor) and t.numel > 0
    }


def short_class(class_name: str) -> str:
    """'cudnn.SpatialConvolution' -> 'SpatialConvolution': the backend does not change the math."""
    return class_name.rsplit(".", 1)[-1]
