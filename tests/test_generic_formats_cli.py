"""t7convert --generic's formats by suffix: .safetensors (no --input-shape needed), .pt2 (with
the unpickling warning), .onnx; --format must agree; --input-shape only where it is used."""

from __future__ import annotations

import pytest
import torch
from cli_invoke import run

from converter.outputs.export import UnpicklingFormatWarning, save_generic


def test_safetensors_needs_no_input_shape_and_pt2_warns(bundled, tmp_path):
    safe = run(bundled / "irv2_tiny.t7", tmp_path / "g.safetensors", "--generic")
    assert safe.exit_code == 0 and safe.stderr == ""
    pt2 = run(
        bundled / "irv2_tiny.t7", tmp_path / "g.pt2", "--generic", "--input-shape", "3,299,299"
    )
    assert pt2.exit_code == 0, pt2.output
    assert pt2.stderr.startswith("warning: ") and "unpickles" in pt2.stderr
    assert len(pt2.stderr.strip().splitlines()) == 1


def test_save_generic_warns_library_callers_too(fixtures, tmp_path):
    from converter.generic.translator import translate
    from converter.torch7.reader import load_t7

    case = load_t7(fixtures / "zoo" / "relu.t7")
    with pytest.warns(UnpicklingFormatWarning, match="torch.export.load, which unpickles"):
        save_generic(translate(case["module"]), tmp_path / "r.pt2", torch.rand(2, 3))


@pytest.mark.parametrize("suffix", ["pt2", "onnx"])
def test_traced_formats_need_an_input_shape(bundled, tmp_path, suffix):
    result = run(bundled / "irv2_tiny.t7", tmp_path / f"g.{suffix}", "--generic")
    assert result.exit_code == 2 and f"--input-shape C,H,W for the .{suffix}" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, says",
    [
        (
            ("g.safetensors", "--generic", "--format", "pt2"),
            "contradicts the suffix '.safetensors'",
        ),
        (("g.h5", "--generic"), "--generic writes .safetensors, .onnx, .pt2, .py, not .h5"),
        (("g.pt2",), "the IRv2 mapping (without --generic) writes"),
        (("m.pt", "--input-shape", "3,299,299"), "--input-shape applies to .onnx outputs"),
    ],
)
def test_wrong_combinations_are_one_line(bundled, tmp_path, args, says):
    result = run(bundled / "irv2_tiny.t7", tmp_path / args[0], *args[1:])
    assert result.exit_code == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
