"""ONNX output: the tiny IRv2 (mapped) and ResNet-18 (generic) run by onnxruntime match Torch7's
references within 1e-5 x max|ref|; Torch7's pooling edge cases (ceil mode, count-exclude-pad)
match too; the batch axis stays dynamic; a file that computes something else is not written."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from t7compare import assert_close, tensor

from converter.cli import main
from converter.errors import UserError
from converter.generic.translator import translate
from converter.outputs.onnx_export import save_onnx
from converter.torch7.reader import load_t7

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install '.[onnx]')")
ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (pip install '.[onnx]')"
)

# Torch7's pooling rules that ONNX opsets have got wrong: ceil mode's extra window,
# count-exclude-pad divisors, padded ceil windows (zoo/, MANIFEST §4.5; zoo2 cudnn's ceil)
POOLING = [
    "zoo/maxpool_ceil", "zoo/maxpool_ceil_pad", "zoo/maxpool_floor_odd",
    "zoo/avgpool_ceil_exclude", "zoo/avgpool_ceil_include", "zoo/avgpool_pad_exclude",
    "zoo/avgpool_pad_include", "zoo/cudnn_avgpool_8x8", "zoo2/cudnn_maxpool_ceil",
]  # fmt: skip


def run_onnx(path, x: torch.Tensor) -> torch.Tensor:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(out)


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    print(result.output)
    return result.output


def test_tiny_irv2_mapped_onnx_matches_torch7(bundled, tmp_path):
    out = tmp_path / "irv2.onnx"
    said = cli(bundled / "irv2_tiny.t7", out)
    assert "dynamic batch; onnxruntime vs PyTorch on a random batch of 3: max|Δ| = " in said
    onnx.checker.check_model(str(out))
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    x = tensor(ref["input"])
    assert_close(run_onnx(out, x), tensor(ref["output"]), "tiny irv2 via onnxruntime")
    assert_close(run_onnx(out, x[:1]), tensor(ref["output"])[:1], "tiny irv2, batch 1")
    assert [p.name for p in tmp_path.iterdir()] == ["irv2.onnx"]  # weights inside, no temporary


def test_resnet18_generic_onnx_matches_torch7(fixtures, resnet18_t7, tmp_path):
    out = tmp_path / "r18.onnx"
    cli(resnet18_t7, out, "--generic", "--input-shape", "3,224,224")
    ref = load_t7(fixtures / "resnet18" / "resnet18_ref.t7")
    assert_close(run_onnx(out, tensor(ref["input"])), tensor(ref["output"]), "resnet18 via ort")
    dim = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param and not dim.dim_value  # the batch axis is symbolic


@pytest.mark.parametrize("name", POOLING)
def test_pooling_edge_cases_match_torch7(fixtures, tmp_path, name):
    case = load_t7(fixtures / f"{name}.t7")
    x, want = tensor(case["input"]), tensor(case["output"])
    out = tmp_path / "p.onnx"
    check = save_onnx(translate(case["module"]), out, torch.cat([x, x]), force=False)
    print(f"{name}: {check.describe()}")
    assert check.max_delta is not None and check.dynamic_batch
    assert_close(run_onnx(out, x), want, f"{name} via onnxruntime")


@pytest.mark.parametrize(
    "name, hint", [("conv_bias", ""), ("avgpool_ceil_exclude", r" \(its ceil-mode pooling")]
)
def test_a_file_that_computes_otherwise_is_not_written(fixtures, tmp_path, monkeypatch, name, hint):
    """Fault injected into onnxruntime's results: the check must catch it and write nothing."""
    real_run = ort.InferenceSession.run

    def off_by_a_little(self, names, feed, *args):
        return [y + np.float32(1e-3) * np.abs(y).max() for y in real_run(self, names, feed, *args)]

    monkeypatch.setattr(ort.InferenceSession, "run", off_by_a_little)
    case = load_t7(fixtures / "zoo" / f"{name}.t7")
    x = tensor(case["input"])
    with pytest.raises(UserError, match=f"computes something else.*{hint}.*; not written") as err:
        save_onnx(translate(case["module"]), tmp_path / "c.onnx", torch.cat([x, x]), force=False)
    assert "\n" not in str(err.value) and ("ceil-mode" in str(err.value)) == bool(hint)
    assert list(tmp_path.iterdir()) == []


def test_without_onnxruntime_the_file_is_checked_but_not_run(fixtures, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    case = load_t7(fixtures / "zoo" / "relu.t7")
    check = save_onnx(translate(case["module"]), tmp_path / "r.onnx", tensor(case["input"]), False)
    assert check.max_delta is None and "onnxruntime not installed" in check.describe()
    onnx.checker.check_model(str(tmp_path / "r.onnx"))


def test_without_the_onnx_extra_the_error_says_what_to_install(fixtures, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    case = load_t7(fixtures / "zoo" / "relu.t7")
    with pytest.raises(UserError, match=r"pip install 'irv2-torch7\[onnx\]'"):
        save_onnx(translate(case["module"]), tmp_path / "r.onnx", tensor(case["input"]), False)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_onnx_is_one_line(tmp_path):
    """load_model runs an .onnx through onnxruntime (converter.load); a damaged one is refused."""
    from converter import load_model

    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    with pytest.raises(UserError, match="not an ONNX model onnxruntime can run") as err:
        load_model(tmp_path / "m.onnx")
    assert "\n" not in str(err.value)
