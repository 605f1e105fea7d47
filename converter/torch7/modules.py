"""Walking a Torch7 `nn` module tree as the reader returns it, checking it on the way.

Paths are Lua's 1-based child indices joined by dots ("1.4.2.1" is
`model:get(1):get(4):get(2):get(1)`), the same names `model:parameters()` listings use.

A damaged file can hold anything where a module or its `modules` table should be: a number, a
string, a table, a module containing itself, nesting without end. Every walk goes through
`children` and `descend` here, which refuse such trees with one T7FormatError naming the path,
so no caller meets a cycle, a runaway recursion or an `int` where it expected a module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from converter.errors import T7FormatError
from converter.torch7 import nngraph
from converter.torch7.objects import T7Object, T7Tensor, kind_of

# Containers whose first child is the real network (what fb.resnet.torch unwraps before saving).
WRAPPERS = ("nn.DataParallelTable", "nn.DataParallel", "nn.GPU")

# Fields that hold learned parameters or statistics, per module; everything else is bookkeeping.
STATE_FIELDS = ("weight", "bias", "running_mean", "running_var", "running_std")

# Modules nested deeper than this are a corrupt file (real networks nest a few levels): it
# also keeps every recursive walk far from Python's recursion limit.
MAX_TREE_DEPTH = 100


def show(path: str) -> str:
    return path or "(root)"


def child_path(path: str, key: int | str) -> str:
    """A child's path: its 1-based index in `modules`, or the field name holding it."""
    return f"{path}.{key}" if path else str(key)


def children(module: Any, path: str = "") -> list[Any]:
    """The entries of `module`'s `modules` table in Lua's ipairs order (empty without one).

    `module` must be a module whose fields are a table, and `modules`, where present, a list
    or a table indexed by positive integers; anything else is a T7FormatError. The entries
    themselves are not checked here: a caller decides what a non-module child means.
    """
    if not isinstance(module, T7Object):
        raise T7FormatError(f"{show(path)}: {kind_of(module)} where a module should be")
    if not isinstance(module.fields, dict):
        raise T7FormatError(
            f"{module.class_name} at {show(path)}: its fields are {kind_of(module.fields)}, "
            "not a table"
        )
    mods = module.fields.get("modules")
    if mods is None and module.class_name == "nn.gModule":  # nngraph before gModule kept them
        return nngraph.node_modules(module)
    if mods is None:
        return []
    if isinstance(mods, list):
        return list(mods)
    if isinstance(mods, dict) and all(type(k) is int and k >= 1 for k in mods):
        return [mods[k] for k in sorted(mods)]  # a table with holes; ipairs order is by index
    raise T7FormatError(
        f"{module.class_name} at {show(path)}: its 'modules' is {kind_of(mods)}"
        + (" with keys other than 1..n" if isinstance(mods, dict) else "")
        + ", not a list of modules"
    )


def descend(child: Any, path: str, above: tuple[int, ...]) -> tuple[int, ...]:
    """The ids of the modules above `child`'s children: `above` plus `child`. Refuses a module
    inside itself (a cycle: a walk would never end) and nesting deeper than MAX_TREE_DEPTH."""
    if id(child) in above:
        raise T7FormatError(
            f"{getattr(child, 'class_name', 'module')} at {show(path)} contains itself "
            "(a cycle in the module tree); the file is corrupt"
        )
    if len(above) >= MAX_TREE_DEPTH:
        raise T7FormatError(
            f"{show(path)}: modules nested more than {MAX_TREE_DEPTH} deep; the file is corrupt"
        )
    return (*above, id(child))


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
    above: tuple[int, ...] = ()
    while isinstance(obj, T7Object) and obj.class_name in WRAPPERS:
        above = descend(obj, "", above)
        kids = children(obj)
        if not kids:
            raise T7FormatError(f"{source}: {obj.class_name} holds no module")
        obj = kids[0]
    if isinstance(obj, dict) and "modelFile" in obj:
        raise T7FormatError(
            f"{source}: is a fb.resnet.torch latest.t7 (epoch {obj.get('epoch')!r}, model file "
            f"{obj['modelFile']!r}); give the checkpoint directory, with that file in it"
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


def walk(
    module: T7Object, path: str = "", above: tuple[int, ...] = ()
) -> Iterator[tuple[str, T7Object]]:
    """(path, module) depth-first in `model:modules()` / `model:parameters()` order; children
    that are not modules are passed over (the mapping and the translator report them)."""
    below = descend(module, path, above)
    yield path, module
    for i, child in enumerate(children(module, path), start=1):
        if isinstance(child, T7Object):
            yield from walk(child, child_path(path, i), below)


def get(root: T7Object, path: str) -> Any:
    """What sits at `path` (a module, or whatever a damaged file holds there); KeyError when
    the path leads nowhere."""
    entry: Any = root
    for depth, part in enumerate(path.split(".") if path else []):
        if not isinstance(entry, T7Object):
            raise KeyError(path)
        kids = children(entry, ".".join(path.split(".")[:depth]))
        idx = int(part)
        if not 1 <= idx <= len(kids):
            raise KeyError(path)
        entry = kids[idx - 1]
    return entry


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
