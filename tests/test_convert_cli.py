"""t7convert as a user runs it: outputs, metadata, checkpoint directories, bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch
from cli_invoke import run
from click.testing import CliRunner

from converter import load_converted, load_model


@pytest.fixture(scope="module")
def converted_pt(bundled, tmp_path_factory):
    out = tmp_path_factory.mktemp("pt") / "tiny.pt"
    result = run(bundled / "irv2_tiny.t7", out)
    assert result.exit_code == 0, result.output
    assert "converted" in result.output and "1000 classes" in result.output
    return out


def test_pt_is_a_plain_state_dict_with_metadata(converted_pt, bundled):
    blob = torch.load(converted_pt, weights_only=True)
    meta = blob["meta"]
    assert meta["arch"] == "inception_resnet_v2" and meta["config"]["width_divisor"] == 8
    assert meta["source_file"] == "irv2_tiny.t7"
    assert (
        meta["source_sha256"] == hashlib.sha256((bundled / "irv2_tiny.t7").read_bytes()).hexdigest()
    )
    assert meta["converter_version"]
    assert all(isinstance(v, torch.Tensor) for v in blob["state_dict"].values())


def test_load_converted_gives_the_eval_model(converted_pt, bundled):
    from converter.torch7.reader import load_t7

    model = load_converted(converted_pt)
    assert not model.training
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    with torch.no_grad():
        out = model(torch.from_numpy(ref["input"].numpy())).numpy()
    err = abs(out - ref["output"].numpy()).max()
    print(f"\n.pt round trip: max|diff| vs Torch7 = {err:.2e}")
    assert err < 1e-5 * abs(ref["output"].numpy()).max()


def test_h5_holds_the_same_tensors_and_metadata(converted_pt, bundled, tmp_path):
    out = tmp_path / "tiny.h5"
    result = run(bundled / "irv2_tiny.t7", out, "--format", "h5")
    assert result.exit_code == 0, result.output
    state = torch.load(converted_pt, weights_only=True)["state_dict"]
    with h5py.File(out, "r") as f:
        assert set(f.keys()) == set(state)
        assert json.loads(f.attrs["meta_json"])["arch"] == "inception_resnet_v2"
        assert f.attrs["source_file"] == "irv2_tiny.t7"
        key = "blocks_b.3.branch1.1.conv.weight"
        assert (f[key][()] == state[key].numpy()).all()
    model = load_model(out)
    assert sum(p.numel() for p in model.parameters()) == 727_176


def test_existing_output_is_not_overwritten_without_force(converted_pt, bundled):
    before = converted_pt.read_bytes()
    result = run(bundled / "irv2_tiny.t7", converted_pt)
    assert (
        result.exit_code == 2 and "already exists" in result.output and "--force" in result.output
    )
    assert converted_pt.read_bytes() == before
    assert run(bundled / "irv2_tiny.t7", converted_pt, "--force").exit_code == 0


def test_checkpoint_directory_reports_latest(fixtures, tmp_path):
    result = run(fixtures / "tiny" / "ckpt", tmp_path / "out.pt")
    assert result.exit_code == 0, result.output
    assert "latest.t7: epoch 1, model file model_1.t7\n" in result.output
    assert "optimizer" not in result.output  # a conversion does not need it
    result = run("--inspect", fixtures / "tiny" / "ckpt")  # describing the checkpoint does
    assert "optimizer file optimState_1.t7 (present)" in result.output
    assert torch.load(tmp_path / "out.pt", weights_only=True)["meta"]["source_epoch"] == 1


def _gzipped_checkpoint(fixtures, root):
    """tiny/ckpt with its model file gzipped (model_1.t7.gz) while latest.t7 names model_1.t7;
    optimState_1.t7 left out (the trainer then stops at the optimizer, after the model)."""
    import gzip

    ckpt = root / "ckpt"
    ckpt.mkdir()
    shutil.copy(fixtures / "tiny" / "ckpt" / "latest.t7", ckpt / "latest.t7")
    data = (fixtures / "tiny" / "ckpt" / "model_1.t7").read_bytes()
    (ckpt / "model_1.t7.gz").write_bytes(gzip.compress(data, compresslevel=1))
    return ckpt


def test_latest_naming_a_gzipped_model_reads_the_gz(fixtures, photos, tmp_path):
    """t7convert DIR and irv2-train --resume-t7 DIR read model_1.t7.gz and say so."""
    from evaluate.train.cli import main as train_main

    ckpt = _gzipped_checkpoint(fixtures, tmp_path)
    result = run(ckpt, tmp_path / "out.pt")
    print(result.output)
    assert result.exit_code == 0, result.output
    assert "model file model_1.t7.gz" in result.output
    assert "latest.t7 names model_1.t7: reading model_1.t7.gz" in result.output
    assert "optimizer" not in result.output  # conversion does not need it
    direct = torch.load(tmp_path / "out.pt", weights_only=True)["state_dict"]
    assert run(fixtures / "tiny" / "ckpt", tmp_path / "plain.pt").exit_code == 0
    plain = torch.load(tmp_path / "plain.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(direct[k], plain[k]) for k in plain)
    photo = photos[0]
    (tmp_path / "train" / "n01440764").mkdir(parents=True)  # irv2-train reads --data first
    shutil.copy(photo, tmp_path / "train" / "n01440764" / photo.name)
    args = ["--data", str(tmp_path), "--resume-t7", str(ckpt), "--save", str(tmp_path / "r")]
    result = CliRunner().invoke(train_main, args)
    print(result.output)
    assert result.exit_code == 2 and "reading model_1.t7.gz" in result.output
    assert "optimizer file optimState_1.t7 (missing)" in result.output
    (ckpt / "model_1.t7.gz").unlink()
    result = run(ckpt, tmp_path / "none.pt")
    assert result.exit_code == 2 and "names model file model_1.t7, which is not in" in result.output


def test_partial_checkpoint_directory_says_the_optimizer_is_missing(
    fixtures, irv2_full_t7, tmp_path
):
    """full/latest.t7 names optimState_full.t7, which is absent: a user's partial directory."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(fixtures / "full" / "latest.t7", ckpt / "latest.t7")
    (ckpt / "irv2_full.t7").symlink_to(irv2_full_t7)
    result = run("--inspect", ckpt)
    assert result.exit_code == 0, result.output
    assert "optimizer file optimState_full.t7 (missing)" in result.output
    assert (
        "cudnn.SpatialConvolution(3 -> 32, 3x3, 2,2) without bias  [weight 32x3x3x3]"
        in result.output
    )


def test_inspect_shows_the_tree_with_shapes(bundled):
    result = run("--inspect", bundled / "irv2_tiny.t7")
    assert result.exit_code == 0
    assert "nn.Linear(256 -> 1000)  [weight 1000x256, bias 1000]" in result.output
    assert "(25): nn.View(256)\n" in result.output  # as Lua prints it (View:__tostring__)
    assert result.output.count("cudnn.SpatialConvolution") == 132


def test_optimizer_state_reads(fixtures):
    from converter.torch7.checkpoint import read_optim_state

    state = read_optim_state(fixtures / "tiny" / "ckpt" / "optimState_1.t7")
    assert state["nesterov"] is True and state["evalCounter"] == 3
    assert state["dfdx"].shape == (727176,)


def _file(name: str, data: bytes):
    def make(d):
        (d / name).write_bytes(data)
        return d / name

    return make


LFS = b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n"


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: d / "nothing.t7", "no such file"),
        (_file("empty.t7", b""), "empty"),
        (_file("lfs.t7", LFS), "Git LFS"),
        (_file("pickle.t7", b"\x80\x02\x8a\x0al"), "torch.load"),
        (lambda d: d, "no latest.t7"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, make, words):
    source = make(tmp_path)
    out = tmp_path / "out" / "x.pt"
    out.parent.mkdir()
    result = run(source, out)
    assert result.exit_code == 2
    assert words in result.output and len(result.output.strip().splitlines()) == 1
    assert list(out.parent.iterdir()) == []


def test_truncated_checkpoint_leaves_no_partial_file(bundled, tmp_path):
    data = (bundled / "irv2_tiny.t7").read_bytes()
    (tmp_path / "cut.t7").write_bytes(data[: len(data) // 2])
    result = run(tmp_path / "cut.t7", tmp_path / "out.pt")
    assert result.exit_code == 2 and "truncated" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.t7"]


def test_wrong_suffix_is_refused(bundled, tmp_path):
    """The suffix is the format: --format cannot make a .bin that no loader would read."""
    for args in [(), ("--format", "pt")]:
        result = run(bundled / "irv2_tiny.t7", tmp_path / "out.bin", *args)
        assert result.exit_code == 2 and "OUTPUT writes .pt, .pth, .h5" in result.output
    assert list(tmp_path.iterdir()) == []


def test_format_contradicting_the_suffix_is_refused(bundled, tmp_path):
    """HDF5 bytes in x.pt would never load again: every loader picks the format by suffix."""
    result = run(bundled / "irv2_tiny.t7", tmp_path / "x.pt", "--format", "h5")
    assert result.exit_code == 2 and "contradicts the suffix '.pt'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_output_and_leaves_no_temporary(bundled, tmp_path, monkeypatch):
    """A write that dies half-way (disk full) changes nothing, even with --force."""
    out = tmp_path / "x.pt"
    out.write_bytes(b"previous result")

    def disk_full(obj, f):
        with open(f, "wb") as fh:
            fh.write(b"half")
        raise OSError(28, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", disk_full)
    result = run(bundled / "irv2_tiny.t7", out, "--force")
    assert result.exit_code == 2 and "No space left" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]
    assert out.read_bytes() == b"previous result"


@pytest.mark.parametrize("shape", ["3,-1,5", "3,0,4", "", "3,,4", "three"])
def test_bad_input_shape_is_one_line(bundled, tmp_path, shape):
    result = run(bundled / "irv2_tiny.t7", tmp_path / "g.pt2", "--generic", "--input-shape", shape)
    assert result.exit_code == 2 and "expected C,H,W" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_help_does_not_import_torch():
    code = "import sys; from converter.cli import main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --inspect refuses exactly the files that are not (complete) Torch7 files
REFUSED_BY_INSPECT = {
    "jbr97_deepmask_model.t7": "truncated file",
    "git_lfs_pointer_model.t7": "Git LFS pointer",
    "pytorch_legacy_pickle_named_model.t7": "torch.load",
}


def test_every_realworld_file_inspects_or_is_refused_in_one_line(realworld, tmp_path):
    """No traceback for any file people actually have; refusals say what the file is."""
    files = sorted(p for p in (realworld / "t7").rglob("*") if p.is_file())
    assert len(files) == 10
    for path in files:
        inspected = run("--inspect", path)
        converted = run(path, tmp_path / "out.pt")
        for result in (inspected, converted):
            assert result.exit_code in (0, 2), (path, result.output)
            assert not isinstance(result.exception, Exception) or isinstance(
                result.exception, SystemExit
            ), (path, result.exception)
        refusal = REFUSED_BY_INSPECT.get(path.name)
        if refusal is None:
            assert inspected.exit_code == 0 and inspected.output.strip(), path
        else:
            assert inspected.exit_code == 2 and refusal in inspected.output, path
            assert len(inspected.output.strip().splitlines()) == 1, path
        assert converted.exit_code == 2  # none of them is an Inception-ResNet-v2
        print(
            f"{path.name}: inspect exit {inspected.exit_code}; "
            f"convert: {converted.output.splitlines()[0][:110]}"
        )
    assert not (tmp_path / "out.pt").exists()


def test_verify_flag_cross_checks_the_mapping(bundled, tmp_path):
    result = run(bundled / "irv2_tiny.t7", tmp_path / "v.pt", "--verify")
    assert result.exit_code == 0, result.output
    assert "verify: mapped model vs generic translation, max |diff| = " in result.output


def test_generic_flag_writes_a_portable_program(bundled, tmp_path):
    from converter.torch7.reader import load_t7

    assert run(bundled / "irv2_tiny.t7", tmp_path / "g.pt2", "--generic").exit_code == 2
    result = run(
        bundled / "irv2_tiny.t7", tmp_path / "g.pt2", "--generic", "--input-shape", "3,299,299"
    )
    assert result.exit_code == 0, result.output
    program = torch.export.load(tmp_path / "g.pt2").module()
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    with torch.no_grad():
        out = program(torch.from_numpy(ref["input"].numpy())).numpy()
    assert abs(out - ref["output"].numpy()).max() < 1e-5 * abs(ref["output"].numpy()).max()


def test_output_that_is_a_directory_is_refused(bundled, tmp_path):
    result = run(bundled / "irv2_tiny.t7", tmp_path / "d.pt", "--force")
    assert result.exit_code == 0
    (tmp_path / "dir.pt").mkdir()
    result = run(bundled / "irv2_tiny.t7", tmp_path / "dir.pt", "--force")
    assert result.exit_code == 2 and "is a directory" in result.output


def test_mapping_problems_are_listed_under_one_line(bundled, tmp_path):
    from converter.torch7.reader import load_t7
    from converter.torch7.writer import save_t7

    model = load_t7(bundled / "irv2_tiny.t7")
    conv2 = model["modules"][0]["modules"][1]["modules"][0]
    conv2.fields["weight"] = np.ones((4, 4, 5, 5), dtype=np.float32)  # 5x5 where IRv2 has 3x3
    save_t7(model, tmp_path / "wrong.t7")
    result = run(tmp_path / "wrong.t7", tmp_path / "x.pt")
    lines = result.output.splitlines()
    assert result.exit_code == 2 and lines[0].startswith("error: the checkpoint does not fit")
    assert lines[1:] == [
        "  1.2.1 (cudnn.SpatialConvolution).weight -> stem.conv2.conv.weight: shape (4, 4, 5, 5) "
        "but the model expects (4, 4, 3, 3)"
    ]


def test_other_architectures_are_pointed_to_generic(realworld, tmp_path):
    result = run(realworld / "t7" / "henlisp_hw1_model.t7", tmp_path / "x.pt")
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1
    assert "not an Inception-ResNet-v2" in result.output and "--generic" in result.output


def test_generic_output_must_be_pt2_and_pt2_is_not_weights(bundled, tmp_path):
    from converter import load_model
    from converter.errors import UserError

    result = run(
        bundled / "irv2_tiny.t7", tmp_path / "g.pt", "--generic", "--input-shape", "3,299,299"
    )
    assert result.exit_code == 2 and ".pt2" in result.output
    (tmp_path / "g.pt2").write_bytes(b"PK\x03\x04")
    with pytest.raises(UserError, match="torch.export program"):
        load_model(tmp_path / "g.pt2")
