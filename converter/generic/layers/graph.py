"""nngraph `nn.gModule`: the stored graph rebuilt as a torch.fx GraphModule.

The graph (converter.torch7.nngraph) becomes fx code that runs the nodes in nngraph's order
with nngraph's rules (gModule:runForwardFunction): a node with one input gets that value, a
node with several gets the list of them in `mapindex` order, a node without a module passes
that on, a select node takes one element of a table. A gModule with several inputs takes a
list, one with several outputs returns one, in the orders the Lua code gave.

Generated code rather than an interpreter loop, so the translated graph runs as fast as the
same network written by hand (scripts/bench_translate.py measures it), and torch.export traces
it like any module. Its variables are the nodes' annotated names (`node:annotate{name=...}`)
or their numbers (`n12`). The node modules are children named by their 1-based index in the
gModule's `modules`, so state_dict keys are the Torch7 paths.
"""

from __future__ import annotations

import operator
from typing import Any

from torch import fx, nn

from converter.generic.layers.containers import lua_indexed
from converter.generic.registry import register_translation
from converter.torch7.modules import children
from converter.torch7.nngraph import Graph, read_graph


def _value(values: list[Any], graph: fx.Graph, source: int, item: int | None) -> Any:
    value = values[source]
    if item is None:
        return value
    if isinstance(value, list):  # a table built by a module-less node: pick without code
        return value[item - 1]
    return graph.call_function(operator.getitem, (value, item - 1))


def build_graph_module(spec: Graph, modules: list[nn.Module]) -> fx.GraphModule:
    """fx code for `spec`, calling `modules` (the translated `modules` list, Lua order)."""
    graph = fx.Graph()
    values: list[Any] = []
    for i, node in enumerate(spec.nodes):
        if i == spec.input_node:
            values.append(graph.placeholder("input"))
            continue
        args = [_value(values, graph, e.source, e.item) for e in node.inputs]
        arg = args[0] if len(args) == 1 else args
        if node.module is None:
            values.append(arg)
        else:
            # named as the Lua code named the node, else by its number (--inspect's [id])
            name = str(node.name) if node.name else f"n{node.node_id}"
            values.append(graph.create_node("call_module", str(node.slot), (arg,), name=name))
    outputs = [values[i] for i in spec.outputs]
    graph.output(outputs[0] if len(outputs) == 1 else outputs)
    root = nn.Module()
    named = lua_indexed(modules)
    for name, module in named.items():
        root.add_module(name, module)
    program = fx.GraphModule(root, graph, class_name="gModule")
    # fx keeps only the called modules, in call order; Torch7 keeps all of them in Lua order
    for name in list(program._modules):
        delattr(program, name)
    for name, module in named.items():
        program.add_module(name, module)
    program.n_inputs = spec.n_inputs  # how many an example input needs (t7convert --input-shape)
    return program


@register_translation("nn.gModule")
def _gmodule(m, ctx):
    spec = read_graph(m, children(m), ctx.where)
    return build_graph_module(spec, ctx.children())
