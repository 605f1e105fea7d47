"""Benchmark the generic translation against a baseline in the same run, twice:

- the full IRv2 (fixture full/irv2_full.t7.gz): `translate(...)` vs the mapped path
  (`convert_checkpoint(...).build_model()`);
- a 100-node nngraph gModule (a residual convolution chain built with nngraph_writer and saved
  as Torch7 would): `translate(...)` vs a hand-written PyTorch equivalent loaded from the same
  file (`load_t7` + the module + `load_state_dict`);
- a 2-layer LSTM language model (torch-rnn's nn.LanguageModel: vocabulary 100, hidden 256,
  sequence 50, batch 16, saved as torch-rnn would): `translate(...)` vs the same model written by
  hand with one torch.nn.LSTM of two layers, loaded from the same file (limit: forward 1.1x).

Per pair, alternating, --repeat rounds: builds (file to module; `import torch` excluded, it is
done before any timing) then a first forward; then --forwards rounds of steady forwards of
each, interleaved. A round repeats the call until it lasts --round seconds and gives the time
per call; the minimum over rounds is printed (the least disturbed on a shared machine), with
the generic/baseline ratios against the issue's limits (build <= 1.5x, forward within 5 %).
Exits 1 if a limit is missed. On a machine others share, --clock cpu (one thread, this
process's CPU time) is steadier than wall time.

    python scripts/bench_translate.py [--fixture ../shared/fixtures/torch7] [--batch 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from fixture_set import FIXTURES, gunzip
from timing import calls_per_round, clock_name, per_call, timed, timing_options, use_clock
from torch import nn

from converter.generic.translator import translate
from converter.irv2.convert import convert_checkpoint
from converter.irv2.verify import random_input
from converter.torch7.nngraph_writer import GraphBuilder
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7
from converter.torch7.writer import save_t7

BUILD_LIMIT = 1.5
FORWARD_LIMIT = 1.05
BLOCKS, CHANNELS, SIZE = 33, 32, 32  # 33 x (conv, ReLU, CAddTable) + the input: 100 modules


def forward(model: nn.Module, x) -> float:  # noqa: ANN001 - a tensor or a list of them
    with torch.no_grad():
        return timed(lambda: model(x))[0]


# --- the 100-node graph and its hand-written equivalent -------------------------------------


def _module(cls: str, **fields) -> T7Object:  # noqa: ANN003
    empty = np.zeros(0, np.float32)
    return T7Object(cls, 1, {"output": empty, "gradInput": empty, "train": False, **fields})


def residual_graph(
    seed: int = 0, channels: int = CHANNELS, blocks: int = BLOCKS, std: float | None = None
) -> T7Object:
    """x -> blocks x (h = h + ReLU(conv3x3(h))), as nngraph: 3 nodes per block; the weights
    drawn with `std` (default 1/sqrt(fan-in))."""
    rng = np.random.default_rng(seed)
    std = 1 / np.sqrt(channels * 9) if std is None else std
    g = GraphBuilder()
    x = g.node(_module("nn.Identity"))
    h = x
    for _ in range(blocks):
        conv = _module(
            "nn.SpatialConvolution", nInputPlane=channels, nOutputPlane=channels,
            kW=3, kH=3, dW=1, dH=1, padW=1, padH=1,
            weight=rng.normal(0, std, (channels, channels, 3, 3)).astype(np.float32),
            bias=rng.uniform(-0.1, 0.1, channels).astype(np.float32),
        )  # fmt: skip
        relu = g.node(_module("nn.ReLU", threshold=0, val=0, inplace=False), [g.node(conv, [h])])
        h = g.node(_module("nn.CAddTable"), [h, relu])
    return g.gmodule([x], [h])


class HandWritten(nn.Module):
    """What one would write in PyTorch for residual_graph."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1) for _ in range(BLOCKS)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + torch.relu(conv(x))
        return x


def hand_written(path: Path) -> nn.Module:
    convs = [m for m in load_t7(path)["modules"] if m.class_name == "nn.SpatialConvolution"]
    model = HandWritten()
    state = {}
    for i, conv in enumerate(convs):
        state[f"convs.{i}.weight"] = torch.from_numpy(conv["weight"].numpy())
        state[f"convs.{i}.bias"] = torch.from_numpy(conv["bias"].numpy())
    model.load_state_dict(state)
    return model.eval()


# --- the LSTM language model and its hand-written equivalent --------------------------------

VOCAB, HIDDEN, LAYERS, STEPS, LM_BATCH = 100, 256, 2, 50, 16
LM_FORWARD_LIMIT = 1.1


def language_model(seed: int = 0) -> T7Object:
    """torch-rnn's nn.LanguageModel{model_type='lstm', wordvec_size=rnn_size=HIDDEN,
    num_layers=LAYERS, dropout=0, batchnorm=0}, its fields as LanguageModel.lua sets them
    (remember_states off: every call starts from zero state, as the hand-written one does)."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 1 / np.sqrt(shape[0]), shape).astype(np.float32)

    rnns = [
        _module(
            "nn.LSTM",
            input_dim=HIDDEN,
            hidden_dim=HIDDEN,
            remember_states=False,
            weight=normal(2 * HIDDEN, 4 * HIDDEN),
            bias=normal(4 * HIDDEN) / 10,
        )  # fmt: skip
        for _ in range(LAYERS)
    ]
    view1 = _module("nn.View", size=[1, -1], numInputDims=3, numElements=1)
    view2 = _module("nn.View", size=[1, -1], numInputDims=2, numElements=1)
    linear = _module("nn.Linear", weight=normal(VOCAB, HIDDEN), bias=normal(VOCAB) / 10)
    lookup = _module("nn.LookupTable", weight=normal(VOCAB, HIDDEN), paddingValue=0)
    net = _module("nn.Sequential", modules=[lookup, *rnns, view1, linear, view2])
    return _module(
        "nn.LanguageModel", net=net, rnns=rnns, view1=view1, view2=view2, bn_view_in={},
        bn_view_out={}, vocab_size=VOCAB, wordvec_dim=HIDDEN, rnn_size=HIDDEN,
        num_layers=LAYERS, model_type="lstm", dropout=0, batchnorm=0,
    )  # fmt: skip


class HandWrittenLM(nn.Module):
    """What one would write in PyTorch for language_model: ids 1..VOCAB (Lua's) in, scores out
    (N x T, or T x N for rnn's time-major Sequencers: bench_recurrent.py)."""

    def __init__(self, batch_first: bool = True):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        self.lstm = nn.LSTM(HIDDEN, HIDDEN, num_layers=LAYERS, batch_first=batch_first)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(self.embed(x - 1))[0])


def hand_written_lm(path: Path) -> nn.Module:
    net = load_t7(path)["net"]["modules"]
    lookup, *rnns = net[: 1 + LAYERS]
    linear = net[-2]
    h = HIDDEN  # torch-rnn's gates i, f, o, g as nn.LSTM's i, f, g, o
    order = np.r_[0 : 2 * h, 3 * h : 4 * h, 2 * h : 3 * h]
    state = {
        "embed.weight": lookup["weight"].numpy(),
        "out.weight": linear["weight"].numpy(),
        "out.bias": linear["bias"].numpy(),
    }
    for i, rnn in enumerate(rnns):
        weight, bias = rnn["weight"].numpy()[:, order], rnn["bias"].numpy()[order]
        state[f"lstm.weight_ih_l{i}"] = weight[:HIDDEN].T
        state[f"lstm.weight_hh_l{i}"] = weight[HIDDEN:].T
        state[f"lstm.bias_ih_l{i}"] = bias
        state[f"lstm.bias_hh_l{i}"] = np.zeros_like(bias)
    model = HandWrittenLM()
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    return model.eval()


# --- the comparison -------------------------------------------------------------------------


def compare(  # noqa: ANN001 - x: a tensor or a list of them
    title: str, path: Path, builds: dict[str, Callable], x, args, forward_limit=FORWARD_LIMIT
) -> bool:
    """Time the two builds (baseline first, then generic) and their forwards on `x`, in rounds
    of alternating calls, each round long enough (--round seconds) to average out jitter."""
    times = {k: {"build": [], "first": [], "forward": []} for k in builds}
    models: dict[str, nn.Module] = {}
    for name, build in builds.items():  # warm-up, and the length of one call
        times[name]["build"].append(timed(lambda build=build: build(path))[0])
    calls = calls_per_round(max(t["build"][0] for t in times.values()), args.round)
    for _ in range(args.repeat):
        for name, build in builds.items():
            models.pop(name, None)  # free the previous copy before timing a new one
            times[name]["build"].append(per_call(lambda build=build: build(path), calls))
            models[name] = build(path)
            times[name]["first"].append(forward(models[name], x))
    calls = calls_per_round(max(min(t["first"]) for t in times.values()), args.round)
    with torch.no_grad():
        for _ in range(args.forwards):
            for name, model in models.items():
                times[name]["forward"].append(per_call(lambda model=model: model(x), calls))
        baseline, generic = builds
        delta = float((models[generic](x) - models[baseline](x)).abs().max())
    print(f"\n{title}, {torch.get_num_threads()} threads, {clock_name()} time; "
          f"outputs differ by {delta:.3g}")  # fmt: skip
    for name in builds:
        t = {k: min(v) for k, v in times[name].items()}
        print(
            f"  {name:12s} build {t['build']:7.3f} s   first forward {t['first']:7.3f} s   "
            f"forward {t['forward']:7.4f} s"
        )
    ratio = {k: min(times[generic][k]) / min(times[baseline][k]) for k in times[generic]}
    ok_build, ok_fwd = ratio["build"] <= BUILD_LIMIT, ratio["forward"] <= forward_limit
    print(f"  generic/{baseline} build          {ratio['build']:.2f}x (limit {BUILD_LIMIT}x): "
          f"{'ok' if ok_build else 'MISSED'}")  # fmt: skip
    print(f"  generic/{baseline} first forward  {ratio['first']:.2f}x")
    print(f"  generic/{baseline} forward        {ratio['forward']:.3f}x "
          f"(limit {forward_limit}x): {'ok' if ok_fwd else 'MISSED'}")  # fmt: skip
    return ok_build and ok_fwd


def compare_options(ap: argparse.ArgumentParser) -> None:
    """The options `compare` reads (this script's and bench_recurrent.py's)."""
    ap.add_argument("--repeat", type=int, default=5, help="rounds of builds")
    timing_options(ap)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, default=FIXTURES)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--skip-irv2", action="store_true", help="no full-IRv2 comparison")
    compare_options(ap)
    args = ap.parse_args()
    use_clock(args.clock)
    src_gz = args.fixture / "full" / "irv2_full.t7.gz"
    if not args.skip_irv2 and not src_gz.is_file():
        sys.exit(f"{src_gz}: not found (pass --fixture, or --skip-irv2)")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "residual_gmodule.t7"
        save_t7(residual_graph(), graph)
        x = torch.randn(
            args.batch, CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(0)
        )
        ok &= compare(
            f"{3 * BLOCKS + 1}-node gModule ({BLOCKS} residual conv blocks, {CHANNELS} channels, "
            f"{SIZE}x{SIZE}), batch {args.batch}",
            graph, {"hand-written": hand_written, "generic": translate}, x, args,
        )  # fmt: skip
        lm = Path(tmp) / "lstm_language_model.t7"
        save_t7(language_model(), lm)
        ids = torch.randint(
            1, VOCAB + 1, (LM_BATCH, STEPS), generator=torch.Generator().manual_seed(0)
        )
        ok &= compare(
            f"{LAYERS}-layer LSTM language model (torch-rnn; vocabulary {VOCAB}, hidden {HIDDEN}, "
            f"sequence {STEPS}), batch {LM_BATCH}",
            lm, {"hand-written": hand_written_lm, "generic": translate}, ids, args,
            forward_limit=LM_FORWARD_LIMIT,
        )  # fmt: skip
        if not args.skip_irv2:
            full = Path(tmp) / "irv2_full.t7"
            gunzip(src_gz, full)
            mapped = {"mapped": lambda p: convert_checkpoint(p).build_model(), "generic": translate}
            ok &= compare(f"full IRv2, batch {args.batch}", full, mapped,
                          random_input(batch=args.batch), args)  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
