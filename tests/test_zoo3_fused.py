"""rnn's fused sequence modules of zoo3 (MANIFEST-zoo3 §5.5: SeqLSTM with batchfirst, an
initial state, remember and maskzero; SeqLSTMP; SeqGRU with remember and maskzero; SeqBRNN
and its JoinTable merge; SeqReverseSequence) against Torch7's outputs: every forward a case
stores, in order on one instance, and what `remember`/`forget()` do between calls.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, tensor
from zoo2cases import check_forwards, compare, forward, load_case, with_fields

from converter.generic.layers.rnn_fused import SeqLSTM
from converter.generic.translator import UnsupportedModuleError, translate

FUSED_CASES = [
    "seqlstm", "seqlstm_batchfirst", "seqlstm_h0c0", "seqlstm_remember", "seqlstm_maskzero",
    "seqlstmp", "seqgru", "seqgru_remember", "seqgru_maskzero", "seqbrnn", "seqbrnn_join",
    "seqreversesequence",
]  # fmt: skip


def load(fixtures, name):
    return load_case(fixtures, name, "zoo3")


@pytest.mark.parametrize("name", FUSED_CASES)
def test_fused_module_reproduces_torch7(fixtures, name):
    check_forwards(fixtures, name)


@pytest.mark.parametrize("name", ["seqlstm", "seqlstmp"])
def test_seqlstm_is_pytorchs_fused_lstm(fixtures, name):
    """§5.5 15/18: the same numbers from nn.LSTM's kernel (SeqLSTMP: its projection)."""
    _, module = check_forwards(fixtures, name)
    assert isinstance(module, torch.nn.LSTM)
    assert module.proj_size == (3 if name == "seqlstmp" else 0)


@pytest.mark.parametrize("name", ["seqlstm_remember", "seqgru_remember"])
def test_remembered_state_is_what_the_second_forward_needs(fixtures, name):
    """§5.5 16: output2 continues from the first forward; after forget() the same call
    starts from zeros, as a fresh module does, and no longer gives Torch7's output2."""
    case, module = check_forwards(fixtures, name)
    x2, ref2 = tensor(case["input2"]), tensor(case["output2"])
    module.forget()
    again = forward(module, x2)
    fresh = forward(translate(case["module"]), x2)
    assert torch.equal(again, fresh)
    delta = float((again - ref2).abs().max())
    print(f"{name}: without the remembered state max|Δ| = {delta:.3g}")
    assert delta > 1e-3 * float(ref2.abs().max())


def test_forget_on_a_container_reaches_the_sequence_module_inside(fixtures):
    """rnn's Module:forget() reaches every module inside: a Sequencer-style container's
    forget() makes a remembering SeqLSTM in it start the next call from zeros."""
    from converter.generic.layers.rnn_steps import Stateful

    case, lstm = check_forwards(fixtures, "seqlstm_remember")
    outer = Stateful()
    outer.add_module("1", torch.nn.Sequential(lstm))
    x2 = tensor(case["input2"])
    fresh = forward(translate(case["module"]), x2)
    assert not torch.equal(forward(lstm, x2), fresh)  # it remembered the first forward
    lstm.forget()
    forward(lstm, tensor(case["input"]))  # remembers again
    outer.forget()
    assert torch.equal(forward(lstm, x2), fresh)


@pytest.mark.parametrize("mode, carries", [("eval", True), ("train", False), ("neither", False)])
def test_remember_modes_carry_state_only_in_their_mode(fixtures, mode, carries):
    """_remember 'eval' carries the state in evaluate mode, 'train' and 'neither' do not."""
    case = load(fixtures, "seqlstm_remember")
    module = translate(with_fields(case["module"], _remember=mode))
    compare(forward(module, tensor(case["input"])), tensor(case["output"]), f"{mode} first")
    second = forward(module, tensor(case["input2"]))
    if carries:
        compare(second, tensor(case["output2"]), f"{mode} second")
    else:
        assert torch.equal(second, forward(translate(case["module"]), tensor(case["input2"])))


def test_a_change_of_mode_forgets_as_training_and_evaluate_do(fixtures):
    case = load(fixtures, "seqlstm_remember")
    module = translate(case["module"])
    forward(module, tensor(case["input"]))
    module.train().eval()
    fresh = forward(translate(case["module"]), tensor(case["input2"]))
    assert torch.equal(forward(module, tensor(case["input2"])), fresh)


def test_remembering_needs_the_same_batch_size(fixtures):
    case = load(fixtures, "seqlstm_remember")
    module = translate(case["module"])
    forward(module, tensor(case["input"]))
    with pytest.raises(ValueError, match="batch size must stay the same; call forget"):
        forward(module, tensor(case["input2"])[:, :1])
    module.forget()
    assert forward(module, tensor(case["input2"])[:, :1]).shape == (2, 1, 4)


def test_initial_state_table_sets_c0_first_then_h0(fixtures):
    """§5.5 15: {c0, h0, x} reproduces Torch7; swapping c0 and h0 does not."""
    case, module = check_forwards(fixtures, "seqlstm_h0c0")
    c0, h0, x = tensor(case["input"])
    swapped = forward(module, [h0, c0, x])
    assert float((swapped - tensor(case["output"])).abs().max()) > 1e-3


@pytest.mark.parametrize("name", ["seqlstm_maskzero", "seqgru_maskzero"])
def test_maskzero_zeroes_the_rows_of_zero_inputs(fixtures, name):
    """§5.5 17: where x_t[n] is all zeros, output row (t, n) is zero (and the state restarts)."""
    case, module = check_forwards(fixtures, name)
    x = tensor(case["input"])
    zero = (x == 0).all(-1)
    assert zero.any() and not zero.all()
    got = forward(module, x)
    assert torch.count_nonzero(got[zero]) == 0 and torch.count_nonzero(got[~zero]) > 0


def test_seqlstm_in_float64_keeps_torch7s_numbers(fixtures):
    case = load(fixtures, "seqlstm")
    got = forward(translate(case["module"], torch.float64), tensor(case["input"]).double())
    assert_close(got.float(), tensor(case["output"]), "seqlstm in float64")


def test_reverse_sequence_on_dim_2_reverses_that_dim(fixtures):
    """§5.5 21: dim 2 is dim 1 of the input transposed."""
    case = load(fixtures, "seqreversesequence")
    module = translate(with_fields(case["module"], dim=2))
    got = forward(module, tensor(case["input"]).transpose(0, 1))
    compare(got, tensor(case["output"]).transpose(0, 1), "seqreversesequence dim 2")


def test_seqlstm_of_an_rnn_before_remember_modes_is_refused(fixtures):
    case = load(fixtures, "seqlstm")
    old = with_fields(case["module"])
    del old.fields["_remember"]
    with pytest.raises(UnsupportedModuleError) as err:
        translate(old)
    assert "without a '_remember' field" in str(err.value)


def test_seqlstmp_projecting_to_as_many_cells_or_more_is_refused(fixtures):
    """nn.LSTM's projection must be narrower than the cell: not guessed otherwise."""
    case = load(fixtures, "seqlstmp")
    with pytest.raises(UnsupportedModuleError, match="projecting 6 cells to 6"):
        translate(with_fields(case["module"], outputsize=6))


def test_modules_take_only_batches_of_sequences():
    module = SeqLSTM(3, 4).eval()
    with pytest.raises(ValueError, match="3-D"):
        module(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="a table of 4 entries"):
        module([torch.zeros(2, 4)] * 3 + [torch.zeros(5, 2, 3)])
