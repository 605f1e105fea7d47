"""What an nngraph `nn.gModule` file stores, read back as a plain graph: nodes in run order,
each with its module and its input edges in the order the module receives them.

nngraph keeps the graph as `nngraph.Node` objects whose `data` tables are shared between the
forward and backward graphs. A node lists its inputs in `data.mapindex` (the parents' `data`
tables, in call order), so edges are resolved by the identity of those tables. `forwardnodes`
is nngraph's own topological order, the order `gModule:updateOutput` runs the nodes in.

Two layouts exist in the wild:
- nngraph since 2015: the input node is fed the whole input; with several inputs a split node
  (`nSplitOutputs`) follows it and select nodes (`selectindex`) pick one element each.
- earlier nngraph: the input node lists the graph's input nodes in its own `mapindex` and hands
  input k to the k-th of them (`gModule:runForwardFunction` before the split rewrite).
Both become the same edges here: an edge may take one element (1-based) of its source's output.

Nothing here imports torch, so `t7convert --inspect` can show a graph without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from converter.errors import T7FormatError
from converter.torch7.objects import T7Object


@dataclass(frozen=True)
class Edge:
    source: int  # position of the source node in Graph.nodes
    item: int | None = None  # 1-based element of the source's (table) output, or all of it


@dataclass(frozen=True)
class Node:
    node_id: int  # nngraph's forwardNodeId, the number its graph drawings show
    module: T7Object | None  # None: passes its input(s) on (input, split, select, output)
    inputs: tuple[Edge, ...]
    slot: int | None  # 1-based index of `module` in the gModule's `modules` (its Torch7 path)
    name: str | None  # from `node:annotate{name=...}`
    split: int | None  # nSplitOutputs of a `:split(n)` node

    def kind(self) -> str:
        """A short word for a node without a module, as a reader of the graph thinks of it."""
        if self.module is not None:
            return self.module.class_name
        if self.split:
            return f"split({self.split})"
        if len(self.inputs) == 1 and self.inputs[0].item is not None:
            return f"select {self.inputs[0].item}"
        return "table" if len(self.inputs) > 1 else "pass"


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]  # in run order
    input_node: int
    output_node: int
    n_inputs: int  # > 1: the gModule takes a table (a list) of that many inputs
    outputs: tuple[int, ...]  # the gModule's outputs in order; one: a tensor, several: a list


def _ordered(table: Any) -> list[Any]:
    """A Lua array part (1..n) in order; nngraph's mapindex/children mix it with reverse keys."""
    if isinstance(table, list):
        return table
    if isinstance(table, dict):
        return [table[k] for k in sorted(k for k in table if isinstance(k, int))]
    return []


def _data(node: Any, where: str) -> dict:
    data = node.get("data") if isinstance(node, T7Object) else None
    if not isinstance(data, dict):
        raise T7FormatError(f"{where}: a graph node without its data table; the file is damaged")
    return data


def node_modules(gmodule: T7Object) -> list[T7Object]:
    """The modules of the graph's nodes in run order: what gModule:__init adds to `modules`
    (older nngraph did not keep that field)."""
    nodes = gmodule.get("forwardnodes")
    found = [n["data"].get("module") for n in _ordered(nodes) if isinstance(n, T7Object)]
    return [m for m in found if isinstance(m, T7Object)]


def read_graph(gmodule: T7Object, modules: list[Any], where: str) -> Graph:
    """The graph of `gmodule`; `modules` is its module list (Torch7 paths index into it).

    Raises T7FormatError where the stored graph is one nngraph could not run either (an input
    from outside the graph, a node run before its input, a module not in `modules`).
    """
    raw = _ordered(gmodule.get("forwardnodes"))
    if not raw:
        raise T7FormatError(f"{where}: a gModule without forwardnodes; the file is damaged")
    datas = [_data(n, where) for n in raw]
    position = {id(d): i for i, d in enumerate(datas)}

    def find(table: Any, what: str) -> int:
        data = _data(table, where) if isinstance(table, T7Object) else table
        if id(data) not in position:
            raise T7FormatError(
                f"{where}: its {what} is not among its forwardnodes; nngraph could not run "
                "this graph either"
            )
        return position[id(data)]

    input_node = find(gmodule.get("innode"), "input node")
    output_node = find(gmodule.get("outnode"), "output node")
    legacy = _ordered(datas[input_node].get("mapindex"))  # pre-2015: input k -> k-th of these
    n_inputs = _input_count(gmodule, raw[input_node], legacy)
    dispatch = {id(d): k for k, d in enumerate(legacy, start=1)} if n_inputs > 1 else {}
    slots = _module_slots(modules)
    nodes = []
    for i, (node, data) in enumerate(zip(raw, datas)):
        edges = []
        for parent in _ordered(data.get("mapindex")) if i != input_node else []:
            source = find(parent, f"node {node.get('id')}'s input")
            if source >= i:
                raise T7FormatError(
                    f"{where}: node {node.get('id')} comes before its input in forwardnodes; "
                    "nngraph could not run this graph either"
                )
            item = dispatch.get(id(data)) if source == input_node else None
            edges.append(Edge(source, item))
        select = data.get("selectindex")
        if select is not None:
            if len(edges) != 1:
                raise T7FormatError(
                    f"{where}: select node {node.get('id')} has {len(edges)} inputs, not one"
                )
            edges = [Edge(edges[0].source, int(select))]
        module = data.get("module")
        nodes.append(
            Node(
                node_id=int(data.get("forwardNodeId", node.get("id", i + 1))),
                module=module if isinstance(module, T7Object) else None,
                inputs=tuple(edges),
                slot=_take_slot(slots, module, where) if isinstance(module, T7Object) else None,
                name=(data.get("annotations") or {}).get("name"),
                split=int(data["nSplitOutputs"]) if data.get("nSplitOutputs") else None,
            )
        )
    outputs = tuple(e.source for e in nodes[output_node].inputs)
    return Graph(tuple(nodes), input_node, output_node, n_inputs, outputs)


def _input_count(gmodule: T7Object, innode: T7Object, legacy: list[Any]) -> int:
    if legacy:
        return len(legacy)
    if gmodule.get("nInputs") is not None:
        return int(gmodule["nInputs"])
    return len(_ordered(innode.get("children")))  # nngraph's fallback for files without nInputs


def _module_slots(modules: list[Any]) -> dict[int, list[int]]:
    slots: dict[int, list[int]] = {}
    for i, m in enumerate(modules, start=1):
        slots.setdefault(id(m), []).append(i)
    return slots


def _take_slot(slots: dict[int, list[int]], module: T7Object, where: str) -> int:
    """The module's index in `modules`; a module called twice in the graph holds two slots."""
    free = slots.get(id(module))
    if not free:
        raise T7FormatError(
            f"{where}: a node's {module.class_name} is not in the gModule's modules list; "
            "the file is damaged"
        )
    return free.pop(0) if len(free) > 1 else free[0]
