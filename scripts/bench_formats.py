"""Benchmark `t7convert --generic` to .safetensors against .pt2 (and .onnx), in the same run.

Each conversion runs in a fresh Python process, as a user's would, that imports torch before the
clock starts (the issue excludes `import torch`); everything after it, the other imports
included, is timed. Sources: the ResNet-18 fixture (read as the .t7.gz it is) and the bundled
tiny IRv2. Formats alternate, --repeat times each (--onnx-repeat for .onnx); the minimum is
reported (the least disturbed on a shared machine), with the ONNX export time t7convert reports
and the file sizes. Exits 1 if ResNet-18 to .safetensors misses the issue's 1.5 s.

    python scripts/bench_formats.py [--fixture ../shared/fixtures/torch7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from fixture_set import FIXTURES

REPO = Path(__file__).resolve().parent.parent
LIMIT_S = 1.5  # ResNet-18 to .safetensors
SHAPES = {"resnet18": "3,224,224", "irv2_tiny": "3,299,299"}

CHILD = """
import json, sys, time
import torch  # not timed
from converter.cli import main
clock = time.process_time if sys.argv[1] == "cpu" else time.perf_counter
start = clock()
try:
    main(sys.argv[2:], standalone_mode=False)
except SystemExit as e:
    if e.code:
        raise
print(json.dumps({"seconds": clock() - start}))
"""


def convert(
    source: Path, output: Path, shape: str | None, clock: str = "wall"
) -> tuple[float, str]:
    """(seconds after import torch, what t7convert printed) of one conversion; `clock` "cpu":
    the process's CPU seconds (all its threads), steadier on a shared machine."""
    args = [str(source), str(output), "--generic", "--force"]
    if shape:
        args += ["--input-shape", shape]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, clock, *args], capture_output=True, text=True, cwd=REPO
    )
    if done.returncode:
        sys.exit(f"t7convert {' '.join(args)} failed:\n{done.stderr}")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1])["seconds"], "\n".join(lines[:-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, default=FIXTURES)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--onnx-repeat", type=int, default=1)
    args = ap.parse_args()
    sources = {
        "resnet18": args.fixture / "resnet18" / "resnet18.t7.gz",
        "irv2_tiny": REPO / "tests" / "data" / "irv2_tiny.t7",
    }
    for path in sources.values():
        if not path.is_file():
            sys.exit(f"{path}: not found (pass --fixture)")
    formats = {"safetensors": args.repeat, "pt2": args.repeat, "onnx": args.onnx_repeat}
    times: dict[tuple[str, str], list[float]] = {}
    export: dict[str, list[float]] = {}
    sizes: dict[tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(max(formats.values())):
            for name, source in sources.items():
                for fmt, repeat in formats.items():
                    if i >= repeat:
                        continue
                    out = Path(tmp) / f"{name}.{fmt}"
                    shape = SHAPES[name] if fmt != "safetensors" else None
                    seconds, said = convert(source, out, shape)
                    times.setdefault((name, fmt), []).append(seconds)
                    sizes[(name, fmt)] = out.stat().st_size
                    found = re.search(r"ONNX exported in ([0-9.]+) s", said)
                    if found:
                        export.setdefault(name, []).append(float(found.group(1)))
    print("t7convert --generic, seconds after `import torch` (min of runs)")
    for name in sources:
        row = "  ".join(
            f"{fmt} {min(times[(name, fmt)]):6.2f} s ({sizes[(name, fmt)] / 1e6:.1f} MB)"
            for fmt in formats
        )
        ratio = min(times[(name, "pt2")]) / min(times[(name, "safetensors")])
        print(f"{name:10s} {row}  pt2/safetensors {ratio:.1f}x")
        print(f"{'':10s} ONNX export alone (torch.onnx.export + checker) {min(export[name]):.2f} s")
    best = min(times[("resnet18", "safetensors")])
    ok = best <= LIMIT_S
    print(
        f"resnet18 -> .safetensors {best:.2f} s (target <= {LIMIT_S} s): {'ok' if ok else 'MISSED'}"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
