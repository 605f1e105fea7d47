"""nngraph gModules built without Lua, for tests and benchmarks (save them with writer.save_t7).

`GraphBuilder` records nodes the way nngraph's `Module:__call__` does (each node's `data` with
the module and a `mapindex` of its inputs' data tables, in call order) and `gmodule()` adds what
`gModule:__init` adds: an input node, a split node with select nodes for several inputs, an
output node whose `mapindex` lists the outputs, `forwardnodes` in topological order, the
`modules` list, `nInputs`. The forward/backward `graph.Graph` objects (`fg`, `bg`) and the
backward nodes are left out: they only serve Lua's backward pass and drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from converter.torch7.binary import _IdentityKey
from converter.torch7.objects import T7Object


@dataclass(eq=False)
class GraphNode:
    data: dict
    inputs: list[GraphNode] = field(default_factory=list)


def _data(module: T7Object | None = None, **extra) -> dict:  # noqa: ANN003
    data = {"mapindex": {}, "reverseMap": {}, "annotations": {"_debugLabel": "[writer]:0_"}}
    if module is not None:
        data["module"] = module
    data.update(extra)
    return data


class GraphBuilder:
    """`node(module, inputs)` for each call `module(inputs)` in the Lua code, then `gmodule`."""

    def node(self, module: T7Object, inputs: list[GraphNode] = (), name: str = "") -> GraphNode:
        node = GraphNode(_data(module), [])
        if name:
            node.data["annotations"]["name"] = name
        for parent in inputs:
            _connect(node, parent)
        return node

    def split(self, node: GraphNode, n: int) -> list[GraphNode]:
        """`node:split(n)`: a split node and n select nodes, one element each."""
        splitter = GraphNode(_data(nSplitOutputs=n))
        _connect(splitter, node)
        selects = [GraphNode(_data(selectindex=i, input={})) for i in range(1, n + 1)]
        for s in selects:
            _connect(s, splitter)
        return selects

    def gmodule(self, inputs: list[GraphNode], outputs: list[GraphNode]) -> T7Object:
        innode = GraphNode(_data(input={}))
        if len(inputs) == 1:
            _connect(inputs[0], innode)
        else:
            for node, select in zip(inputs, self.split(innode, len(inputs))):
                _connect(node, select)
        outnode = GraphNode(_data(input={}))
        for node in outputs:
            _connect(outnode, node)
        order = _topological(outnode)
        t7_nodes = {id(n): T7Object("nngraph.Node", 1, {"data": n.data}) for n in order}
        for i, n in enumerate(order, start=1):
            n.data["forwardNodeId"] = i
            t7_nodes[id(n)].fields.update(id=i, marked=False, visited=False, children={})
        for n in order:
            for parent in n.inputs:
                kids = t7_nodes[id(parent)]["children"]
                kids[len([k for k in kids if isinstance(k, int)]) + 1] = t7_nodes[id(n)]
        modules = [n.data["module"] for n in order if "module" in n.data]
        fields = {
            "forwardnodes": [t7_nodes[id(n)] for n in order],
            "innode": t7_nodes[id(innode)],
            "outnode": t7_nodes[id(outnode)],
            "modules": modules,
            "nInputs": len(inputs),
            "verbose": False,
            "train": False,
        }
        return T7Object("nn.gModule", 1, fields)


def _connect(node: GraphNode, parent: GraphNode) -> None:
    """nngraph's `node:add(parent, true)`: the parent's data appended to the node's mapindex."""
    mapindex = node.data["mapindex"]
    index = len([k for k in mapindex if isinstance(k, int)]) + 1
    mapindex[index] = parent.data
    mapindex[_IdentityKey(parent.data)] = index
    node.inputs.append(parent)


def _topological(outnode: GraphNode) -> list[GraphNode]:
    """Inputs before the nodes that use them, depth first from the output as graph.topsort."""
    order: list[GraphNode] = []
    seen: set[int] = set()
    stack = [(outnode, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.inputs) if id(p) not in seen)
    return order
