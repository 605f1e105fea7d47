"""A translated nn.Sequential runs its children's forwards straight (Chain) while nothing observes
them, and as ordinary module calls when something does: hooks on a child (how the activation
tests and users record intermediate outputs), global hooks. Checked against what
Torch7 computed for a real model (henlisp's MLP: View, Linear, ReLU, Linear, ReLU, Linear,
LogSoftMax; its `_ref.t7` holds every top-level child's output)."""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, run_with_acts, tensor

from converter.generic.layers.containers import Chain
from converter.generic.translator import translate
from converter.torch7.reader import load_t7


@pytest.fixture
def mlp(realworld):
    ref = load_t7(realworld / "models" / "henlisp_hw1_model_ref.t7")
    return translate(realworld / "t7" / "henlisp_hw1_model.t7"), ref


def test_chain_output_and_hooked_children_match_torch7(mlp):
    model, ref = mlp
    assert type(model) is Chain
    x = tensor(ref["input"])
    with torch.no_grad():
        fast = model(x)
    assert_close(fast, tensor(ref["output"]), "MLP output, children called straight")
    paths = {str(i): str(i) for i in range(1, len(model) + 1)}
    hooked, acts = run_with_acts(model, x, paths)
    assert torch.equal(hooked, fast)
    assert len(acts) == len(ref["acts"]) == 7  # every child's hook ran
    for i, act in enumerate(ref["acts"], start=1):
        assert_close(acts[str(i)], tensor(act), f"MLP child {i} seen by its hook")


def test_a_pre_hook_that_changes_a_childs_input_is_honoured(mlp):
    model, ref = mlp
    x = tensor(ref["input"])
    with torch.no_grad():
        plain = model(x)
        handle = model[2].register_forward_pre_hook(lambda _m, args: (args[0] * 0,))
        zeroed = model(x)
        handle.remove()
        again = model(x)
    # zero input to the first Linear: every sample's output is the same row
    assert torch.equal(zeroed[0], zeroed[1]) and not torch.equal(zeroed, plain)
    assert torch.equal(again, plain)


def test_global_hooks_see_every_child(mlp):
    model, ref = mlp
    x = tensor(ref["input"])
    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda m, _i, _o: seen.append(type(m).__name__)
    )
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    assert seen[:-1] == [type(m).__name__ for m in model] and seen[-1] == "Chain"
