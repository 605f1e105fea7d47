"""Benchmark the generated `.py` (t7convert ... model.py) against baselines in the same run.

1. Forward, full IRv2 (fixture full/irv2_full.t7.gz): the module generated from the generic
   translation vs the translated module itself, the module generated from the mapped path vs
   the hand-written InceptionResNetV2 (converter/irv2/model.py) it copies, and the generated
   generic module vs the hand-written one. Rounds of interleaved forwards, each repeated until it
   lasts --round seconds; the minimum per model is kept; the limit is 2 % (ratio <= 1.02). The
   generated outputs are also checked: equal to the translated/mapped module's bit for bit,
   and within 1e-5 x max|ref| of Torch7's (irv2_full_ref.t7).
2. Writing: `t7convert resnet18.t7.gz r18.py --generic` in a fresh process, timed after
   `import torch` (as scripts/bench_formats.py times it), against the same conversion to
   .safetensors; the limit is 1.5 s.

Exits 1 if a limit is missed. On a machine others share, --clock cpu (one thread, this
process's CPU time) is steadier than wall time.

    python scripts/bench_pysource.py [--fixture ../shared/fixtures/torch7] [--clock cpu]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import torch
from bench_formats import convert
from fixture_set import FIXTURES, gunzip
from timing import calls_per_round, per_call, timed, timing_options, use_clock
from torch import nn

from converter.cli import main as t7convert
from converter.generic.translator import translate
from converter.irv2.convert import convert_checkpoint
from converter.torch7.reader import load_t7

FORWARD_LIMIT = 1.02
WRITE_LIMIT_S = 1.5


def generated(source: Path, output: Path, *args: str) -> nn.Module:
    """t7convert SOURCE OUTPUT.py [args], then the .py imported and load()ed."""
    t7convert([str(source), str(output), "--force", "-q", *args], standalone_mode=False)
    spec = importlib.util.spec_from_file_location(output.stem, output)
    module = importlib.util.module_from_spec(spec)
    sys.modules[output.stem] = module  # as `import` would: dataclasses look their module up
    spec.loader.exec_module(module)
    return module.load()


def forwards(models: dict[str, nn.Module], x: torch.Tensor, args) -> dict[str, float]:  # noqa: ANN001
    """Seconds per forward of each model: the minimum over rounds of interleaved calls, the
    order rotated each round (the one that runs first must not always be the same)."""
    times: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    with torch.no_grad():
        first = min(timed(lambda m=m: m(x))[0] for m in models.values())
        calls = calls_per_round(first, args.round)
        for r in range(args.forwards):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                model = models[name]
                times[name].append(per_call(lambda m=model: m(x), calls))
    return {name: min(t) for name, t in times.items()}


def check_outputs(models: dict[str, nn.Module], ref: dict) -> None:
    x = torch.from_numpy(ref["input"].numpy())
    want = torch.from_numpy(ref["output"].numpy())
    with torch.no_grad():
        out = {name: m(x) for name, m in models.items()}
    for gen, base in (("generated generic", "translated"), ("generated mapped", "hand-written")):
        same = torch.equal(out[gen], out[base])
        delta = float((out[gen] - want).abs().max() / want.abs().max())
        print(f"  {gen}: vs {base} {'bit for bit' if same else 'DIFFERENT'}, vs Torch7 "
              f"max|Δ|/max|ref| = {delta:.2g}")  # fmt: skip
        if not same or delta > 1e-5:
            sys.exit(f"{gen}: wrong output")


def bench_forward(full_gz: Path, tmp: Path, args) -> bool:  # noqa: ANN001
    full = tmp / "irv2_full.t7"
    gunzip(full_gz, full)
    models = {
        "hand-written": convert_checkpoint(full).build_model(),
        "translated": translate(full),
        "generated generic": generated(full, tmp / "irv2_generic.py", "--generic"),
        "generated mapped": generated(full, tmp / "irv2_mapped.py"),
    }
    print(f"full IRv2, batch {args.batch}, {torch.get_num_threads()} threads, {args.clock} time")
    check_outputs(models, load_t7(full_gz.parent / "irv2_full_ref.t7"))
    x = torch.rand(args.batch, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 4 - 2
    t = forwards(models, x, args)
    for name, seconds in t.items():
        print(f"  {name:18s} forward {seconds:.4f} s")
    ok = True
    for gen, base in (
        ("generated generic", "translated"),
        ("generated mapped", "hand-written"),
        ("generated generic", "hand-written"),
    ):
        ratio = t[gen] / t[base]
        ok &= ratio <= FORWARD_LIMIT
        verdict = "ok" if ratio <= FORWARD_LIMIT else "MISSED"
        print(f"  {gen}/{base:12s} {ratio:.3f}x (limit {FORWARD_LIMIT}x): {verdict}")
    return ok


def bench_write(r18_gz: Path, tmp: Path, repeat: int, clock: str) -> bool:
    runs: dict[str, list[float]] = {"py": [], "safetensors": []}
    for _ in range(repeat):
        for fmt in runs:
            seconds, _ = convert(r18_gz, tmp / f"r18.{fmt}", None, clock)
            runs[fmt].append(seconds)
    py, st = min(runs["py"]), min(runs["safetensors"])
    ok = py <= WRITE_LIMIT_S
    print(f"ResNet-18 (.t7.gz) --generic, after import torch, {clock} time, best of {repeat}:")
    print(f"  .py + .safetensors {py:.2f} s vs .safetensors alone {st:.2f} s ({py / st:.2f}x); "
          f"limit {WRITE_LIMIT_S} s: {'ok' if ok else 'MISSED'}")  # fmt: skip
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, default=FIXTURES)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="conversions timed per format")
    timing_options(ap, forwards=40)
    args = ap.parse_args()
    use_clock(args.clock)
    for needed in ("full/irv2_full.t7.gz", "resnet18/resnet18.t7.gz"):
        if not (args.fixture / needed).is_file():
            sys.exit(f"{args.fixture / needed}: not found (pass --fixture)")
    with tempfile.TemporaryDirectory() as tmp:
        ok = bench_forward(args.fixture / "full" / "irv2_full.t7.gz", Path(tmp), args)
        r18 = args.fixture / "resnet18" / "resnet18.t7.gz"
        ok &= bench_write(r18, Path(tmp), args.repeat, args.clock)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
