"""Files whose root is not a model (issue 19 items 4, 7, 8): a Lua list of layers, a GAN's
{G, D} table, a script's own object holding a model in a field (word2vec's `w2v`); --module
PATH in t7convert, --inspect and the Python API; --inspect counting the tensors a custom
class keeps in fields, and printing every geometry field; files of 2011 holding several
top-level objects.

The modules are Torch7's own (zoo cases), arranged here as such files hold them, written with
the project's Torch7 writer; outputs are compared with Torch7's (1e-5·max|ref|).
"""

from __future__ import annotations

import numpy as np
import pytest
from cli_invoke import run
from t7build import zoo
from t7compare import tensor
from zoo2cases import compare, forward

from converter import translate
from converter.errors import T7FormatError
from converter.torch7.objects import T7Object
from converter.torch7.writer import save_t7


@pytest.fixture
def gan(fixtures, tmp_path):
    """A GAN checkpoint's {G = ..., D = ...}, with the generator's Torch7 case."""
    g, d = zoo(fixtures, "linear"), zoo(fixtures, "relu")
    save_t7({"G": g["module"], "D": d["module"], "epoch": 3}, tmp_path / "gan.t7")
    return tmp_path / "gan.t7", g


def test_a_table_of_several_models_lists_them_for_module(gan):
    path, g = gan
    with pytest.raises(T7FormatError) as err:
        translate(path)
    message = str(err.value)
    print(message)
    assert "2 nn modules: D (nn.ReLU), G (nn.Linear); choose one with --module PATH" in message
    assert "model_N.t7" not in message and "\n" not in message  # no fb.resnet.torch advice
    compare(forward(translate(path, module="G"), tensor(g["input"])), tensor(g["output"]), "G")


def test_a_lua_list_of_layers_is_listed_and_one_is_picked(fixtures, tmp_path):
    relu, linear = zoo(fixtures, "relu"), zoo(fixtures, "linear")
    save_t7([relu["module"], linear["module"]], tmp_path / "layers.t7")
    with pytest.raises(T7FormatError, match=r"a Lua list of 2 entries holding 2 nn modules: "
                       r"1 \(nn.ReLU\), 2 \(nn.Linear\); choose one with --module"):  # fmt: skip
        translate(tmp_path / "layers.t7")
    module = translate(tmp_path / "layers.t7", module="2")
    compare(forward(module, tensor(linear["input"])), tensor(linear["output"]), "list entry 2")


def test_a_script_object_holding_one_model_gives_it(fixtures, tmp_path):
    """word2vec's Word2Vec keeps its network in the field `w2v` beside plain tables."""
    linear = zoo(fixtures, "linear")
    w2v = T7Object("Word2Vec", 0, {"w2v": linear["module"], "vocab": {"a": 1}, "dim": 7})
    save_t7(w2v, tmp_path / "w2v.t7")
    compare(forward(translate(tmp_path / "w2v.t7"), tensor(linear["input"])),
            tensor(linear["output"]), "Word2Vec.w2v")  # fmt: skip
    result = run("--inspect", tmp_path / "w2v.t7")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "Word2Vec object (not an nn module) with 3 entries"
    assert (
        "the model in it, at w2v:" in lines and "nn.Linear(7 -> 5)  [weight 5x7, bias 5]" in lines
    )


def test_cli_module_option(gan, tmp_path):
    path, _ = gan
    listed = run(path, tmp_path / "all.safetensors", "--generic")
    assert listed.exit_code == 2 and "--module PATH" in listed.output
    assert len(listed.output.strip().splitlines()) == 1
    picked = run(path, tmp_path / "g.safetensors", "--generic", "--module", "G")
    assert picked.exit_code == 0, picked.output
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".safetensors"] == ["g.safetensors"]
    wrong = run(path, tmp_path / "x.safetensors", "--generic", "--module", "G.weight.3")
    assert wrong.exit_code == 2 and not (tmp_path / "x.safetensors").exists()
    assert wrong.output.count("\n") == 1 and "--module G.weight.3" in wrong.output
    missing = run(path, tmp_path / "x.safetensors", "--generic", "--module", "H")
    assert "nothing at 'H' in (root); the file holds D (nn.ReLU), G (nn.Linear)" in missing.output
    assert run(path, tmp_path / "x.pt", "--module", "G").exit_code == 2  # needs --generic


def test_inspect_lists_the_modules_and_shows_the_one_picked(gan):
    path, _ = gan
    listing = run("--inspect", path)
    assert listing.exit_code == 0
    assert "2 nn modules in it; choose one with --module PATH:" in listing.output
    assert "  G: nn.Linear(7 -> 5)" in listing.output.splitlines()
    picked = run("--inspect", path, "--module", "D")
    assert picked.exit_code == 0 and picked.output.splitlines()[1] == "nn.ReLU"


def test_inspect_counts_the_tensors_a_custom_class_keeps_in_fields(realworld):
    """torch-rnn's LanguageModel keeps its layers in `net`, not in `modules`."""
    result = run("--inspect", realworld / "t7" / "torchrnn_checkpoint_1000.t7")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "-- 7 parameter/statistics tensors, 246,612 values" in lines
    assert "  (net): nn.Sequential {" in lines
    assert "    (2): nn.LSTM  [weight 192x512, bias 512]" in lines


@pytest.mark.parametrize(
    "name, label",
    [
        ("maxpool_ceil_pad", "nn.SpatialMaxPooling(3x3, 2,2, 1,1):ceil()"),
        ("avgpool_pad_exclude", "nn.SpatialAveragePooling(3x3, 2,2, 1,1) count_include_pad=false"),
    ],
)
def test_inspect_shows_every_pooling_geometry_field(fixtures, tmp_path, name, label):
    save_t7(zoo(fixtures, name)["module"], tmp_path / "pool.t7")
    result = run("--inspect", tmp_path / "pool.t7")
    assert result.output.splitlines()[1] == label


def test_a_2011_file_of_several_objects_is_one_line(fixtures, tmp_path):
    """torch5-era files: an empty tensor (what Torch7's torch.load returns), then more objects
    and class-written trailers."""
    save_t7(np.zeros(0, np.float32), tmp_path / "head.t7")
    save_t7(zoo(fixtures, "linear")["module"], tmp_path / "rest.t7")
    old = tmp_path / "old.t7"
    old.write_bytes((tmp_path / "head.t7").read_bytes() + (tmp_path / "rest.t7").read_bytes())
    for args in (
        ["--inspect", old],
        [old, tmp_path / "o.safetensors", "--generic"],
        [old, tmp_path / "o.pt"],
    ):
        result = run(*args)
        print(result.output)
        assert result.exit_code == 2 and result.output.count("\n") == 1
        assert "several top-level objects" in result.output and "2011" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.t7", "old.t7", "rest.t7"]
