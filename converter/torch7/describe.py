"""`t7convert --inspect`: a Torch7 file's contents, modules printed like Lua's `print(model)`.

Each module line also shows its parameter tensors' shapes, which is what a user debugging a
conversion needs and Lua's printout leaves out.
"""

from __future__ import annotations

from typing import Any

from converter.errors import T7FormatError
from converter.torch7 import modules as t7modules
from converter.torch7 import nngraph
from converter.torch7.objects import LuaBool, LuaFunction, T7Object, T7Storage, T7Tensor


def _shape(t: T7Tensor) -> str:
    return "x".join(map(str, t.shape)) or "empty"


def module_label(m: T7Object) -> str:
    """Lua's __tostring for the common modules: `cudnn.SpatialConvolution(3 -> 32, 3x3, 2,2)`."""
    name, short, g = m.class_name, t7modules.short_class(m.class_name), m.get
    if "Convolution" in short and g("nInputPlane") is not None:
        text = f"{name}({g('nInputPlane')} -> {g('nOutputPlane')}, {g('kW')}x{g('kH')}"
        pad = (g("padW", 0) or 0, g("padH", 0) or 0)
        if (g("dW", 1), g("dH", 1)) != (1, 1) or pad != (0, 0):
            text += f", {g('dW', 1)},{g('dH', 1)}"
        if pad != (0, 0):
            text += f", {pad[0]},{pad[1]}"
        return text + ")" + ("" if isinstance(g("bias"), T7Tensor) else " without bias")
    if "Pooling" in short and g("kW") is not None:
        return _pooling_label(m)
    if short == "Linear" and isinstance(g("weight"), T7Tensor) and len(g("weight").shape) == 2:
        out_f, in_f = g("weight").shape
        return f"{name}({in_f} -> {out_f})"
    if "BatchNormalization" in short and isinstance(g("running_mean"), T7Tensor):
        return f"{name} ({_shape(g('running_mean'))})"
    if short == "Dropout":
        return f"{name}({g('p')})"
    if short == "MulConstant":
        return f"{name}({g('constant_scalar')})"
    if short == "View" and isinstance(g("size"), T7Storage):
        size = g("size").read(0, g("size").size).tolist()
        return f"{name}({', '.join(map(str, size))})"  # View:__tostring__
    return name


def _pooling_label(m: T7Object) -> str:
    """Lua's `nn.SpatialMaxPooling(3x3, 2,2, 1,1)` (padding when not 0), and every other
    geometry field the translation reads: `:ceil()` (as the Lua call that sets it) and
    count_include_pad=false for an average pooling that excludes the padding."""
    g = m.get
    text = f"{m.class_name}({g('kW')}x{g('kH')}, {g('dW')},{g('dH')}"
    if (g("padW") or 0, g("padH") or 0) != (0, 0):
        text += f", {g('padW') or 0},{g('padH') or 0}"
    text += ")" + (":ceil()" if g("ceil_mode") else "")
    return text + (" count_include_pad=false" if g("count_include_pad") is False else "")


def _value(v: Any) -> str:
    if isinstance(v, T7Tensor):
        return f"{v.class_name} {_shape(v)}"
    if isinstance(v, T7Storage):
        return f"{v.class_name} of {v.size}"
    if isinstance(v, T7Object):
        return module_label(v)
    if isinstance(v, LuaFunction):
        return "Lua function"
    if isinstance(v, (list, dict)):
        return f"table of {len(v)}"
    if isinstance(v, (bool, LuaBool)):  # as Lua prints them: true, false, nil, 1e-05
        return str(getattr(v, "value", v)).lower()
    if v is None:
        return "nil"
    if isinstance(v, float):
        return f"{v:.14g}"
    return repr(v)


def _shapes(m: T7Object) -> str:
    tensors = t7modules.state_tensors(m)
    return (
        "  [" + ", ".join(f"{k} {_shape(t)}" for k, t in tensors.items()) + "]" if tensors else ""
    )


def describe_module(
    m: T7Object, indent: str = "", path: str = "", above: tuple[int, ...] = ()
) -> list[str]:
    below = t7modules.descend(m, path, above)
    if m.class_name == "nn.gModule":
        return describe_graph(m, indent, path, below)
    kids = [(str(i), c) for i, c in enumerate(t7modules.children(m, path), start=1)]
    if "modules" not in m.fields:  # a class that keeps its parts in fields (torch-rnn's `net`)
        kids = t7modules.module_fields(m)
    if not kids:
        return [module_label(m) + _shapes(m)]
    lines = [f"{module_label(m)}{_shapes(m)} {{"]
    for key, child in kids:
        lines += _nested(
            f"{indent}  ({key}): ", child, indent + "  ", t7modules.child_path(path, key), below
        )
    lines.append(f"{indent}}}")
    return lines


def _nested(head: str, child: Any, indent: str, path: str, above: tuple[int, ...]) -> list[str]:
    sub = (
        describe_module(child, indent, path, above)
        if isinstance(child, T7Object)
        else [_value(child)]
    )
    return [head + sub[0], *sub[1:]]


def describe_graph(
    m: T7Object, indent: str = "", path: str = "", above: tuple[int, ...] = ()
) -> list[str]:
    """An nngraph gModule as its graph: one line per node in run order, `[id]` being nngraph's
    node number, `(i)` the module's index in `modules` (its path), `<- ids` its inputs in the
    order the module receives them (`id[k]`: element k of that node's table output)."""
    kids = t7modules.children(m, path)
    try:
        graph = nngraph.read_graph(m, kids, "gModule")
    except T7FormatError as e:
        flat = _flat(kids, indent, path, above)
        return [f"nn.gModule (graph not readable: {e}) {{", *flat, f"{indent}}}"]
    nodes = graph.nodes
    ins = f"{graph.n_inputs} inputs" if graph.n_inputs > 1 else "1 input"
    outs = f"{len(graph.outputs)} outputs" if len(graph.outputs) > 1 else "1 output"
    lines = [f"nn.gModule ({ins}, {outs}, {len(nodes)} nodes) {{"]
    for i, node in enumerate(nodes):
        edges = ", ".join(
            str(nodes[e.source].node_id)
            + (f"[{e.item}]" if e.item is not None and node.module is not None else "")
            for e in node.inputs
        )
        name = f"{node.name}: " if node.name else ""
        head = f"{indent}  [{node.node_id}] {name}"
        tail = f" <- {edges}" if edges else ""
        if i == graph.input_node:
            lines.append(f"{head}input")
        elif i == graph.output_node:
            lines.append(f"{head}output{tail}")
        elif node.module is None:
            lines.append(f"{head}{node.kind()}{tail}")
        else:
            slot = t7modules.child_path(path, node.slot)
            sub = _nested(f"{head}({node.slot}) ", node.module, indent + "  ", slot, above)
            first = sub[0][:-2] + tail + " {" if sub[0].endswith(" {") else sub[0] + tail
            lines += [first, *sub[1:]]
    lines.append(f"{indent}}}")
    return lines


def _flat(kids: list[Any], indent: str, path: str, above: tuple[int, ...]) -> list[str]:
    lines = []
    for i, child in enumerate(kids, start=1):
        child_path = t7modules.child_path(path, i)
        lines += _nested(f"{indent}  ({i}): ", child, indent + "  ", child_path, above)
    return lines


def reachable_modules(root: T7Object) -> list[T7Object]:
    """Every module reachable from `root` through any field or table, each once: also those a
    custom class keeps in fields rather than in `modules` (torch-rnn's LanguageModel.net)."""
    found: dict[int, T7Object] = {}
    seen: set[int] = set()
    todo: list[Any] = [root]
    while todo:
        v = todo.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, T7Object) and isinstance(v.fields, dict):
            if t7modules.is_module(v):
                found[id(v)] = v
            todo += list(v.fields.values())
        elif isinstance(v, list):
            todo += v
        elif isinstance(v, dict):
            todo += list(v.values())
    return list(found.values())


def _model_tree(root: T7Object) -> list[str]:
    tensors = {
        id(t): t for m in reachable_modules(root) for t in t7modules.state_tensors(m).values()
    }
    params = sum(t.numel for t in tensors.values() if t.dtype.kind == "f")
    return [
        f"-- {len(tensors)} parameter/statistics tensors, {params:,} values",
        *describe_module(root),
    ]


def _held(obj: Any, model: T7Object | None) -> list[str]:
    """The modules a root that is not one holds, with the paths --module takes."""
    held = t7modules.held_models(obj)
    lines = []
    if len(held) > 1:
        lines.append(f"{len(held)} nn modules in it; choose one with --module PATH:")
        lines += [f"  {p}: {module_label(m)}" for p, m in held]
    if model is not None:
        at = next((p for p, m in held if m is model), "")
        lines += [f"the model in it{f', at {at}' if at else ''}:", *_model_tree(model)]
    return lines


def describe(obj: Any, max_items: int = 50) -> str:
    """The whole file: a module tree, or a table's (a list's, a script object's) entries with
    a one-line summary of each, the modules it holds with their --module paths, and the model
    translation finds in it (torch-rnn's `model`, char-rnn's `protos.rnn`)."""
    try:
        model = t7modules.unwrap(obj)
    except T7FormatError:
        model = None
    if t7modules.is_module(obj):
        return "\n".join(_model_tree(model if model is not None else obj))
    if isinstance(obj, (dict, T7Object)) and isinstance(getattr(obj, "fields", obj), dict):
        items = list(getattr(obj, "fields", obj).items())
        head = f"{obj.class_name} object (not an nn module)" if isinstance(obj, T7Object) else ""
        lines = [f"{head or 'table'} with {len(items)} entries"]
        lines += [f"  {k!s}: {_value(v)}" for k, v in items[:max_items]]
        if len(items) > max_items:
            lines.append(f"  ... {len(items) - max_items} more")
        return "\n".join(lines + _held(obj, model))
    if isinstance(obj, list):
        head = f"list of {len(obj)}: " + ", ".join(_value(v) for v in obj[:max_items])
        return "\n".join([head, *_held(obj, model)])
    return _value(obj)
