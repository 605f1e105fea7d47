"""The model figure: a graphviz graph of the PyTorch network, traced from the module itself.

The figure is built from what the model does, not from a hand-written description: torch.fx
traces `forward` (so every node is a real op and every edge is real data flow; the Inception
branches appear as branches because they are), and the traced graph is then run on `meta`
tensors to get each node's output size for a 1x3xSxS input without computing anything or
copying a weight. Blocks (the stem, each mixed/Inception/Reduction block) become graphviz
clusters named `cluster_<module path>` (`cluster_stem`, `cluster_blocks_a_0`, ...).

Labels read like the authors' figure (`../shared/seed/inception-resnet-v2.dot`), so the two can
be compared by eye and by test: convolutions use Torch7's notation
`Conv2d(nIn -> nOut, kWxkH[, dW,dH][, padW,padH]) without bias` (WIDTH first, unlike PyTorch's
`kernel_size=(kH, kW)`; the stride is printed when it or the padding is not the default, as
Torch's `__tostring` does), pools `MaxPool2d(kWxkH, dW,dH)`, and every node ends with
`Size: {N, C, H, W}`. By default a conv+BatchNorm(+ReLU) unit is one node; `detail=True` draws
every op.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import fx, nn

from converter.errors import UserError
from converter.outputs.atomic import atomic_path

RENDER_FORMATS = ("svg", "png", "pdf")
TITLE_WIDTH = 48  # characters per title line: about the width of a three-branch block
FIGURE_FORMATS = ("dot", *RENDER_FORMATS)
# Marks the .dot as this tool's: a figure's .dot left by a run that could not render (no
# Graphviz yet) is remade by the next run without --force; a user's own .dot never is.
OURS = 'comment="written by irv2-draw"'
INSTALL_HINT = (
    "install Graphviz to render it: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`"
)
LEGEND = (
    "convolutions as Torch7 prints them: (nIn -> nOut, kWxkH[, dW,dH][, padW,padH]), "
    "width first; PyTorch's kernel_size is (kH, kW)"
)

# Fill colour per op: what a reader scans for (convs, pools, merges, the classifier head).
_COLOURS = {
    "Input": "#e1d5e7",
    "Conv2d": "#fff2cc",
    "BatchNorm2d": "#f5f5f5",
    "ReLU": "#f5f5f5",
    "MaxPool2d": "#dae8fc",
    "AvgPool2d": "#dae8fc",
    "cat": "#f8cecc",
    "add": "#f8cecc",
    "mul": "#fce4d6",
    "flatten": "#d5e8d4",
    "Dropout": "#d5e8d4",
    "Linear": "#d5e8d4",
}


@dataclass(frozen=True)
class Node:
    """One drawn box: `kind` picks the colour, `clusters` are the enclosing blocks, outermost
    first, `path` is the module path (shown as the SVG tooltip)."""

    id: str
    kind: str
    label: tuple[str, ...]
    clusters: tuple[str, ...] = ()
    path: str = ""


@dataclass
class Figure:
    """Nodes in execution order, data-flow edges, and a label per cluster (module path)."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    clusters: dict[str, str] = field(default_factory=dict)
    title: str = ""


def model_figure(
    model: nn.Module, input_size: int = 299, detail: bool = False, title: str = ""
) -> Figure:
    """The figure of `model` for a 1 x C x input_size x input_size input (C from the first conv).

    Identity modules are left out (they are wiring, not ops); unless `detail`, each
    conv -> BatchNorm (-> ReLU) chain becomes one node labelled with all three.
    """
    traced = fx.symbolic_trace(model)
    shapes = _meta_shapes(traced, _input_channels(model), input_size)
    modules = dict(model.named_modules())
    fig = Figure(title=title)
    drawn: dict[fx.Node, str] = {}  # fx node -> id of the box that shows its output
    heads = {} if detail else _conv_units(traced, modules)
    units: dict[fx.Node, list[fx.Node]] = {}
    for member, head in heads.items():
        units.setdefault(head, []).append(member)
    for n in traced.graph.nodes:
        if n.op == "output":
            continue
        inputs = [drawn[a] for a in n.all_input_nodes]
        if n.op == "call_module" and isinstance(modules[n.target], nn.Identity):
            drawn[n] = inputs[0]
            continue
        if n in heads:  # a later member of a collapsed unit: shown by the unit's box
            drawn[n] = drawn[heads[n]]
            continue
        members = units.get(n, [])
        kind, text = _describe(n, modules)
        extra = [f"+ {_describe(m, modules)[0]}" for m in members]
        if extra:
            text = [*text, " ".join(extra)]
        last = members[-1] if members else n
        clusters = _cluster_chain(n, modules, fig.clusters)
        path = n.target if n.op == "call_module" else ""
        if members:  # the unit (stem.conv1), not its conv (stem.conv1.conv)
            path = path.rpartition(".")[0]
        node = Node(n.name, kind, (*text, _size(shapes[last])), clusters, path)
        fig.nodes.append(node)
        fig.edges.extend((i, node.id) for i in dict.fromkeys(inputs))
        drawn[n] = node.id
    return fig


def _input_channels(model: nn.Module) -> int:
    return next(m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d))


class _MetaInterpreter(fx.Interpreter):
    """Runs a traced graph on meta tensors: every leaf module gets meta views of its own
    parameters, so the model's weights are neither read nor copied and nothing is computed."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.shapes: dict[fx.Node, tuple[int, ...]] = {}

    def run_node(self, n: fx.Node):  # noqa: ANN201 - whatever the op returns
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            self.shapes[n] = tuple(result.shape)
        return result

    def call_module(self, target, args, kwargs):  # noqa: ANN001, ANN201 - fx's signature
        module = self.fetch_attr(target)
        tensors = itertools.chain(module.named_parameters(), module.named_buffers())
        meta = {name: t.to("meta") for name, t in tensors}
        return torch.func.functional_call(module, meta, args, kwargs)


def _meta_shapes(traced: fx.GraphModule, channels: int, size: int) -> dict[fx.Node, tuple]:
    interp = _MetaInterpreter(traced)
    try:
        interp.run(torch.empty(1, channels, size, size, device="meta"))
    except (RuntimeError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"input size {size}: the network cannot take a {size}x{size} input "
            f"({reason}); use 299 (the size it was trained at)"
        ) from None
    return interp.shapes


def _conv_units(traced: fx.GraphModule, modules: dict[str, nn.Module]) -> dict[fx.Node, fx.Node]:
    """Later member -> head for every conv -> BatchNorm2d (-> ReLU) chain with no side exits."""

    def sole_user(n: fx.Node, kind: type) -> fx.Node | None:
        users = list(n.users)
        if (
            len(users) == 1
            and users[0].op == "call_module"
            and isinstance(modules[users[0].target], kind)
            and users[0].all_input_nodes == [n]
        ):
            return users[0]
        return None

    heads = {}
    for n in traced.graph.nodes:
        if n.op == "call_module" and isinstance(modules[n.target], nn.Conv2d):
            bn = sole_user(n, nn.BatchNorm2d)
            if bn is not None:
                heads[bn] = n
                relu = sole_user(bn, nn.ReLU)
                if relu is not None:
                    heads[relu] = n
    return heads


def _describe(n: fx.Node, modules: dict[str, nn.Module]) -> tuple[str, list[str]]:
    """(kind, label lines without the size) of one traced op."""
    if n.op == "placeholder":
        return "Input", ["Input"]
    if n.op == "call_module":
        m = modules[n.target]
        kind = type(m).__name__
        return kind, [_module_text(m)]
    name = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
    constants = [repr(a) for a in n.args if not isinstance(a, (fx.Node, list, tuple))]
    constants += [f"{k}={v!r}" for k, v in n.kwargs.items() if not isinstance(v, fx.Node)]
    return name, [f"{name}({', '.join(constants)})" if constants else name]


def _module_text(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        (kh, kw), (sh, sw), (ph, pw) = m.kernel_size, m.stride, m.padding
        s = f"Conv2d({m.in_channels} -> {m.out_channels}, {kw}x{kh}"
        if (sw, sh, pw, ph) != (1, 1, 0, 0):
            s += f", {sw},{sh}"
        if (pw, ph) != (0, 0):
            s += f", {pw},{ph}"
        return s + (")" if m.bias is not None else ") without bias")
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        (kh, kw), (sh, sw), (ph, pw) = (_pair(m.kernel_size), _pair(m.stride), _pair(m.padding))
        s = f"{type(m).__name__}({kw}x{kh}, {sw},{sh}"
        s += f", {pw},{ph}" if (pw, ph) != (0, 0) else ""
        return s + (", ceil)" if m.ceil_mode else ")")
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d({m.num_features}, eps={m.eps:g})"
    if isinstance(m, nn.Linear):
        return f"Linear({m.in_features} -> {m.out_features})"
    if isinstance(m, nn.Dropout):
        return f"Dropout({m.p:g})"
    return f"{type(m).__name__}({m.extra_repr()})" if m.extra_repr() else type(m).__name__


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _size(shape: tuple[int, ...]) -> str:
    return "Size: {" + ", ".join(map(str, shape)) + "}"


def _cluster_chain(
    n: fx.Node, modules: dict[str, nn.Module], labels: dict[str, str]
) -> tuple[str, ...]:
    """The blocks enclosing `n`, outermost first; records each block's label in `labels`.

    A block is a module with `branch0`, `branch1`, ... children (every Inception, mixed and
    Reduction block) or a direct child of the root that is neither a leaf nor a Sequential
    (the stem): the units a reader of the paper looks for.
    """
    stack = n.meta.get("nn_module_stack", {})
    # torch >= 2.1 keeps (path, class) per entry; earlier versions key the class by path
    paths = [
        p
        for p in (v[0] if isinstance(v, tuple) else k for k, v in stack.items())
        if _is_block(p, modules[p])
    ]
    for p in paths:
        labels.setdefault(p, f"{p} ({type(modules[p]).__name__})")
    return tuple(paths)


def _is_block(path: str, m: nn.Module) -> bool:
    names = {name for name, _ in m.named_children()}
    if "branch0" in names:
        return True
    return "." not in path and bool(names) and not isinstance(m, nn.Sequential)


def to_dot(fig: Figure) -> str:
    """The figure as graphviz source: nested `subgraph cluster_*` per block, top to bottom."""
    lines = [
        "digraph G {",
        f"  graph [{OURS},",
        "         rankdir=TB, labelloc=t, fontname=Helvetica, fontsize=16, nodesep=0.25,",
        f"         ranksep=0.3, label={_quote(_title_lines(fig.title))}];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11];',
        "  edge [arrowsize=0.6];",
    ]
    lines += _dot_cluster((), fig.nodes, fig.clusters, "  ")
    by_id = {n.id: n for n in fig.nodes}
    lines += [
        f"  {_quote(a)} -> {_quote(b)}"
        + (" [weight=0]" if _is_shortcut(by_id[a], by_id[b]) else "")
        + ";"
        for a, b in fig.edges
    ]
    return "\n".join(lines + ["}", ""])


def _is_shortcut(a: Node, b: Node) -> bool:
    """A residual shortcut: the edge into a block's `add` from outside the block. Weighted 0,
    it no longer pulls each block sideways; drawn with the default weight, the 20 shortcuts of
    the IRv2 figure shifted block after block and left most of the canvas empty."""
    return b.kind == "add" and a.clusters[: len(b.clusters)] != b.clusters


def _title_lines(title: str) -> str:
    """The title and legend wrapped to about a block's width: one long line would set the width
    of the whole canvas and leave most of a tall figure empty beside the network."""
    return "\n".join(
        line for text in (title, LEGEND) if text for line in textwrap.wrap(text, TITLE_WIDTH)
    )


def _dot_cluster(
    chain: tuple[str, ...], nodes: list[Node], labels: dict[str, str], indent: str
) -> list[str]:
    """Lines for the nodes inside `chain`, each sub-block nested where it first appears."""
    out: list[str] = []
    depth = len(chain)
    done: set[str] = set()
    for n in nodes:
        if n.clusters[:depth] != chain:
            continue
        if len(n.clusters) == depth:
            out.append(
                f"{indent}{_quote(n.id)} [label={_quote(chr(10).join(n.label))}, "
                f"fillcolor={_quote(_COLOURS.get(n.kind, 'white'))}"
                + (f", tooltip={_quote(n.path)}" if n.path else "")
                + "];"
            )
            continue
        child = n.clusters[depth]
        if child in done:
            continue
        done.add(child)
        out.append(f"{indent}subgraph {_quote('cluster_' + child.replace('.', '_'))} {{")
        out.append(
            f'{indent}  label={_quote(labels[child])}; style="rounded,dashed"; '
            "color=gray40; fontsize=12;"
        )
        out += _dot_cluster((*chain, child), nodes, labels, indent + "  ")
        out.append(f"{indent}}}")
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_dot(fig: Figure, path: Path, force: bool = False) -> Path:
    """Write the graphviz source atomically (over an existing file only with `force`); returns
    `path`."""
    with atomic_path(path, force) as tmp:
        tmp.write_text(to_dot(fig), encoding="utf-8")
    return path


def find_dot() -> str | None:
    """Graphviz's `dot` executable, or None when it is not installed."""
    return shutil.which("dot")


def written_by_us(dot_file: Path) -> bool:
    """Whether `dot_file` is a .dot this tool wrote (see OURS)."""
    try:
        with open(dot_file, "rb") as f:
            return OURS.encode() in f.read(200)
    except OSError:
        return False


def render(dot_file: Path, output: Path, dot: str, force: bool = False) -> Path:
    """Lay out `dot_file` with Graphviz into `output` (.svg/.png/.pdf), atomically (over an
    existing file only with `force`)."""
    fmt = output.suffix.lower().lstrip(".")
    with atomic_path(output, force) as tmp:
        done = subprocess.run(
            [dot, f"-T{fmt}", str(dot_file), "-o", str(tmp)], capture_output=True, text=True
        )
        if done.returncode:
            raise RenderError(f"{dot} failed on {dot_file}: {done.stderr.strip()[:300]}")
    return output


class RenderError(RuntimeError):
    """Graphviz itself failed; the .dot is still there for the user to render by hand."""
