"""Benchmark the generic translation of the full IRv2 against the mapped path, in the same run.

Per path, alternating, --repeat times: build (mapped: `convert_checkpoint(...).build_model()`;
generic: `translate(...)`) then the first forward; then --forwards steady forwards of each,
interleaved. Prints the minimum of each time (the least disturbed on a shared machine) and the
generic/mapped ratios against the issue's limits (build <= 1.5x, forward within 5 %).
Exits 1 if a limit is missed.

    python scripts/bench_translate.py [--fixture ../shared/fixtures/torch7] [--batch 2]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from converter.generic.translator import translate
from converter.irv2.convert import convert_checkpoint
from converter.irv2.verify import random_input

BUILD_LIMIT = 1.5
FORWARD_LIMIT = 1.05


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def forward(model: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return timed(lambda: model(x))[0]


def main() -> None:
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "torch7"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, default=default)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--forwards", type=int, default=7)
    args = ap.parse_args()
    src_gz = args.fixture / "full" / "irv2_full.t7.gz"
    if not src_gz.is_file():
        sys.exit(f"{src_gz}: not found (pass --fixture)")
    paths = {
        "mapped": lambda p: convert_checkpoint(p).build_model(),
        "generic": translate,
    }
    x = random_input(batch=args.batch)
    builds: dict[str, list[float]] = {k: [] for k in paths}
    firsts: dict[str, list[float]] = {k: [] for k in paths}
    steady: dict[str, list[float]] = {k: [] for k in paths}
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "irv2_full.t7"
        with gzip.open(src_gz) as fin, open(full, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 22)
        models = {}
        for _ in range(args.repeat):
            for name, build in paths.items():
                models.pop(name, None)  # free the previous copy before timing a new one
                seconds, models[name] = timed(lambda build=build: build(full))
                builds[name].append(seconds)
                firsts[name].append(forward(models[name], x))
        for _ in range(args.forwards):
            for name, model in models.items():
                steady[name].append(forward(model, x))
    print(f"full IRv2, batch {args.batch}, {torch.get_num_threads()} threads")
    for name in paths:
        first, fwd = min(firsts[name]), min(steady[name])
        print(
            f"{name:8s} build {min(builds[name]):6.3f} s   first forward {first:6.3f} s   "
            f"forward {fwd:6.3f} s"
        )
    build_ratio = min(builds["generic"]) / min(builds["mapped"])
    first_ratio = min(firsts["generic"]) / min(firsts["mapped"])
    fwd_ratio = min(steady["generic"]) / min(steady["mapped"])
    ok_build, ok_fwd = build_ratio <= BUILD_LIMIT, fwd_ratio <= FORWARD_LIMIT
    print(
        f"generic/mapped build          {build_ratio:.2f}x (limit {BUILD_LIMIT}x): "
        f"{'ok' if ok_build else 'MISSED'}"
    )
    print(f"generic/mapped first forward  {first_ratio:.2f}x")
    print(
        f"generic/mapped forward        {fwd_ratio:.3f}x (limit {FORWARD_LIMIT}x): "
        f"{'ok' if ok_fwd else 'MISSED'}"
    )
    sys.exit(0 if ok_build and ok_fwd else 1)


if __name__ == "__main__":
    main()
