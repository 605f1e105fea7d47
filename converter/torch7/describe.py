"""`t7convert --inspect`: a Torch7 file's contents, modules printed like Lua's `print(model)`.

Each module line also shows its parameter tensors' shapes, which is what a user debugging a
conversion needs and Lua's printout leaves out.
"""

from __future__ import annotations

from typing import Any

from converter.errors import T7FormatError
from converter.torch7 import modules as t7modules
from converter.torch7.objects import LuaFunction, T7Object, T7Storage, T7Tensor


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
        return f"{name}({g('kW')}x{g('kH')}, {g('dW')},{g('dH')})"
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
    return repr(v)


def describe_module(
    m: T7Object, indent: str = "", path: str = "", above: tuple[int, ...] = ()
) -> list[str]:
    tensors = t7modules.state_tensors(m)
    shapes = (
        "  [" + ", ".join(f"{k} {_shape(t)}" for k, t in tensors.items()) + "]" if tensors else ""
    )
    below = t7modules.descend(m, path, above)
    kids = t7modules.children(m, path)
    if not kids:
        return [module_label(m) + shapes]
    lines = [f"{module_label(m)} {{"]
    for i, child in enumerate(kids, start=1):
        sub = (
            describe_module(child, indent + "  ", t7modules.child_path(path, i), below)
            if isinstance(child, T7Object)
            else [_value(child)]
        )
        lines.append(f"{indent}  ({i}): {sub[0]}")
        lines.extend(sub[1:])
    lines.append(f"{indent}}}")
    return lines


def describe(obj: Any, max_items: int = 50) -> str:
    """The whole file: a module tree, or a table's keys with a one-line summary of each value."""
    root = obj
    if isinstance(obj, T7Object):
        try:
            root = t7modules.unwrap(obj)
        except T7FormatError:
            pass
    if isinstance(root, T7Object) and isinstance(root.fields, dict):
        n = sum(len(t7modules.state_tensors(m)) for _, m in t7modules.walk(root))
        params = sum(
            t.numel
            for _, m in t7modules.walk(root)
            for t in t7modules.state_tensors(m).values()
            if t.dtype.kind == "f"
        )
        head = f"-- {n} parameter/statistics tensors, {params:,} values"
        return "\n".join([head, *describe_module(root)])
    if isinstance(root, dict):
        items = list(root.items())
        lines = [f"table with {len(items)} entries"]
        lines += [f"  {k!s}: {_value(v)}" for k, v in items[:max_items]]
        if len(items) > max_items:
            lines.append(f"  ... {len(items) - max_items} more")
        return "\n".join(lines)
    if isinstance(root, list):
        return f"list of {len(root)}: " + ", ".join(_value(v) for v in root[:max_items])
    return _value(root)
