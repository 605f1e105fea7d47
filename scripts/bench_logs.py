"""Benchmark: log parsing speed against grep+awk, and memory against log size.

Writes a synthetic fb.resnet.torch log (default 90 epochs x 20 019 train lines + 782 test lines
per epoch: the size of the authors' ImageNet log) with `evaluate.logs.format`, then in the same run
times `grep | awk` extracting the same columns (epoch, iter, iters, time, data, loss/top1/top5),
the parser's record stream alone, and the parser plus the per-epoch summary. Peak memory is the
ru_maxrss of a child process that parses a 1/10-size log and then the full log.

    python scripts/bench_logs.py [--epochs 90] [--iters 20019] [--test-iters 782]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluate.logs import format as fmt  # noqa: E402

_AWK = r"""
/^ \| (Epoch|Test): \[/ {
  split($3, a, /[][\/]+/)
  if ($2 == "Epoch:") print "train", a[2], a[3], a[4], $5, $7, $9, $11, $13
  else { gsub(/[()]/, " "); print "test", a[2], a[3], a[4], $5, $7, $9, $10, $12, $13 }
}"""
_CHILD = """
import resource, sys
from evaluate.logs.runs import Run
run = Run.from_files([sys.argv[1]])
assert run.epochs(), "no epochs parsed"
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_log(path: Path, epochs: int, iters: int, test_iters: int) -> int:
    """A plain classic log; returns its number of lines."""
    rnd = random.Random(0)
    lines = 0
    with open(path, "w") as f:
        for e in range(1, epochs + 1):
            f.write(fmt.format_epoch_header(e) + "\n")
            base = 100.0 * 0.97**e
            for n in range(1, iters + 1):
                top1 = base * (0.8 + 0.4 * rnd.random())
                f.write(
                    fmt.format_train_line(
                        e, n, iters, 0.6 + rnd.random(), 0.002, 6.9 * base / 100, top1, top1 / 3
                    )
                    + "\n"
                )
            for n in range(1, test_iters + 1):
                f.write(
                    fmt.format_test_line(
                        e, n, test_iters, 0.5, 0.01, base, base, base / 3, base / 3
                    )
                    + "\n"
                )
            f.write(fmt.format_finished_line(e, base, base / 3) + "\n")
            f.write(fmt.format_best_line(base, base / 3) + "\n")
            lines += 1 + iters + test_iters + 3
    return lines


def time_grep_awk(path: Path) -> float:
    t = time.perf_counter()
    cmd = f"grep -E '^ \\| (Epoch|Test): \\[' {path} | awk '{_AWK}' > /dev/null"
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - t


def time_records(path: Path) -> float:
    from evaluate.logs.parse import read_records

    t = time.perf_counter()
    n = sum(1 for _ in read_records([path]))
    assert n > 0
    return time.perf_counter() - t


def time_summary(path: Path) -> float:
    from evaluate.logs.runs import Run

    t = time.perf_counter()
    Run.from_files([path]).summary()
    return time.perf_counter() - t


def child_maxrss_mb(path: Path) -> float:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[-1]) / 1024  # Linux reports KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=90)
    ap.add_argument("--iters", type=int, default=20019)
    ap.add_argument("--test-iters", type=int, default=782)
    ap.add_argument("--repeat", type=int, default=2, help="best of N timings")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        full, small = Path(d) / "full.log", Path(d) / "small.log"
        t = time.perf_counter()
        n_full = write_log(full, args.epochs, args.iters, args.test_iters)
        n_small = write_log(small, max(1, args.epochs // 10), args.iters, args.test_iters)
        mb = full.stat().st_size / 1e6
        print(
            f"synthetic log: {n_full:,} lines, {mb:.0f} MB "
            f"({args.epochs} x {args.iters} train + {args.test_iters} test lines per epoch), "
            f"written in {time.perf_counter() - t:.1f} s"
        )
        ga = min(time_grep_awk(full) for _ in range(args.repeat))
        rec = min(time_records(full) for _ in range(args.repeat))
        summ = min(time_summary(full) for _ in range(args.repeat))
        for name, sec in (("grep+awk", ga), ("parser (records)", rec), ("parser + summary", summ)):
            print(
                f"{name:18s} {sec:7.2f} s  {n_full / sec / 1e6:6.2f} M lines/s  "
                f"{sec / ga:5.2f}x grep+awk"
            )
        rss_small, rss_full = child_maxrss_mb(small), child_maxrss_mb(full)
        print(
            f"peak RSS of a parsing process: {rss_small:.1f} MB for {n_small:,} lines, "
            f"{rss_full:.1f} MB for {n_full:,} lines (ratio {rss_full / rss_small:.2f}, "
            f"log {n_full / n_small:.1f}x longer)"
        )
    print(f"cpu: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
