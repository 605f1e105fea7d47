"""nngraph gModules: the zoo2 graphs against Torch7's outputs, python-torchfile's test-file
pattern and the pre-2015 input layout (built with converter.torch7.nngraph_writer), state_dict
paths, --inspect's graph view, and graphs nngraph could not have run.

Tolerance: t7compare (1e-5·max|ref| float32, 1e-10·max|ref| float64); every comparison
prints what it measured.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from t7compare import assert_close
from zoo2cases import check_case

from converter.cli import main
from converter.errors import T7FormatError
from converter.generic.translator import translate
from converter.torch7.nngraph_writer import GraphBuilder
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7
from converter.torch7.writer import save_t7

GRAPH_CASES = [
    "gmodule_skip", "gmodule_unet", "gmodule_two_outputs", "gmodule_lstm_cell",
    "gmodule_in_sequential",
]  # fmt: skip


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_zoo2_graph_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


def test_graph_state_dict_keys_are_torch7_paths(fixtures):
    _, module, _, _ = check_case(fixtures, "gmodule_in_sequential")
    # 2 is the gModule: 2.1 its Identity, 2.3 its ReLU, 2.5 its CAddTable hold no tensors
    assert list(module.state_dict()) == [
        "1.weight", "1.bias", "2.2.weight", "2.2.bias", "2.4.weight", "2.4.bias",
        "5.weight", "5.bias",
    ]  # fmt: skip


def test_two_output_graph_returns_a_list_in_output_order(fixtures):
    _, _, _, got = check_case(fixtures, "gmodule_two_outputs")
    assert isinstance(got, list) and [tuple(t.shape) for t in got] == [(2, 4), (2, 3)]


# --- graphs built as nngraph builds them ----------------------------------------------------


def _module(cls: str, **fields) -> T7Object:
    empty = np.zeros(0)
    return T7Object(cls, 1, {"output": empty, "gradInput": empty, "train": False, **fields})


def _linear(rng: np.random.Generator, n_in: int, n_out: int) -> T7Object:
    return _module("nn.Linear", weight=rng.normal(size=(n_out, n_in)), bias=rng.normal(size=n_out))


def torchfile_pattern(rng: np.random.Generator) -> T7Object:
    """python-torchfile's gmodule_with_linear_identity.t7: two nn.Identity inputs, a
    Linear(1, 2) on the second, CAddTable of the first and the Linear (DoubleTensors)."""
    g = GraphBuilder()
    x1, x2 = g.node(_module("nn.Identity")), g.node(_module("nn.Identity"))
    y = g.node(_module("nn.CAddTable"), [x1, g.node(_linear(rng, 1, 2), [x2])])
    return g.gmodule([x1, x2], [y])


def test_torchfile_nngraph_pattern_translates(tmp_path):
    rng = np.random.default_rng(0)
    save_t7(torchfile_pattern(rng), tmp_path / "gmodule_with_linear_identity.t7")
    tree = load_t7(tmp_path / "gmodule_with_linear_identity.t7")
    kinds = [n["data"].get("module") for n in tree["forwardnodes"]]
    # the order torchfile's README prints for its file
    assert [k.class_name if k else None for k in kinds] == [
        None, None, None, "nn.Identity", None, "nn.Identity", "nn.Linear", "nn.CAddTable", None,
    ]  # fmt: skip
    module = translate(tmp_path / "gmodule_with_linear_identity.t7")
    x1, x2 = torch.from_numpy(rng.normal(size=(3, 2))), torch.from_numpy(rng.normal(size=(3, 1)))
    weight, bias = (torch.from_numpy(tree["modules"][2][k].numpy()) for k in ("weight", "bias"))
    want = x1 + x2 @ weight.T + bias
    assert_close(module([x1, x2]), want, "torchfile pattern (float64)")
    assert module([x1, x2]).dtype == torch.float64  # a Double file stays double


def _as_pre_2015(gmodule: T7Object) -> T7Object:
    """The same graph as nngraph wrote it before the split rewrite: no split/select nodes, the
    input node lists the graph's input nodes in its own mapindex and hands input k to the k-th."""
    nodes = gmodule["forwardnodes"]
    innode = gmodule["innode"]["data"]
    selects = [n for n in nodes if "selectindex" in n["data"]]
    split = next(n for n in nodes if "nSplitOutputs" in n["data"])
    inputs = []
    for node in nodes:
        mapindex = node["data"]["mapindex"]
        if mapindex.get(1) in [s["data"] for s in selects]:
            mapindex.clear()
            mapindex[1] = innode
            inputs.append(node["data"])
    innode["mapindex"] = dict(enumerate(inputs, start=1))
    keep = [n for n in nodes if n is not split and n not in selects]
    return T7Object("nn.gModule", 1, {**gmodule.fields, "forwardnodes": keep, "nInputs": None})


def test_pre_2015_input_layout_dispatches_input_k_to_the_kth_input_node(tmp_path):
    rng = np.random.default_rng(1)
    save_t7(_as_pre_2015(torchfile_pattern(rng)), tmp_path / "old.t7")
    module = translate(tmp_path / "old.t7")
    x1, x2 = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64)
    lin = load_t7(tmp_path / "old.t7")["modules"][2]
    weight, bias = (torch.from_numpy(lin[k].numpy()) for k in ("weight", "bias"))
    assert_close(module([x1, x2]), x1 + x2 @ weight.T + bias, "pre-2015 layout")


def test_split_outputs_and_a_module_used_twice(tmp_path):
    """`node:split(2)` of a ConcatTable; one Linear object called on both parts (two nodes,
    twice in `modules`, as gModule:__init adds it): one translated module, shared."""
    rng = np.random.default_rng(2)
    g = GraphBuilder()
    x = g.node(_module("nn.Identity"))
    branches = _module("nn.ConcatTable", modules=[_module("nn.Tanh"), _module("nn.Sigmoid")])
    a, b = g.split(g.node(branches, [x]), 2)
    shared = _linear(rng, 4, 4)
    out = g.node(_module("nn.CSubTable"), [g.node(shared, [b]), g.node(shared, [a])])
    save_t7(g.gmodule([x], [out]), tmp_path / "split.t7")
    module = translate(tmp_path / "split.t7")
    assert module.get_submodule("3") is module.get_submodule("4")
    x = torch.randn(2, 4, dtype=torch.float64)
    w, bias = torch.from_numpy(shared["weight"]), torch.from_numpy(shared["bias"])
    want = (torch.sigmoid(x) @ w.T + bias) - (torch.tanh(x) @ w.T + bias)
    assert_close(module(x), want, "split + shared Linear")


def test_charrnn_checkpoint_table_gives_its_protos_rnn(tmp_path):
    """char-rnn's train.lua saves {protos = {rnn = gModule, criterion = ...}, opt, vocab, ...}."""
    rng = np.random.default_rng(4)
    rnn = torchfile_pattern(rng)
    checkpoint = {
        "protos": {"rnn": rnn, "criterion": _module("nn.ClassNLLCriterion")},
        "opt": {"rnn_size": 2.0}, "vocab": {"a": 1.0}, "val_loss": 1.5,
    }  # fmt: skip
    save_t7(checkpoint, tmp_path / "lm_lstm_epoch1.t7")
    module = translate(tmp_path / "lm_lstm_epoch1.t7")
    x1, x2 = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64)
    weight, bias = (torch.from_numpy(rnn["modules"][2][k]) for k in ("weight", "bias"))
    assert_close(module([x1, x2]), x1 + x2 @ weight.T + bias, "char-rnn protos.rnn")
    checkpoint["protos"]["other"] = torchfile_pattern(rng)
    save_t7(checkpoint, tmp_path / "two.t7")
    with pytest.raises(
        T7FormatError, match=r"2 nn modules: protos.other .*, protos.rnn .*--module"
    ):
        translate(tmp_path / "two.t7")
    chosen = translate(tmp_path / "two.t7", module="protos.rnn")
    assert_close(chosen([x1, x2]), x1 + x2 @ weight.T + bias, "char-rnn --module protos.rnn")


def test_graph_nngraph_could_not_run_is_one_line(tmp_path):
    gmodule = torchfile_pattern(np.random.default_rng(3))
    nodes = gmodule["forwardnodes"]
    broken = T7Object("nn.gModule", 1, {**gmodule.fields, "forwardnodes": nodes[:3] + nodes[4:]})
    save_t7(broken, tmp_path / "broken.t7")
    with pytest.raises(T7FormatError, match="not among its forwardnodes") as err:
        translate(tmp_path / "broken.t7")
    assert "\n" not in str(err.value)
    swapped = T7Object("nn.gModule", 1, {**gmodule.fields, "forwardnodes": nodes[::-1]})
    save_t7(swapped, tmp_path / "swapped.t7")
    with pytest.raises(T7FormatError, match="comes before its input"):
        translate(tmp_path / "swapped.t7")


def test_inspect_shows_the_graph(fixtures):
    result = CliRunner().invoke(main, ["--inspect", str(fixtures / "zoo2" / "gmodule_skip.t7")])
    print(result.output)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "nn.gModule (2 inputs, 1 output, 13 nodes) {" in lines
    assert "  [12] split(2) <- 13" in lines and "  [9] select 1 <- 12" in lines
    assert any(line.startswith("  [11] (2) nn.Linear(6 -> 6)") and line.endswith("<- 6")
               for line in lines)  # fmt: skip
    assert "  [2] output <- 1" in lines
