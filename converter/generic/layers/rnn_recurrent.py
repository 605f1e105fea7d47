"""Translations of Element-Research rnn's recurrent classes into the step modules of
converter.generic.layers.rnn_steps.

Every AbstractRecurrent keeps the module it runs at each step (its `recurrentModule`, wrapped by
`maskZero()`/`trimZero()` where the file was built so) as the only entry of `modules`: that is
translated like any other module tree and stepped with the state rules of its class. rnn's
`nn.LSTM` shares its class name with torch-rnn's: `build_rnn_lstm` is rnn's (its objects hold
that `modules` entry; torch-rnn's hold a `weight`).
"""

from __future__ import annotations

from collections import Counter

from converter.errors import T7FormatError
from converter.generic.layers.containers import one_child
from converter.generic.layers.rnn_steps import (
    BiSequencerLM,
    Recurrent,
    Recursor,
    Repeater,
    Sequencer,
    StepRecurrence,
)
from converter.generic.layers.torch_rnn import build_torch_rnn_lstm, is_torch_rnn_lstm
from converter.generic.registry import register_translation
from converter.torch7.modules import child_path, children
from converter.torch7.objects import T7Object, T7Storage, T7Tensor


def _no_user_state(m) -> str | None:  # noqa: ANN001
    """An initial state handed in from outside (setHiddenState, encoder-decoder coupling)
    is not part of what the translation reproduces."""
    for name in ("userPrevOutput", "userPrevCell"):
        value = m.get(name) if hasattr(m, "get") else None
        if value is not None and not (isinstance(value, T7Tensor) and value.numel == 0):
            return f"{m.class_name} with {name} set (an initial state from another network)"
    return None


# The classes of FastLSTM:buildModel's step in its nn wiring and its nngraph one (rnn ba937a0;
# the batch-normalised, masked and dropout variants add others): a step of exactly these around
# the FastLSTM's own i2g and o2g is the standard LSTM cell that torch's fused LSTM computes.
STANDARD_FASTLSTM = (
    Counter({
        "nn.Sequential": 7, "nn.ConcatTable": 6, "nn.SelectTable": 7, "nn.CMulTable": 3,
        "nn.Sigmoid": 3, "nn.CAddTable": 2, "nn.FlattenTable": 2, "nn.NarrowTable": 2,
        "nn.ParallelTable": 2, "nn.Tanh": 2, "nn.Linear": 1, "nn.LinearNoBias": 1,
        "nn.Reshape": 1, "nn.SplitTable": 1,
    }),
    Counter({
        "nn.gModule": 1, "nn.CMulTable": 3, "nn.Identity": 3, "nn.Sigmoid": 3,
        "nn.CAddTable": 2, "nn.Tanh": 2, "nn.Linear": 1, "nn.LinearNoBias": 1, "nn.Reshape": 1,
        "nn.SplitTable": 1,
    }),
)  # fmt: skip


def _fused_gates(m) -> list[str] | None:  # noqa: ANN001
    """Where i2g and o2g sit in a FastLSTM's step when it is the standard cell, else None."""
    found, paths = Counter(), {}

    def walk(o, path: str) -> None:  # noqa: ANN001
        found[o.class_name] += 1
        paths[id(o)] = path
        for i, child in enumerate(children(o, path), start=1):
            walk(child, child_path(path, i))

    walk(children(m)[0], "")
    h = m.integer("outputSize")
    i2g, o2g = m.get("i2g"), m.get("o2g")
    shapes_fit = (
        isinstance(i2g, T7Object)
        and isinstance(o2g, T7Object)
        and isinstance(i2g.get("weight"), T7Tensor)
        and isinstance(o2g.get("weight"), T7Tensor)
        and i2g["weight"].shape[:1] == (4 * h,)
        and o2g["weight"].shape == (4 * h, h)
    )
    if found not in STANDARD_FASTLSTM or not shapes_fit or id(i2g) not in paths:
        return None
    return [paths[id(i2g)], paths.get(id(o2g))] if id(o2g) in paths else None


def build_rnn_lstm(m, ctx):  # noqa: ANN001, ANN201
    """rnn's nn.LSTM: {x, h, c} -> {h, c} per step, h and c start as zeros."""
    return StepRecurrence(one_child(ctx), list(ctx.ints("outputSize")), 1, cell=True)


def _lstm_check(m) -> str | None:  # noqa: ANN001
    return None if is_torch_rnn_lstm(m) else _no_user_state(m)


@register_translation("nn.LSTM", check=_lstm_check)
def _lstm(m, ctx):
    """nn.LSTM as either library writes it: torch-rnn's (one fused weight) or rnn's (a module
    per gate), told apart by what the object holds."""
    return (build_torch_rnn_lstm if is_torch_rnn_lstm(m) else build_rnn_lstm)(m, ctx)


@register_translation("nn.FastLSTM", check=_no_user_state)
def _fast_lstm(m, ctx):
    """As rnn's LSTM; its standard cell runs fused."""
    step = one_child(ctx)
    return StepRecurrence(step, list(ctx.ints("outputSize")), 1, cell=True, gates=_fused_gates(m))


@register_translation("nn.GRU", "nn.MuFuRu", check=_no_user_state)
def _gru(m, ctx):
    return StepRecurrence(one_child(ctx), list(ctx.ints("outputSize")), 1, cell=False)


def _sizes(value) -> list[int] | None:  # noqa: ANN001
    """Recurrence's outputSize as a flat list of sizes; None for a table of tables (a table
    output, which is not translated)."""
    if isinstance(value, (int, float)):
        return [int(value)]
    if isinstance(value, T7Storage):
        return [int(v) for v in value.read(0, value.size)]
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return [int(v) for v in value]
    return None


def _flat_output_size(m) -> str | None:  # noqa: ANN001
    if hasattr(m, "get") and _sizes(m.get("outputSize")) is None:
        return f"{m.class_name} whose outputSize is not a list of sizes (a table output)"
    return _no_user_state(m)


@register_translation("nn.Recurrence", check=_flat_output_size)
def _recurrence(m, ctx):
    return StepRecurrence(one_child(ctx), _sizes(m["outputSize"]), *ctx.ints("nInputDim"), False)


# nn.Recurrent's fields, in the order Recurrent.lua puts them in `modules`
RECURRENT_PARTS = ("startModule", "inputModule", "feedbackModule", "transferModule", "mergeModule")


@register_translation("nn.Recurrent", check=_no_user_state)
def _recurrent(m, ctx):
    parts = [ctx.field(name) for name in RECURRENT_PARTS]
    if len(ctx.field("modules")) != len(parts) or any(
        a is not b for a, b in zip(m["modules"], parts)
    ):
        raise T7FormatError(
            f"{ctx.where}: its modules are not {', '.join(RECURRENT_PARTS)} in this order, "
            "as nn.Recurrent keeps them"
        )
    return Recurrent(ctx.children())


@register_translation("nn.Recursor", "nn.NormStabilizer", "nn.BiSequencer")
def _recursor(m, ctx):
    # NormStabilizer's step is CopyGrad (identity); BiSequencer runs its wiring, `modules`[1]
    return Recursor(one_child(ctx))


@register_translation("nn.Sequencer")
def _sequencer(m, ctx):
    return Sequencer(one_child(ctx), m.get("_remember", "neither"))


@register_translation("nn.Repeater")
def _repeater(m, ctx):
    # rnn names the number of repetitions `seqlen` since 2017, `rho` before
    return Repeater(one_child(ctx), *ctx.ints("seqlen" if "seqlen" in m else "rho"))


@register_translation("nn.BiSequencerLM")
def _bisequencer_lm(m, ctx):
    parts = ctx.children()
    if len(parts) != 3:
        raise T7FormatError(f"{ctx.where} holds {len(parts)} modules, not its fwd, bwd and merge")
    return BiSequencerLM(*parts)
