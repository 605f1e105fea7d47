"""Benchmark bench_translate.py's LSTM language model in Element-Research rnn's form, translated
from a Torch7 file, against the same model hand-written with torch.nn.LSTM, in the same run.

The model is what rnn's examples build: Sequential{LookupTable(V, H), Sequencer(FastLSTM(H, H))
x 2, Sequencer(Linear(H, V))} on a T x B LongTensor of word ids (bench_translate's sizes: V =
100, H = 256, T = 50, B = 16), each FastLSTM in the nn wiring of rnn's FastLSTM:buildModel,
saved as Torch7 would. The hand-written model (bench_translate's, time-major) loads the same
file's weights, gate rows reordered. Timing and limits as bench_translate.py's language-model
case (build <= 1.5x, forward <= 1.1x); exits 1 if missed. Also prints the stepped wiring's
forward (the fused cell switched off) against the same baseline: what the fused cell is worth.

    python scripts/bench_recurrent.py [--clock cpu] [--repeat 5] [--forwards 15]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from bench_translate import (
    HIDDEN,
    LAYERS,
    LM_BATCH,
    LM_FORWARD_LIMIT,
    STEPS,
    VOCAB,
    HandWrittenLM,
    _module,
    compare,
    compare_options,
)
from timing import best_alternating, use_clock
from torch import nn

from converter.generic.layers.rnn_steps import StepRecurrence
from converter.generic.translator import translate
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7
from converter.torch7.writer import save_t7


def _container(cls: str, *modules: T7Object) -> T7Object:
    return _module(cls, modules=list(modules))


def _select(index: int) -> T7Object:
    return _module("nn.SelectTable", index=index)


def fast_lstm(d: int, h: int, rng: np.random.Generator) -> T7Object:
    """rnn's FastLSTM(d, h) as FastLSTM:buildModel wires it: {x, h, c} -> {h, c}, gates
    i, g, f, o from i2g(x) + o2g(h)."""
    seq, concat = "nn.Sequential", "nn.ConcatTable"
    i2g = _module(
        "nn.Linear",
        weight=rng.normal(0, d**-0.5, (4 * h, d)).astype(np.float32),
        bias=rng.uniform(-0.1, 0.1, 4 * h).astype(np.float32),
    )
    o2g = _module("nn.LinearNoBias", weight=rng.normal(0, h**-0.5, (4 * h, h)).astype(np.float32))
    sigmoid, tanh = (lambda: _module("nn.Sigmoid")), (lambda: _module("nn.Tanh"))
    gates = _container(
        seq,
        _module("nn.NarrowTable", offset=1, length=2),
        _container("nn.ParallelTable", i2g, o2g),
        _module("nn.CAddTable"),
        _module("nn.Reshape", size=[4, h], nelement=4 * h),
        _module("nn.SplitTable", dimension=1, nInputDims=2),
        _container("nn.ParallelTable", sigmoid(), tanh(), sigmoid(), sigmoid()),
    )  # {i, g, f, o}
    cell = _container(
        seq,
        _container(
            concat,
            _container(seq, _module("nn.NarrowTable", offset=1, length=2), _module("nn.CMulTable")),
            _container(seq, _container(concat, _select(3), _select(5)), _module("nn.CMulTable")),
        ),
        _module("nn.CAddTable"),
    )  # c = i*g + f*c_prev
    hidden = _container(
        seq,
        _container(concat, _container(seq, _select(1), tanh()), _select(2)),
        _module("nn.CMulTable"),
    )  # h = tanh(c) * o
    step = _container(
        seq,
        _container(concat, gates, _select(3)),
        _module("nn.FlattenTable"),  # {i, g, f, o, c_prev}
        _container(concat, cell, _select(4)),
        _module("nn.FlattenTable"),  # {c, o}
        _container(concat, hidden, _select(1)),  # {h, c}
    )
    return _module(
        "nn.FastLSTM", modules=[step], recurrentModule=step, i2g=i2g, o2g=o2g,
        inputSize=d, outputSize=h, rho=9999, step=1,
    )  # fmt: skip


def _sequencer(m: T7Object) -> T7Object:
    return _module("nn.Sequencer", modules=[m], module=m, _remember="neither")


def language_model(seed: int = 0) -> T7Object:
    rng = np.random.default_rng(seed)
    embed = rng.normal(0, 1, (VOCAB, HIDDEN)).astype(np.float32)
    lstms = [_sequencer(fast_lstm(HIDDEN, HIDDEN, rng)) for _ in range(LAYERS)]
    decoder = _module(
        "nn.Linear",
        weight=rng.normal(0, HIDDEN**-0.5, (VOCAB, HIDDEN)).astype(np.float32),
        bias=rng.uniform(-0.1, 0.1, VOCAB).astype(np.float32),
    )
    recursor = _module("nn.Recursor", modules=[decoder], module=decoder, rho=9999, step=1)
    return _container(
        "nn.Sequential", _module("nn.LookupTable", weight=embed), *lstms, _sequencer(recursor)
    )


def hand_written(path: Path) -> nn.Module:
    def t(x) -> torch.Tensor:  # noqa: ANN001
        return torch.from_numpy(x.numpy())

    def gates_ifgo(w: torch.Tensor) -> torch.Tensor:  # FastLSTM's i, g, f, o -> i, f, g, o
        return w.reshape(4, HIDDEN, -1)[[0, 2, 1, 3]].reshape(w.shape)

    root = load_t7(path)["modules"]
    state = {"embed.weight": t(root[0]["weight"])}
    for layer, seq in enumerate(root[1 : 1 + LAYERS]):
        lstm = seq["module"]
        state[f"lstm.weight_ih_l{layer}"] = gates_ifgo(t(lstm["i2g"]["weight"]))
        state[f"lstm.bias_ih_l{layer}"] = gates_ifgo(t(lstm["i2g"]["bias"]))
        state[f"lstm.weight_hh_l{layer}"] = gates_ifgo(t(lstm["o2g"]["weight"]))
        state[f"lstm.bias_hh_l{layer}"] = torch.zeros(4 * HIDDEN)
    decoder = root[-1]["module"]["modules"][0]
    state |= {"out.weight": t(decoder["weight"]), "out.bias": t(decoder["bias"])}
    model = HandWrittenLM(batch_first=False)
    model.load_state_dict(state)
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    compare_options(ap)
    args = ap.parse_args()
    use_clock(args.clock)
    x = torch.randint(1, VOCAB + 1, (STEPS, LM_BATCH), generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rnn_language_model.t7"
        save_t7(language_model(), path)
        stepped = translate(path)  # checked for the fused cell here, timed without it below
        cells = [m for m in stepped.modules() if isinstance(m, StepRecurrence)]
        if [m.gates is not None for m in cells] != [True] * LAYERS:
            sys.exit(
                "the FastLSTMs did not take the fused cell: the benchmark would not measure it"
            )
        ok = compare(
            f"rnn language model (vocab {VOCAB}, {LAYERS} x FastLSTM {HIDDEN}, "
            f"T {STEPS}, batch {LM_BATCH})",
            path, {"hand-written": hand_written, "generic": translate}, x, args,
            forward_limit=LM_FORWARD_LIMIT,
        )  # fmt: skip
        for m in cells:
            m.gates = None  # the stepped wiring, without the fused cell
        baseline = hand_written(path)
        contestants = {"base": lambda: baseline(x), "stepped": lambda: stepped(x)}
        with torch.no_grad():
            t = best_alternating(contestants, args.round, args.repeat)
        ratio = t["stepped"] / t["base"]
        print(f"  stepped wiring (fused cell off)/hand-written forward {ratio:.2f}x")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
