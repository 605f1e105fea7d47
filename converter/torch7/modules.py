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
from converter.torch7.objects import LuaFunction, T7Object, T7Tensor, kind_of

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


# Fields every nn.Module has (nn.Module.__init) or that containers add; an object with none of
# them (word2vec's Word2Vec, a training script's own class) holds models rather than being one.
MODULE_FIELDS = ("output", "gradInput", "modules", "train")


def is_module(value: Any) -> bool:
    """Whether `value` is an nn module: a Torch object of nn's shape (not a criterion, a tensor,
    or a script's own object that merely keeps modules in its fields)."""
    return _is_model(value) and (
        value.class_name.startswith(("nn.", "cudnn."))
        or any(name in value.fields for name in MODULE_FIELDS)
    )


def module_fields(m: T7Object) -> list[tuple[str, T7Object]]:
    """(name, module) of each field other than `modules` that holds a module, by name: the
    parts a class keeps outside `modules` (torch-rnn's `net`, rnn's Repeater's `module`), which
    --inspect shows and an untranslatable class's report looks into."""
    fields = m.fields if isinstance(m.fields, dict) else {}
    held = [(str(k), v) for k, v in fields.items() if k != "modules" and is_module(v)]
    return sorted(held, key=lambda kv: kv[0])


# Names of the functions Torch7 calls on a module's forward path: one stored on the object
# itself (a Lua function field) replaces the class's own computation.
FORWARD_FUNCTIONS = ("updateOutput", "forward", "__call__")


def stored_functions(m: T7Object) -> list[str]:
    """The names of the Lua functions stored in `m`'s own fields, sorted."""
    fields = m.fields if isinstance(m.fields, dict) else {}
    return sorted(str(k) for k, v in fields.items() if isinstance(v, LuaFunction))


def _entries(obj: Any) -> list[tuple[str, Any]]:
    """(key, value) of a Lua list (1-based), a table (by key) or an object that is not a
    module (by field name), in a stable order."""
    if isinstance(obj, list):
        return [(str(i), v) for i, v in enumerate(obj, start=1)]
    table = obj.fields if isinstance(obj, T7Object) and not is_module(obj) else obj
    if isinstance(table, dict):
        return sorted(((str(k), v) for k, v in table.items()), key=lambda kv: kv[0])
    return []


def held_models(obj: Any, path: str = "", depth: int = 0) -> list[tuple[str, T7Object]]:
    """(path, module) of every nn module inside a root that is not one: the entries of a Lua
    list or table, the fields of a script's own object (word2vec's `w2v`), down to tables of
    tables (char-rnn's `protos.rnn`, beside its criterion)."""
    found: list[tuple[str, T7Object]] = []
    for key, value in _entries(obj) if depth <= 2 else []:
        if is_module(value):
            found.append((child_path(path, key), value))
        elif isinstance(value, (list, dict, T7Object)):
            found += held_models(value, child_path(path, key), depth + 1)
    return found


def _listing(found: list[tuple[str, T7Object]], limit: int = 12) -> str:
    shown = ", ".join(f"{p} ({m.class_name})" for p, m in found[:limit])
    return shown + (f" and {len(found) - limit} more" if len(found) > limit else "")


CHOOSE = "choose one with --module PATH (Python: translate(source, module=PATH))"


def _what(obj: Any) -> str:
    if isinstance(obj, list):
        return f"a Lua list of {len(obj)} entries"
    if isinstance(obj, dict):
        return f"a table of {len(obj)} entries"
    return f"a {obj.class_name} object that is not an nn module"


def _model_in(obj: Any, source: str) -> Any:
    """The one model a root that is not a model holds (torch-rnn's `model`, char-rnn's
    `protos.rnn`); several are listed with their paths for --module."""
    found = held_models(obj)
    if len(found) > 1:
        raise T7FormatError(
            f"{source}: is {_what(obj)} holding {len(found)} nn modules: {_listing(found)}; "
            + CHOOSE
        )
    return found[0][1] if found else obj


def pick(obj: Any, path: str, source: str) -> T7Object:
    """The module at `path` (--module): keys of tables, 1-based indices of lists and of a
    module's `modules`, field names of objects, joined by dots ("protos.rnn", "G", "2.1")."""
    entry, walked = obj, []
    for part in path.split("."):
        inside = dict(_entries(entry))
        if is_module(entry):
            kids = children(entry, ".".join(walked))
            inside = {str(i): c for i, c in enumerate(kids, start=1)} | {
                str(k): v for k, v in entry.fields.items() if k != "modules"
            }
        if part not in inside:
            raise T7FormatError(
                f"{source}: --module {path}: nothing at '{part}' in {show('.'.join(walked))}; "
                + (
                    f"the file holds {_listing(found)}"
                    if (found := held_models(obj))
                    else "the file holds no nn module"
                )
            )
        entry = inside[part]
        walked.append(part)
    if not is_module(entry):
        raise T7FormatError(f"{source}: --module {path}: {kind_of(entry)}, not an nn module")
    return entry


def unwrap(obj: Any, source: str = "checkpoint", module: str | None = None) -> T7Object:
    """The network inside a file: the module at `module` (a path, see `pick`) when given;
    else strips DataParallelTable-style wrappers and finds the one model a table, Lua list or
    script object holds (torch-rnn's `model`, char-rnn's `protos`, word2vec's `w2v`)."""
    fb_resnet = isinstance(obj, dict) and ("modelFile" in obj or "dfdx" in obj)
    if module is not None:
        obj = pick(obj, module, source)
    elif not fb_resnet and not is_module(obj):
        obj = _model_in(obj, source)
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
    if not isinstance(obj, T7Object) or not isinstance(obj.fields, dict) or not is_module(obj):
        what = f"a table with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else ""
        raise T7FormatError(
            f"{source}: holds {what or kind_of(obj)}: not an nn module, nor holding one"
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
