"""t7convert --input-shape for networks that do not take one float image: token ids
(`6:long`, torch-rnn's language model) reproduce Torch7 through the exported program, and a
graph that takes a table of inputs says how many when given too few, in one line."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from t7compare import assert_close, tensor

from converter.cli import main
from converter.torch7.reader import load_t7


def test_token_ids_export_a_language_model_that_reproduces_torch7(realworld, tmp_path):
    out = tmp_path / "lm.pt2"
    args = [realworld / "t7" / "torchrnn_checkpoint_1000.t7", out, "--generic"]
    args += ["--input-shape", "6:long", "-q"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    print(result.output)
    assert result.exit_code == 0 and result.output == ""
    ref = load_t7(realworld / "models" / "torchrnn_checkpoint_1000_ref.t7")
    x = tensor(ref["input"])
    assert x.dtype == torch.long
    program = torch.export.load(out).module()
    with torch.no_grad():
        assert_close(program(x), tensor(ref["output"]), "exported torch-rnn vs Torch7")


@pytest.mark.parametrize(
    "shapes, says",
    [
        (
            ["100"],
            "takes 11 inputs (a table), and 1 --input-shape was given; give --input-shape 11",
        ),
        (["6:bogus"], "types: float, long, int"),
    ],
)
def test_wrong_input_shapes_are_one_line(realworld, tmp_path, shapes, says):
    args = [str(realworld / "t7" / "asexam_charrnn_model.t7"), str(tmp_path / "c.pt2")]
    args += ["--generic", *[a for s in shapes for a in ("--input-shape", s)]]
    result = CliRunner().invoke(main, args)
    print(result.output)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and says in lines[0]
    assert list(tmp_path.iterdir()) == []
