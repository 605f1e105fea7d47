"""Mapped IRv2 weights as .safetensors: the same tensors and metadata as the .pt, bit for bit,
readable by safetensors alone, loaded by load_converted/load_model without any unpickling."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap

import pytest
import torch
from cli_invoke import run
from nopickle import NoPickle, forbid_pickle
from t7compare import assert_close, tensor

from converter import load_converted, load_model
from converter.errors import UserError
from converter.torch7.reader import load_t7


@pytest.fixture(scope="module")
def tiny_files(bundled, tmp_path_factory):
    """The tiny IRv2 written by t7convert as .pt and as .safetensors."""
    d = tmp_path_factory.mktemp("mapped")
    for name in ("tiny.pt", "tiny.safetensors"):
        result = run(bundled / "irv2_tiny.t7", d / name)
        assert result.exit_code == 0, result.output
    return d / "tiny.pt", d / "tiny.safetensors"


def test_tensors_and_metadata_are_bit_identical_to_the_pt(tiny_files):
    pt, st = tiny_files
    blob = torch.load(pt, weights_only=True)
    from converter.outputs import mapped

    state, meta = mapped.load(st)
    assert meta == blob["meta"]
    assert sorted(state) == sorted(blob["state_dict"])  # safetensors keeps names sorted
    for key, want in blob["state_dict"].items():
        got = state[key]
        assert got.dtype == want.dtype and got.shape == want.shape, key
        assert torch.equal(got.view(-1).view(torch.uint8), want.reshape(-1).view(torch.uint8)), key


SAFETENSORS_ONLY = textwrap.dedent(
    """
    import json, sys
    sys.modules["converter"] = None  # any import of this project would now fail
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    state = load_file(sys.argv[1])
    with safe_open(sys.argv[1], framework="pt") as f:
        meta = json.loads(f.metadata()["meta_json"])
    torch.save({"state_dict": state, "meta": meta}, sys.argv[2])
    """
)


def test_loads_with_safetensors_alone(tiny_files, tmp_path):
    pt, st = tiny_files
    subprocess.run(
        [sys.executable, "-I", "-c", SAFETENSORS_ONLY, st, tmp_path / "out.pt"],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    got, want = torch.load(tmp_path / "out.pt"), torch.load(pt, weights_only=True)
    assert got["meta"] == want["meta"] and got["meta"]["arch"] == "inception_resnet_v2"
    assert all(torch.equal(got["state_dict"][k], v) for k, v in want["state_dict"].items())


def test_evaluation_on_safetensors_equals_pt_and_torch7(tiny_files, bundled):
    pt, st = tiny_files
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    x = tensor(ref["input"])
    with torch.no_grad():
        from_pt, from_st = load_converted(pt)(x), load_model(st)(x)
    assert torch.equal(from_st, from_pt)
    assert_close(from_st, tensor(ref["output"]), "tiny irv2 from .safetensors vs Torch7")


def test_loading_never_unpickles(tiny_files, monkeypatch):
    pt, st = tiny_files
    forbid_pickle(monkeypatch)
    for weights_only in (True, False):  # the patch works: either torch.load of the .pt fails
        with pytest.raises(NoPickle):
            torch.load(pt, weights_only=weights_only)
    model = load_converted(st)
    assert model.cfg.width_divisor == 8


def test_output_is_readable_by_others_and_leaves_no_temporary(bundled, tmp_path):
    out = tmp_path / "m.safetensors"
    assert run(bundled / "irv2_tiny.t7", out, "-q").exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert out.stat().st_mode & stat.S_IRGRP  # not mkstemp's 0600


def test_format_must_agree_with_the_suffix(bundled, tmp_path):
    result = run(bundled / "irv2_tiny.t7", tmp_path / "m.pt", "--format", "safetensors")
    assert result.exit_code == 2 and "contradicts the suffix '.pt'" in result.output
    result = run(bundled / "irv2_tiny.t7", tmp_path / "m.safetensors", "--format", "h5")
    assert result.exit_code == 2 and "contradicts the suffix '.safetensors'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_generic_artifact_is_pointed_to_load_translated(fixtures, tmp_path):
    from converter.outputs.translated import save_translated

    out = tmp_path / "g.safetensors"
    save_translated(load_t7(fixtures / "zoo" / "conv_bias.t7")["module"], out, False, "c.t7")
    with pytest.raises(UserError, match="load_translated") as err:
        load_converted(out)
    assert "\n" not in str(err.value)


def test_a_foreign_or_broken_safetensors_is_one_line(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"), metadata={"a": "b"})
    (tmp_path / "cut.safetensors").write_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{")
    for name, says in (("other", "not IRv2 weights"), ("cut", "not a .safetensors file")):
        with pytest.raises(UserError, match=says) as err:
            load_model(tmp_path / f"{name}.safetensors")
        assert "\n" not in str(err.value)


def test_header_metadata_is_the_pt_meta_as_json(tiny_files):
    from safetensors import safe_open

    pt, st = tiny_files
    with safe_open(str(st), framework="pt") as f:
        header = f.metadata()
    assert header["format"] == "irv2-torch7.mapped"
    assert json.loads(header["meta_json"]) == torch.load(pt, weights_only=True)["meta"]


def test_irv2_eval_on_safetensors_equals_eval_on_pt(tiny_files, photos, tmp_path):
    from evaltree import class_tree
    from evaltree import run as irv2_eval

    data = class_tree(tmp_path / "val", photos, [0, 1, 2, 3, 4, 5, 6])
    results = {}
    for weights in tiny_files:
        out = tmp_path / f"{weights.suffix[1:]}.json"
        code, stdout, stderr = irv2_eval(
            "--data", data, "--weights", weights, "--workers", 0, "--output", out
        )
        assert code == 0, stderr
        summary = json.loads(out.read_text())
        del summary["settings"]["weights"], summary["settings"]["model"]  # file names
        del summary["run"]  # timings
        results[weights.suffix] = summary
    assert results[".safetensors"] == results[".pt"]


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (lambda t: t.pop("fc.bias"), "no fc.bias tensor"),
        (lambda t: t.update(extra=torch.zeros(1)), "a extra tensor it has no place for"),
        (lambda t: t.update({"fc.bias": torch.zeros(3)}), r"fc.bias of size 3 where \(1000,\)"),
    ],
)
def test_tensors_that_do_not_fit_the_recorded_network_are_one_line(
    tiny_files, tmp_path, tamper, says
):
    """The mapped network is given the file's tensors directly (no load_state_dict): a key
    missing, one too many or a wrong shape is still refused, naming it."""
    from safetensors.torch import load_file, safe_open, save_file

    with safe_open(str(tiny_files[1]), "pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(tiny_files[1]))
    tamper(tensors)
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=metadata)
    with pytest.raises(UserError, match=f"do not fit its recorded network.*{says}") as err:
        load_model(tmp_path / "bad.safetensors")
    print(err.value)
    assert "\n" not in str(err.value)
