"""t7convert's .onnx as a user meets it: a Double (float64) Torch7 model is exported as float32
with a note (onnxruntime has no float64 convolution) and reproduces Torch7; a float64 export
onnxruntime cannot run is one line naming the output, not the temp file; each stage of a long
export is said as it starts."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from t7compare import assert_close, tensor

from converter.cli import main
from converter.torch7.reader import load_t7

pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install '.[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

MODEL = "models/mlhr_sshanu_model.net"  # a Double model: 2 convolutions, 3 Linear, 20x20 input


def test_a_double_model_is_exported_as_float32_with_a_note(realworld, tmp_path):
    out = tmp_path / "m.onnx"
    args = [str(realworld / MODEL), str(out), "--generic", "--input-shape", "3,20,20"]
    result = CliRunner().invoke(main, args)
    print(result.output)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("note: ") and "the .onnx is float32" in lines[0]
    stages = [line.split(";")[0] for line in lines[1:4]]
    assert stages[0].startswith("onnx: exporting") and stages[1].startswith("onnx: exported in")
    assert stages[2].startswith("onnx: running it in onnxruntime against PyTorch")
    ref = load_t7(realworld / "models" / "mlhr_sshanu_model_ref.t7")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = tensor(ref["input"]).float()
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert_close(torch.from_numpy(got), tensor(ref["output"]).float(), "float32 .onnx vs Torch7")


def test_a_float64_export_onnxruntime_cannot_run_is_one_line(realworld, tmp_path):
    out = tmp_path / "m.onnx"
    args = [str(realworld / MODEL), str(out), "--generic", "--input-shape", "3,20,20"]
    result = CliRunner().invoke(main, [*args, "--dtype", "float64", "-q"])
    print(result.output)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and result.stdout == ""
    assert lines[0].startswith(f"error: {out}: onnxruntime cannot run the exported model")
    assert "leave --dtype float64 out" in lines[0] and ".tmp" not in lines[0]
    assert list(tmp_path.iterdir()) == []
