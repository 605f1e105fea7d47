"""Every real, published Torch7 model in ../shared/realworld/models translated and run on the
input Torch7 ran it on (models/README.md): outputs, and each top-level child's output where
Torch7 recorded them. The nngraph char-rnn, torch-rnn's own
nn.LanguageModel/nn.LSTM and the face nets' 2012 nnx classes are all translated built in.

Tolerance: t7compare (1e-5·max|ref| float32, 1e-10·max|ref| float64); every comparison
prints what it measured. The files Torch7 ran after `:float()` are translated with
dtype=float32, as `t7convert --dtype float32` does.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, tensor

from converter.cli import main
from converter.generic.translator import translate
from converter.torch7.reader import load_t7

# name -> (model file, relative to realworld/, dtype Torch7 ran it in)
MODELS = {
    "bumperdetection_cnn_model": ("models/bumperdetection_cnn_model.net", None),
    "mlhr_sshanu_model": ("models/mlhr_sshanu_model.net", None),
    "spynet_modelL3_4": ("models/spynet_modelL3_4.t7", None),
    "torchdemos_tracker_unsupervised": (
        "models/torchdemos_tracker_unsupervised.net", torch.float32,
    ),
    "henlisp_hw1_model": ("t7/henlisp_hw1_model.t7", None),
    "torchdemos_face_binary": ("t7/torchdemos_face_binary.net", torch.float32),
    "torchdemos_face_net_ascii": ("t7/torchdemos_face_net_ascii.net", torch.float32),
    "asexam_charrnn_model": ("t7/asexam_charrnn_model.t7", None),
    "torchrnn_checkpoint_1000": ("t7/torchrnn_checkpoint_1000.t7", None),
}  # fmt: skip


def test_every_realworld_model_is_covered(realworld):
    refs = {p.name.removesuffix("_ref.t7") for p in (realworld / "models").glob("*_ref.t7")}
    assert refs == set(MODELS)


def compare(got, ref, what: str) -> None:
    if isinstance(ref, list):
        assert isinstance(got, list) and len(got) == len(ref), what
        for i, (g, r) in enumerate(zip(got, ref), start=1):
            assert_close(g, r, f"{what}[{i}]")
    else:
        assert_close(got, ref, what)


@pytest.mark.parametrize("name", list(MODELS))
def test_realworld_model_reproduces_torch7(realworld, name):
    path, dtype = MODELS[name]
    ref = load_t7(realworld / "models" / f"{name}_ref.t7")
    assert ref["mode"] == "evaluate"
    module = translate(realworld / path, dtype)
    x = tensor(ref["input"])
    with torch.no_grad():
        compare(module(x), tensor(ref["output"]), f"{name} output")
        # acts[i]: top-level child i's output, copied as it ran (a child can be the same Lua
        # object twice, as the tracker's L2 pooling is, so run the children one by one)
        for i, (child, act) in enumerate(zip(module.children(), ref.get("acts") or []), 1):
            x = child(x)
            compare(x, tensor(act), f"{name} child {i}")


def test_double_models_stay_double_unless_asked(realworld):
    path = realworld / "models" / "torchdemos_tracker_unsupervised.net"
    assert {p.dtype for p in translate(path).parameters()} == {torch.float64}
    assert {p.dtype for p in translate(path, torch.float32).parameters()} == {torch.float32}


def test_torch_rnn_checkpoint_continues_its_text_until_forget(realworld):
    """The checkpoint's LSTMs remember their states (torch-rnn sets remember_states): a second
    call on the same input continues from the first, forget() (resetStates) starts afresh."""
    model = translate(realworld / "t7" / "torchrnn_checkpoint_1000.t7")
    x = tensor(load_t7(realworld / "models" / "torchrnn_checkpoint_1000_ref.t7")["input"])
    with torch.no_grad():
        first, second = model(x), model(x)
        model.forget()
        again = model(x)
    assert not torch.allclose(first, second) and torch.equal(first, again)


def test_cli_exports_charrnn_with_table_input_and_dtype(realworld, tmp_path):
    """11 inputs (h0, x_1..x_10) as a list; --dtype float32 turns the Double file to float."""
    from click.testing import CliRunner

    shapes = ["--input-shape", "100"] + ["--input-shape", "5"] * 10
    out = tmp_path / "rnn.pt2"
    model = realworld / "t7" / "asexam_charrnn_model.t7"
    result = CliRunner().invoke(main, [str(model), str(out), "--generic", "--dtype", "float32",
                                       *shapes])  # fmt: skip
    assert result.exit_code == 0, result.output
    ref = load_t7(realworld / "models" / "asexam_charrnn_model_ref.t7")
    got = torch.export.load(out).module()([t.float() for t in tensor(ref["input"])])
    for i, (g, r) in enumerate(zip(got, tensor(ref["output"])), start=1):
        assert_close(g, r.float(), f"exported char-rnn float32 output {i}")
