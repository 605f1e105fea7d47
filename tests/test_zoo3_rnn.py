"""Element-Research rnn's step-wise classes (MANIFEST-zoo3 §3 "Element-Research rnn", semantics
§5.1-5.4 and §5.6) against Torch7's outputs: every stored forward in order on one translated
module (the state carried between them is part of the case), then what the state rules mean:
remember/forget, one step per call, unbatched samples, masks, BiSequencerLM's shift.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from t7compare import assert_close, tensor
from zoo2cases import check_forwards, compare, forward, load_case, with_fields

from converter.errors import T7FormatError
from converter.generic.layers.rnn_steps import StepRecurrence, forget
from converter.generic.translator import UnsupportedModuleError, translate
from converter.outputs.translated import load_translated, save_translated
from converter.torch7.objects import T7Storage

RNN_CASES = [
    "seq_linear", "seq_linear_tensor", "seq_fastlstm", "seq_fastlstm_nngraph", "seq_fastlstm_bn",
    "seq_fastlstm_remember", "seq_lstm", "seq_gru", "seq_gru_remember", "seq_lstm_noremember",
    "recursor_steps", "lstm_steps", "gru_steps", "repeater", "recurrent_seq",
    "repeater_recurrent_farnn", "bisequencer", "bisequencerlm", "maskzero_linear",
    "maskzero_lstm", "maskzero_fastlstm_tensor", "trimzero_fastlstm", "lookuptablemaskzero",
    "lm_maskzero", "linearnobias", "normstabilizer", "recurrence", "mufuru", "rnn_dropout",
    "sadd",
]  # fmt: skip


def fresh_forward(case: dict, key: str):  # noqa: ANN201
    """The case's input `key` through a newly translated module (zero state)."""
    return forward(translate(case["module"]), tensor(case[key]))


def max_difference(a, b) -> float:  # noqa: ANN001 - tensors or lists of them
    if isinstance(a, list):
        return max(max_difference(x, y) for x, y in zip(a, b))
    return float((a - b).abs().max())


@pytest.mark.parametrize("name", RNN_CASES)
def test_rnn_case_reproduces_every_torch7_forward(fixtures, name):
    check_forwards(fixtures, name)


@pytest.mark.parametrize("name", ["seq_fastlstm_remember", "seq_gru_remember"])
def test_remember_both_continues_and_forget_restarts(fixtures, name):
    """§5.1 3: with remember('both') forward 2 starts from forward 1's last state; after
    forget() it starts from zeros, as a new module does, and no longer gives output2."""
    case, module = check_forwards(fixtures, name)
    module.forget()
    again = forward(module, tensor(case["input2"]))
    compare(again, fresh_forward(case, "input2"), f"{name} after forget()")
    assert max_difference(again, tensor(case["output2"])) > 1e-3


def test_default_remember_forgets_before_every_forward(fixtures):
    """§5.1 3: remember 'neither' (the default): output2 ignores the first forward; the same
    module with remember 'both' carries the state, and differs."""
    case = load_case(fixtures, "seq_lstm_noremember", "zoo3")
    compare(fresh_forward(case, "input2"), tensor(case["output2"]), "output2 from zero state")
    module = translate(with_fields(case["module"], _remember="both"))
    forward(module, tensor(case["input"]))
    assert max_difference(forward(module, tensor(case["input2"])), tensor(case["output2"])) > 1e-3


@pytest.mark.parametrize("remember, keeps", [("eval", False), ("train", True)])
def test_remember_mode_applies_in_its_own_mode(fixtures, remember, keeps):
    """'eval' keeps the state only in evaluate mode, 'train' only in training mode (Sequencer
    forgets otherwise); the FastLSTM has no dropout, so training mode gives the same numbers."""
    case = load_case(fixtures, "seq_fastlstm_remember", "zoo3")
    module = translate(with_fields(case["module"], _remember=remember)).train()
    forward(module, tensor(case["input"]))
    second = forward(module, tensor(case["input2"]))
    ref = tensor(case["output2"]) if keeps else fresh_forward(case, "input2")
    compare(second, ref, f"remember '{remember}' in training mode")


@pytest.mark.parametrize("name", ["lstm_steps", "gru_steps", "recursor_steps"])
def test_a_step_module_takes_one_unbatched_sample(fixtures, name):
    """§5.1 1: a 1-D input gets a 1-D zero state; the steps of sample 1 alone give Torch7's
    row 1 of each batched output (FastLSTM's fused cell takes batches only: not used here)."""
    case = load_case(fixtures, name, "zoo3")
    module = translate(case["module"])
    for k in ("", "2", "3")[: 3 if "input3" in case else 2]:
        got = forward(module, tensor(case[f"input{k}"])[0])
        assert_close(got, tensor(case[f"output{k}"])[0], f"{name} sample 1, step {k or 1}")


@pytest.mark.parametrize(
    "name, fused",
    [
        ("seq_fastlstm", True),
        ("seq_fastlstm_nngraph", True),
        ("recursor_steps", True),
        ("seq_fastlstm_bn", False),
        ("trimzero_fastlstm", False),
        ("lm_maskzero", False),
    ],
)
def test_fastlstm_runs_fused_only_for_its_standard_cell_and_both_paths_match(fixtures, name, fused):
    """FastLSTM's standard cell (nn or nngraph wiring) runs as torch's fused LSTM; batch
    normalisation or a mask keep the stepped wiring. With the fused path switched off, the
    stepped wiring of the standard cell reproduces Torch7 too."""
    case = load_case(fixtures, name, "zoo3")
    module = translate(case["module"])
    steps = [m for m in module.modules() if isinstance(m, StepRecurrence)]
    assert steps and all((m.gates is not None) == fused for m in steps)
    for m in steps:
        m.gates = None
    for k in ("", "2", "3"):
        if f"input{k}" in case:
            got = forward(module, tensor(case[f"input{k}"]))
            compare(got, tensor(case[f"output{k}"]), f"{name} output{k or 1}, stepped")


def test_the_fused_cell_follows_weights_changed_in_place(fixtures):
    """The reordered weights kept between calls are dropped when i2g's weight changes."""
    case = load_case(fixtures, "seq_fastlstm", "zoo3")
    module, x = translate(case["module"]), tensor(case["input"])
    first = forward(module, x)
    lstm = module.get_submodule("1")
    with torch.no_grad():
        lstm.get_submodule("1").get_submodule(lstm.gates[0]).weight.mul_(0.5)
    fused = forward(module, x)
    assert max_difference(fused, first) > 1e-3
    lstm.gates = None
    compare(fused, forward(module, x), "fused after the change vs the stepped wiring")


def test_sequencer_takes_the_steps_as_a_tensor_or_a_table(fixtures):
    """§5.1 3: a T x B x D tensor gives a tensor, the same steps as a list give a list."""
    case, module = check_forwards(fixtures, "seq_linear_tensor")
    steps = list(tensor(case["input"]).unbind(0))
    compare(forward(module, steps), list(tensor(case["output"]).unbind(0)), "as a table")


def test_forget_restarts_the_steps_inside_any_container(fixtures):
    """After three Recursor steps, forget() on a plain container around it goes back to
    step 1: the first input gives the first output again."""
    case, module = check_forwards(fixtures, "recursor_steps")
    forget(torch.nn.Sequential(module))
    assert_close(forward(module, tensor(case["input"])), tensor(case["output"]), "step 1 again")


def test_repeater_starts_from_zero_state_at_every_forward(fixtures):
    case, module = check_forwards(fixtures, "repeater")
    compare(forward(module, tensor(case["input"])), tensor(case["output"]), "repeater again")


@pytest.mark.parametrize(
    "name, zero_rows",
    [
        ("maskzero_lstm", [(0, 0), (1, 0), (2, 2)]),
        ("maskzero_fastlstm_tensor", [(0, 1), (2, 0)]),
        ("lm_maskzero", [(0, 0), (1, 0)]),
    ],
)
def test_masked_steps_are_exactly_zero(fixtures, name, zero_rows):
    """§5.6 23: a sample whose step input is all zeros gives exactly 0 there (and its LSTM
    state restarts from zero, which the stored later steps check)."""
    case, module = check_forwards(fixtures, name)
    got = forward(module, tensor(case["input"]))
    for t, b in zero_rows:
        assert torch.count_nonzero(got[t][b]) == 0, f"{name} step {t + 1} sample {b + 1}"
    assert all(torch.count_nonzero(step) > 0 for step in got)


def test_bisequencerlm_output_never_sees_its_own_step(fixtures):
    """§5.6 22: output t joins fwd_{t-1} and bwd_{t+1}: changing step t changes every output
    but output t."""
    case, module = check_forwards(fixtures, "bisequencerlm")
    xs = tensor(case["input"])
    changed = [x.clone() for x in xs]
    changed[1] += 1
    before, after = forward(module, xs), forward(module, changed)
    assert torch.equal(before[1], after[1])
    assert all(not torch.equal(before[t], after[t]) for t in (0, 2, 3))


@pytest.mark.parametrize("size", [3, "storage"])
def test_recurrence_takes_its_output_size_in_every_form_rnn_allows(fixtures, size):
    """outputSize: a table {3} in the file; a number or a LongStorage (Recurrence.lua) too."""
    case = load_case(fixtures, "recurrence", "zoo3")
    if size == "storage":
        size = T7Storage("torch.LongStorage", np.dtype("<i8"), 1, data=np.array([3]))
    inner = with_fields(case["module"]["modules"][0], outputSize=size)
    module = translate(with_fields(case["module"], modules=[inner], module=inner))
    compare(forward(module, tensor(case["input"])), tensor(case["output"]), f"outputSize {size}")


def test_recurrence_of_a_table_output_is_refused_by_name(fixtures):
    case = load_case(fixtures, "recurrence", "zoo3")
    inner = case["module"]["modules"][0]
    nested = with_fields(inner, outputSize=[[3], [3]])
    with pytest.raises(UnsupportedModuleError, match="nn.Recurrence whose outputSize"):
        translate(with_fields(case["module"], modules=[nested], module=nested))


def test_an_initial_state_from_another_network_is_refused(fixtures):
    case = load_case(fixtures, "lstm_steps", "zoo3")
    state = case["input"]  # any non-empty tensor: setHiddenState's userPrevOutput
    with pytest.raises(UnsupportedModuleError, match="nn.LSTM with userPrevOutput set"):
        translate(with_fields(case["module"], userPrevOutput=state))


def test_an_unknown_remember_mode_is_one_clear_error(fixtures):
    case = load_case(fixtures, "seq_linear", "zoo3")
    with pytest.raises(T7FormatError, match="nn.Sequencer at \\(root\\).*remember 'sometimes'"):
        translate(with_fields(case["module"], _remember="sometimes"))


@pytest.mark.parametrize("name", ["seq_fastlstm_remember", "lm_maskzero"])
def test_the_safe_artifact_keeps_the_recurrent_semantics(fixtures, tmp_path, name):
    """t7convert --generic's .safetensors (the tree as data) loads back into modules that
    carry the state across forwards (remember) and mask as the file did."""

    def saved_and_reloaded(module):
        save_translated(module, tmp_path / "rnn.safetensors", False, f"{name}.t7")
        return load_translated(tmp_path / "rnn.safetensors")

    check_forwards(fixtures, name, build=saved_and_reloaded)


def test_a_recurrent_whose_modules_are_not_its_parts_is_refused(fixtures):
    """nn.Recurrent's `modules` are start, input, feedback, transfer, merge (the step rule
    reads them by position): another order is a damaged file, refused with the path."""
    case = load_case(fixtures, "recurrent_seq", "zoo3")
    inner = case["module"]["modules"][0]
    swapped = with_fields(inner, modules=[inner["modules"][i] for i in (1, 0, 2, 3, 4)])
    with pytest.raises(T7FormatError, match="nn.Recurrent at 1: its modules are not startModule"):
        translate(with_fields(case["module"], modules=[swapped], module=swapped))


@pytest.mark.parametrize("name", ["lstm_steps", "seq_fastlstm_remember"])
def test_an_export_starts_from_zeros_and_leaves_the_state_alone(fixtures, name):
    """Exported after a first forward left a state, the program is a function of its input
    (it starts from zeros) and the module goes on from the state it had, as if never traced."""
    case = load_case(fixtures, name, "zoo3")
    module, first, second = translate(case["module"]), case["input"], tensor(case["input2"])
    forward(module, tensor(first))
    program = torch.export.export(module, (second,)).module()
    compare(forward(program, second), fresh_forward(case, "input2"), f"{name} exported")
    compare(forward(module, second), tensor(case["output2"]), f"{name} output2 after export")
