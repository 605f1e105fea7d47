"""torch-rnn's classes of zoo3 (MANIFEST-zoo3 §5.8: its nn.LSTM with and without remembered
states, nn.VanillaRNN, nn.TemporalAdapter, nn.LanguageModel carrying its state from one call to
the next) and char-rnn's OneHot (§5.7 29, a class without the nn. prefix) against Torch7's
outputs: every forward a case stores, in order on one instance.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import tensor
from zoo2cases import check_forwards, compare, forward, load_case, with_fields

from converter.generic.layers.rnn_fused import SeqLSTM
from converter.generic.layers.rnn_steps import StepRecurrence
from converter.generic.layers.torch_rnn import is_torch_rnn_lstm
from converter.generic.translator import translate

TORCH_RNN_CASES = [
    "torchrnn_lstm", "torchrnn_lstm_remember", "torchrnn_vanillarnn", "torchrnn_temporaladapter",
    "torchrnn_languagemodel",
]  # fmt: skip


def load(fixtures, name):
    return load_case(fixtures, name, "zoo3")


@pytest.mark.parametrize("name", [*TORCH_RNN_CASES, "charrnn_onehot"])
def test_module_reproduces_torch7(fixtures, name):
    check_forwards(fixtures, name)


@pytest.mark.parametrize("name", ["torchrnn_languagemodel", "torchrnn_lstm_remember"])
def test_forget_is_reset_states(fixtures, name):
    """remember_states: the second call continues the first; after forget() (resetStates) it
    starts from zeros as a fresh module does, which is not Torch7's output2."""
    case, module = check_forwards(fixtures, name)
    x2, ref2 = tensor(case["input2"]), tensor(case["output2"])
    module.forget()
    again = forward(module, x2)
    assert torch.equal(again, forward(translate(case["module"]), x2))
    delta = float((again - ref2).abs().max())
    print(f"{name}: without the remembered state max|Δ| = {delta:.3g}")
    assert delta > 1e-3 * float(ref2.abs().max())


def test_exported_language_model_starts_every_call_from_zeros(fixtures):
    """torch.export gives a function of the input, even of a module that remembers a state;
    the module's own state is left as it was: its next call continues the first."""
    case = load(fixtures, "torchrnn_languagemodel")
    module = translate(case["module"])
    x, ref = tensor(case["input"]), tensor(case["output"])
    compare(forward(module, x), ref, "languagemodel first call")
    program = torch.export.export(module, (x,)).module()
    compare(program(x), ref, "exported languagemodel, first call")
    compare(program(x), ref, "exported languagemodel, second call")
    got = forward(module, tensor(case["input2"]))
    compare(got, tensor(case["output2"]), "languagemodel second call, after the export")


def test_lstm_without_remember_states_starts_each_call_from_zeros(fixtures):
    case = load(fixtures, "torchrnn_lstm_remember")
    module = translate(with_fields(case["module"], remember_states=False))
    forward(module, tensor(case["input"]))
    fresh = forward(translate(case["module"]), tensor(case["input2"]))
    assert torch.equal(forward(module, tensor(case["input2"])), fresh)


def test_lstm_takes_an_initial_state_table(fixtures):
    """{c0, h0, x} and {h0, x} (c0 zero) with zero states give the plain call's output."""
    case, module = check_forwards(fixtures, "torchrnn_lstm")
    x = tensor(case["input"])
    zeros = torch.zeros(x.shape[0], 3)
    compare(forward(module, [zeros, zeros, x]), tensor(case["output"]), "torchrnn_lstm {c0,h0,x}")
    compare(forward(module, [zeros, x]), tensor(case["output"]), "torchrnn_lstm {h0,x}")


def test_torch_rnn_lstm_is_told_from_rnns_lstm(fixtures):
    """Same class name nn.LSTM, different fields: each is translated as its own library's
    (torch-rnn's a fused SeqLSTM, rnn's a step module: tests/test_zoo3_rnn.py)."""
    torch_rnn = load(fixtures, "torchrnn_lstm")["module"]
    rnn = load(fixtures, "lstm_steps")["module"]
    assert torch_rnn.class_name == rnn.class_name == "nn.LSTM"
    assert is_torch_rnn_lstm(torch_rnn) and not is_torch_rnn_lstm(rnn)
    assert isinstance(translate(torch_rnn), SeqLSTM)
    assert isinstance(translate(rnn), StepRecurrence)


def test_language_model_state_dict_keys_are_torch7_paths(fixtures):
    module = translate(load(fixtures, "torchrnn_languagemodel")["module"])
    keys = list(module.state_dict())
    assert "net.1.weight" in keys and "net.2.weight_ih_l0" in keys and "net.5.bias" in keys


def test_onehot_in_double_gives_double_rows_for_any_numeric_ids(fixtures):
    """The output has the module's type (`_type`); ids may be of any numeric type."""
    case = load(fixtures, "charrnn_onehot")
    module = translate(with_fields(case["module"], _type="torch.DoubleTensor"))
    ids = tensor(case["input"])
    got = forward(module, ids.double())
    assert got.dtype == torch.float64
    compare(got.float(), tensor(case["output"]), "charrnn_onehot double")
    compare(forward(module, ids.long()).float(), tensor(case["output"]), "charrnn_onehot long ids")
