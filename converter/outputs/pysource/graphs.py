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

from torch import fx

from converter.outputs.pysource.layout import INDENT, Atom, Bracket, Expr, lines, literal
from converter.outputs.pysource.sources import NotWritableError, SourceSet


def class_name(path: str) -> str:
    """`Graph` for the root, `Graph3_2` for the gModule at Torch7 path 3.2."""
    return "Graph" + re.sub(r"\W", "_", path.replace(".", "_"))


def _value(arg: Any, where: str) -> Expr:
    if isinstance(arg, fx.Node):
        if arg.op == "call_function" and arg.target is operator.getitem:
            source, index = arg.args
            return Atom(f"{_value(source, where).flat()}[{index}]")
        return Atom(arg.name)
    if isinstance(arg, (list, tuple)):
        return Bracket("", "[", "]", [("", _value(a, where)) for a in arg])
    plain = literal(arg)
    if plain is None:
        raise NotWritableError(f"{where}: a node takes a {type(arg).__name__}, not writable")
    return plain


def graph_class(program: fx.GraphModule, path: str, sources: SourceSet) -> tuple[str, str]:
    """(class name, class source) of `program`, the graph at Torch7 `path`."""
    name = class_name(path)
    where = f"the gModule at {path or 'the root'}"
    sources.add_from_import("torch", "nn")
    body = []
    params = []
    for node in program.graph.nodes:
        if node.op == "placeholder":
            params.append(node.name)
        elif node.op == "call_module":
            call = Bracket(f"self[{literal(node.target).flat()}]", "(", ")")
            call.items = [("", _value(a, where)) for a in node.args]
            body += lines(call, 2 * INDENT, f"{node.name} = ")
        elif node.op == "output":
            body += lines(_value(node.args[0], where), 2 * INDENT, "return ")
        elif not (node.op == "call_function" and node.target is operator.getitem):
            raise NotWritableError(
                f"{where}: its graph holds a {node.op} node ({node.target}), which this writer "
                "does not write out"
            )
    head = [
        f"class {name}(nn.ModuleDict):",
        f'    """nngraph gModule at {path or "the root"}: its nodes in nngraph\'s order."""',
        "",
        f"    def forward(self, {', '.join(params)}):",
    ]
    return name, "\n".join(head + body) + "\n"
