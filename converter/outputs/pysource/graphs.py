"""An fx graph (nngraph's gModule as the translator builds it) written out as a class whose
`forward` calls the node modules one line per node, in the graph's order.

The class is an `nn.ModuleDict` of the node modules under their Torch7 names ("1", "2", ...: the
gModule's `modules`), so its state_dict keys are the translated module's. Variables are the fx
nodes' names, which the translator takes from the nngraph node's annotation
(`node:annotate{name=...}`) or its number as `--inspect` shows it.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from converter.outputs.pysource.layout import INDENT, Atom, Bracket, Expr, lines, literal
from converter.outputs.pysource.sources import NotWritableError, SourceSet


def class_name(path: str) -> str:
    """`Graph` for the root, `Graph3_2` for the gModule at Torch7 path 3.2."""
    return "Graph" + re.sub(r"\W", "_", path.replace(".", "_"))


def _value(arg: Any, names: dict[fx.Node, str], where: str) -> Expr:
    if isinstance(arg, fx.Node):
        if arg.op == "call_function" and arg.target is operator.getitem:
            source, index = arg.args
            return Atom(f"{_value(source, names, where).flat()}[{index}]")
        return Atom(names.get(arg, arg.name))
    if isinstance(arg, (list, tuple)):
        return Bracket("", "[", "]", [("", _value(a, names, where)) for a in arg])
    plain = literal(arg)
    if plain is None:
        raise NotWritableError(f"{where}: a node takes a {type(arg).__name__}, not writable")
    return plain


def _callee(node: fx.Node, names: dict[fx.Node, str], sources: SourceSet, where: str) -> str:
    """What a node calls: a node module, a tensor method, or a function (torch's, the standard
    library's, or one copied like the helper classes)."""
    if node.op == "call_module":
        return f"self[{literal(node.target).flat()}]"
    if node.op == "call_method":
        return f"{_value(node.args[0], names, where).flat()}.{node.target}"
    target = node.target
    if node.op == "call_function" and callable(target):
        name, module = getattr(target, "__name__", ""), getattr(target, "__module__", None)
        if getattr(torch, name, None) is target:
            sources.add_import("torch", what=where)
            return f"torch.{name}"
        if getattr(F, name, None) is target:
            sources.add_import("torch.nn.functional", "F", where)
            return f"F.{name}"
        if module in ("operator", "_operator", "math"):
            sources.add_import(module.lstrip("_"), what=where)
            return f"{module.lstrip('_')}.{name}"
        sources.require(target, where)
        return name
    raise NotWritableError(f"{where}: its graph holds a {node.op} node ({target}), not writable")


def graph_class(program: fx.GraphModule, path: str, sources: SourceSet) -> tuple[str, str]:
    """(class name, class source) of `program`, the graph at Torch7 `path`."""
    name = class_name(path)
    where = f"the gModule at {path or 'the root'}"
    sources.bind(name, f"the class of {where}", where)
    sources.add_from_import("torch", "nn", where)
    body = []
    # fx avoids builtins' names (its input is `input_1`); as a parameter, `input` reads better
    inputs = [n for n in program.graph.nodes if n.op == "placeholder"]
    taken = {n.name for n in program.graph.nodes}
    names = {inputs[0]: "input"} if len(inputs) == 1 and "input" not in taken else {}
    for node in program.graph.nodes:
        if node.op == "output":
            body += lines(_value(node.args[0], names, where), 2 * INDENT, "return ")
        elif node.op != "placeholder" and node.target is not operator.getitem:
            call = Bracket(_callee(node, names, sources, where), "(", ")")
            args = node.args[1:] if node.op == "call_method" else node.args
            call.items = [("", _value(a, names, where)) for a in args]
            call.items += [(f"{k}=", _value(v, names, where)) for k, v in node.kwargs.items()]
            body += lines(call, 2 * INDENT, f"{node.name} = ")
    head = [
        f"class {name}(nn.ModuleDict):",
        f'    """nngraph gModule at {path or "the root"}: its nodes in nngraph\'s order."""',
        "",
        f"    def forward(self, {', '.join(names.get(n, n.name) for n in inputs)}):",
    ]
    return name, "\n".join(head + body) + "\n"
