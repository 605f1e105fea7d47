"""irv2-draw: our model figure against the authors' own graph of the real model.

The proof compares convolutions, not pictures: both .dot files are parsed, each is cut into
segments at the nodes every input-to-output path goes through (block boundaries), and within a
segment every path is reduced to its sequence of convolutions (nIn, nOut, kW, kH, dW, dH, padW,
padH and output C, H, W). Segments must agree one by one as multisets of paths: strict about
which block a conv is in, the order of convs along a branch (a 1x7 before a 7x1 or after) and
every size, and blind only to the left-to-right order of parallel branches, which optnet and
torch.fx are free to choose. The seed prints kernels as kW x kH, and so do we.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import torch
from click.testing import CliRunner
from conftest import shared_dir

from converter.irv2.model import ConvBN, InceptionResNetV2
from evaluate.figure import draw
from evaluate.figure.cli import main
from evaluate.figure.draw import find_dot, model_figure, to_dot

# graphviz wraps long strings with backslash-newline, hence DOTALL
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|->|[-\w.#]+|[\[\]{};=,]', re.S)
_CONV = re.compile(
    r"(?:SpatialConvolution|Conv2d)\((\d+) -> (\d+), (\d+)x(\d+)"
    r"(?:, (\d+),(\d+))?(?:, (\d+),(\d+))?\)"
)
_SIZE = re.compile(r"Size: \{1, (\d+), (\d+), (\d+)\}")


@pytest.fixture(scope="module")
def seed_dot() -> str:
    path = shared_dir() / "seed" / "inception-resnet-v2.dot"
    if not path.is_file():
        pytest.skip(f"the authors' figure is not at {path} (set IRV2_SHARED)")
    return path.read_text()


@pytest.fixture(scope="module")
def full_model() -> InceptionResNetV2:
    with torch.device("meta"):  # shapes only: no weights, no init time
        return InceptionResNetV2()


def parse_dot(text: str) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """(node id -> label lines, edges) of a graphviz file, either optnet's or ours."""
    toks = _TOKEN.findall(text)
    nodes: dict[str, list[str]] = {}
    edges = []
    i = 0
    while i < len(toks):
        if i + 2 < len(toks) and toks[i + 1] == "->":
            edges.append((_unquote(toks[i]), _unquote(toks[i + 2])))
            i += 3
        elif toks[i + 1 : i + 2] == ["["] and toks[i] not in ("graph", "node", "edge"):
            end = toks.index("]", i)
            attrs = toks[i + 2 : end]
            label = next(
                _unquote(attrs[k + 2])
                for k, t in enumerate(attrs)
                if t == "label" and attrs[k + 1] == "="
            )
            nodes[_unquote(toks[i])] = label.split("\\n")
            i = end + 1
        else:
            i += 1
    return nodes, edges


def _unquote(tok: str) -> str:
    return tok[1:-1].replace('\\"', '"') if tok.startswith('"') else tok


def conv_of(label: list[str]) -> tuple[int, ...] | None:
    """(nIn, nOut, kW, kH, dW, dH, padW, padH, C, H, W), or None for other ops."""
    conv = next((m for m in map(_CONV.search, label) if m), None)
    if conv is None:
        return None
    n_in, n_out, kw, kh, dw, dh, pw, ph = conv.groups()
    size = next(m for m in map(_SIZE.search, label) if m)
    return (
        int(n_in),
        int(n_out),
        int(kw),
        int(kh),
        int(dw or 1),
        int(dh or 1),
        int(pw or 0),
        int(ph or 0),
        *map(int, size.groups()),
    )


def conv_segments(text: str) -> list[list[tuple]]:
    """Per segment between consecutive cut nodes: the sorted conv sequences of its paths
    (segments without a convolution are left out: they differ only in BN/ReLU bookkeeping)."""
    nodes, edges = parse_dot(text)
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    indeg = Counter(b for _, b in edges)
    for a, b in edges:
        succ[a].append(b)
    order, ready = [], [n for n in nodes if not indeg[n]]
    assert len(ready) == 1, f"one input node expected, found {ready}"
    while ready:
        n = ready.pop()
        order.append(n)
        for s in succ[n]:
            indeg[s] -= 1
            if not indeg[s]:
                ready.append(s)
    assert len(order) == len(nodes), "the graph has a cycle or a dangling edge"
    pos = {n: k for k, n in enumerate(order)}
    jumped = [0] * (len(order) + 1)  # positions some edge passes over: not on every path
    for a, b in edges:
        jumped[pos[a] + 1] += 1
        jumped[pos[b]] -= 1
    running, cuts = 0, []
    for k, n in enumerate(order):
        running += jumped[k]
        if not running:
            cuts.append(n)
    assert cuts[-1] == order[-1], "one output node expected"
    segments = []
    for start, stop in zip(cuts, cuts[1:]):
        paths = sorted(_paths(start, stop, succ, nodes))
        if any(paths):
            segments.append(paths)
    return segments


def _paths(start: str, stop: str, succ: dict, nodes: dict) -> list[tuple]:
    if start == stop:
        return [()]
    out = []
    for s in succ[start]:
        conv = conv_of(nodes[s])
        out += [((conv,) if conv else ()) + rest for rest in _paths(s, stop, succ, nodes)]
    return out


def mismatches(ours: str, seed: str) -> tuple[list[str], int]:
    """(what differs, number of convolutions compared) between two figures."""
    a, b = conv_segments(ours), conv_segments(seed)
    problems = [
        f"segment {k}: ours {x} != seed {y}" for k, (x, y) in enumerate(zip(a, b)) if x != y
    ]
    if len(a) != len(b):
        problems.append(f"{len(a)} segments with convolutions in ours, {len(b)} in the seed")
    convs_a = Counter(c for seg in a for path in seg for c in path)
    convs_b = Counter(c for seg in b for path in seg for c in path)
    if convs_a != convs_b:
        problems.append(
            f"conv multisets differ: ours-only {convs_a - convs_b}, seed-only {convs_b - convs_a}"
        )
    return problems, sum(1 for n in parse_dot(ours)[0].values() if conv_of(n))


@pytest.mark.parametrize("detail", [False, True], ids=["collapsed", "detail"])
def test_convolutions_match_authors_figure(seed_dot, full_model, detail):
    ours = to_dot(model_figure(full_model, 299, detail=detail))
    problems, n_convs = mismatches(ours, seed_dot)
    seed_convs = sum(1 for n in parse_dot(seed_dot)[0].values() if conv_of(n))
    segments = len(conv_segments(ours))
    print(
        f"{n_convs} of {seed_convs} convolutions matched the authors' figure "
        f"(in {segments} segments; {len(problems)} mismatches)"
    )
    assert not problems, "\n".join(problems)
    assert n_convs == seed_convs == 132
    if detail:  # one node per op, as optnet draws them (its graph has no Identity either)
        assert len(parse_dot(ours)[0]) == len(parse_dot(seed_dot)[0]) == 470


def test_comparison_catches_transposed_kernels(seed_dot):
    """The classic Torch7 mistake: kW and kH read the wrong way round in one Inception-B block."""
    with torch.device("meta"):
        wrong = InceptionResNetV2()
        cfg = wrong.cfg
        wrong.blocks_b[3].branch1[1] = ConvBN(cfg, 128, 160, (1, 7), padding=(0, 3))
        wrong.blocks_b[3].branch1[2] = ConvBN(cfg, 160, 192, (7, 1), padding=(3, 0))
    problems, _ = mismatches(to_dot(model_figure(wrong)), seed_dot)
    assert len(problems) == 2, problems
    assert problems[0].startswith("segment 15:")  # stem 0-5, A 6-10, Reduction-A 11, B 12-21
    assert problems[1].startswith("conv multisets differ")


def test_comparison_catches_convs_in_the_wrong_order(seed_dot):
    """Same convolutions, same sizes, only the 7x1 and 1x7 of the stem swapped: the per-path
    sequences must see it although the multiset of convolutions is unchanged."""
    with torch.device("meta"):
        wrong = InceptionResNetV2()
    branch = wrong.stem.mixed_4a.branch1
    branch[1], branch[2] = branch[2], branch[1]
    problems, _ = mismatches(to_dot(model_figure(wrong)), seed_dot)
    assert len(problems) == 1 and problems[0].startswith("segment 4:"), problems


def test_comparison_catches_a_wrong_size(seed_dot, full_model):
    ours = to_dot(model_figure(full_model)).replace(
        "Size: {1, 96, 71, 71}", "Size: {1, 96, 72, 72}", 1
    )
    problems, _ = mismatches(ours, seed_dot)
    assert any("(64, 96, 3, 3, 1, 1, 0, 0, 96, 72, 72)" in p for p in problems), problems


def test_branches_and_blocks_are_visible(full_model):
    fig = model_figure(full_model)
    dot = to_dot(fig)
    clusters = re.findall(r'subgraph "(cluster_\w+)"', dot)
    expected = (
        ["cluster_stem"]
        + [f"cluster_stem_mixed_{k}" for k in ("3a", "4a", "5a")]
        + [f"cluster_blocks_a_{i}" for i in range(5)]
        + ["cluster_reduction_a"]
        + [f"cluster_blocks_b_{i}" for i in range(10)]
        + ["cluster_reduction_b"]
        + [f"cluster_blocks_c_{i}" for i in range(5)]
    )
    assert clusters == expected
    fan_in = Counter(b for _, b in fig.edges)
    fan_out = Counter(a for a, _ in fig.edges)
    merges = {n.id: fan_in[n.id] for n in fig.nodes if n.kind in ("cat", "add")}
    # stem 2, 2, 2; 5 x A (3 branches, skip); Reduction-A 3; 10 x B; Reduction-B 4; 5 x C
    assert sorted(Counter(merges.values()).items()) == [(2, 3 + 20 + 10 + 5), (3, 5 + 1), (4, 1)]
    assert max(fan_out.values()) == 4  # a residual block's input feeds 3 branches and the skip
    assert sum(n.kind == "Conv2d" for n in fig.nodes) == 132
    assert "Conv2d(128 -> 160, 1x7, 1,1, 0,3) without bias" in dot  # kW x kH, as Torch prints


def test_tiny_checkpoint_figure(bundled, tmp_path):
    out = tmp_path / "tiny.dot"
    result = CliRunner().invoke(main, ["--weights", str(bundled / "irv2_tiny.t7"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "irv2_tiny.t7, width/8" in text
    assert "Conv2d(3 -> 4, 3x3, 2,2) without bias" in text
    assert "Size: {1, 256, 8, 8}" in text  # 2048 / 8 channels at the end of the features
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.dot"]


def test_the_figure_is_laid_out_as_one_straight_column(bundled, tmp_path):
    """Each block's residual shortcut is weighted 0 (it pulled every block sideways: the tiny
    figure was 1973 px wide, most of each row empty), and the title is wrapped to a block's
    width. With Graphviz installed, the PNG is measured: narrow, and each row's ink spans
    a good part of it."""
    from evaluate.figure.draw import TITLE_WIDTH

    out = tmp_path / "tiny.png" if find_dot() else tmp_path / "tiny.dot"
    result = CliRunner().invoke(main, ["--weights", str(bundled / "irv2_tiny.t7"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "tiny.dot").read_text()
    shortcuts = re.findall(r'^  "(\w+)" -> "(add\w*)" \[weight=0\];$', text, re.M)
    print(len(shortcuts), shortcuts[:3])
    assert len(shortcuts) == text.count('label="add\\n') == 20  # 5 A + 10 B + 5 C blocks
    assert all("mul" not in source for source, _ in shortcuts)
    title = re.search(r'label="([^"]*)"\];', text).group(1).split("\\n")
    assert max(len(line) for line in title) <= TITLE_WIDTH and len(title) >= 3
    if out.suffix == ".png":
        import numpy as np
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None
        ink = np.asarray(Image.open(out).convert("L")) < 250
        spans = [np.ptp(np.flatnonzero(row)) + 1 for row in ink[::7] if row.any()]
        print(ink.shape, f"mean inked span {np.mean(spans) / ink.shape[1]:.2f} of the width")
        assert ink.shape[1] <= 1400 and np.mean(spans) / ink.shape[1] >= 0.4


def test_missing_graphviz_writes_dot_and_says_how_to_install(tmp_path):
    out = tmp_path / "fig.svg"
    result = CliRunner().invoke(
        main, ["--width-divisor", "8", "-o", str(out)], env={"PATH": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert "apt-get install graphviz" in result.stderr and "not rendered" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.dot"]


@pytest.mark.parametrize(
    "args, says",
    [
        (["-o", "{d}/fig.jpg"], "--output writes .dot, .svg, .png, .pdf"),
        (["--width-divisor", "32", "-o", "{d}/fig.dot"], "--width-divisor 32"),
        (["--input-size", "64", "-o", "{d}/fig.dot"], "cannot take a 64x64 input"),
        (["--weights", "{d}/none.pt", "-o", "{d}/fig.dot"], "no such file"),
        (["--weights", "{d}/none.pt", "--num-classes", "10", "-o", "{d}/fig.dot"], "--num-classes"),
        (["-o", "{d}/missing/fig.svg"], "does not exist"),
    ],
)
def test_user_errors_are_one_line_and_leave_no_file(tmp_path, args, says):
    result = CliRunner().invoke(main, [a.format(d=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(
    find_dot() is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_render(tmp_path, suffix, magic):
    out = tmp_path / f"fig{suffix}"
    result = CliRunner().invoke(main, ["--width-divisor", "8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)
    assert (tmp_path / "fig.dot").is_file()
    if suffix == ".svg":
        assert "cluster_blocks_b_9" in out.read_text()


def test_seed_parser_reads_the_whole_file(seed_dot):
    nodes, edges = parse_dot(seed_dot)
    assert (len(nodes), len(edges)) == (470, 522)


def test_an_existing_figure_is_refused_without_force(tmp_path):
    """The .dot written beside -o counts too: neither is replaced unless --force is given."""
    out = tmp_path / "fig.dot"
    out.write_text("my own graph")
    args = ["--width-divisor", "8", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    print(result.stderr)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert str(out) in result.stderr and "--force" in result.stderr
    assert out.read_text() == "my own graph"
    svg = tmp_path / "fig.svg"  # its .dot is the file above
    result = CliRunner().invoke(main, ["--width-divisor", "8", "-o", str(svg)])
    assert result.exit_code == 2 and str(out) in result.stderr and not svg.exists()
    result = CliRunner().invoke(main, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert "digraph" in out.read_text()


def test_a_figure_not_rendered_for_want_of_graphviz_is_rendered_by_the_same_command(
    tmp_path, monkeypatch
):
    """The .dot left by a run without Graphviz is this tool's own: once `dot` is there, the
    same command renders without --force (a user's own .dot is still refused: above)."""
    out = tmp_path / "fig.svg"
    args = ["--width-divisor", "8", "-o", str(out)]
    result = CliRunner().invoke(main, args, env={"PATH": str(tmp_path)})
    assert result.exit_code == 1 and (tmp_path / "fig.dot").is_file()

    def render(dot_file, output, dot, force=False):  # noqa: ANN001, ANN202 - Graphviz stand-in
        output.write_text(dot_file.read_text())
        return output

    monkeypatch.setattr(draw, "find_dot", lambda: "dot")
    monkeypatch.setattr(draw, "render", render)
    result = CliRunner().invoke(main, args)
    print(result.output)
    assert result.exit_code == 0 and out.read_text().startswith("digraph")


@pytest.mark.parametrize("size", [20, 100])
def test_a_small_input_size_without_weights_is_one_line(tmp_path, size):
    """Without --weights the architecture is drawn as a loaded model is (eval mode), so a
    size too small for it gets the one line it gets with --weights (it was a BatchNorm
    ValueError traceback in training mode)."""
    result = CliRunner().invoke(main, ["--input-size", str(size), "-o", str(tmp_path / "s.dot")])
    print(result.output)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"cannot take a {size}x{size} input" in result.stderr
    assert list(tmp_path.iterdir()) == []
