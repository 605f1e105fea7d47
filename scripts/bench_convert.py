"""Benchmark t7convert against the floor `torchfile.load + torch.save` of the same tensors.

Each command runs in its own process (wall time and peak RSS from wait4), best of --repeat:
- ours:  `t7convert SRC out.pt`
- floor: `torchfile.load(SRC)`, collect the same parameter/statistics arrays, `torch.save`
- bare:  `python -c "import torch"` (subtracted from RSS: what the import alone costs)
on the full fixture and on a synthetic copy carrying --bloat x the parameter bytes in
activation buffers (what lim0606's checkpoints.lua leaves in a file saved without clearState).

    python scripts/bench_convert.py [--fixture ../shared/fixtures/torch7] [--repeat 3] [--bloat 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixture_set import FIXTURES, gunzip

FLOOR = r"""
import sys, numpy as np, torch, torchfile
obj = torchfile.load(sys.argv[1], use_list_heuristic=False)
state, seen = {}, set()
def walk(o, path):
    if id(o) in seen: return
    seen.add(id(o))
    if isinstance(o, torchfile.TorchObject):
        d = o._obj
        for f in (b"weight", b"bias", b"running_mean", b"running_var"):
            if isinstance(d.get(f), np.ndarray) and d[f].size:
                state[f"{path}.{f.decode()}"] = torch.from_numpy(np.ascontiguousarray(d[f]))
        mods = d.get(b"modules") or {}
        for k, v in mods.items():
            walk(v, f"{path}.{k}")
walk(obj, "m")
torch.save(state, sys.argv[2])
"""


def measure(cmd: list[str], repeat: int) -> tuple[float, float]:
    """(best wall seconds, best peak RSS in MB) of `cmd` over `repeat` runs."""
    walls, rss = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"benchmark command failed: {' '.join(cmd)}")
        rss.append(usage.ru_maxrss / 1024)
    return min(walls), min(rss)


def bloated_copy(src: Path, dst: Path, factor: int) -> int:
    import numpy as np

    from converter.torch7 import modules as t7modules
    from converter.torch7.reader import load_t7
    from converter.torch7.writer import save_t7

    model = load_t7(src)
    modules = [m for _, m in t7modules.walk(t7modules.unwrap(model))]
    param_bytes = 4 * sum(t.numel for m in modules for t in t7modules.state_tensors(m).values())
    per_module = factor * param_bytes // (4 * len(modules))
    for m in modules:
        m.fields["output"] = np.full(per_module, 0.5, dtype=np.float32)
    save_t7(model, dst)
    return param_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, default=FIXTURES)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bloat", type=int, default=4)
    ap.add_argument("--make-bloated", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_bloated:
        src, dst, factor = args.make_bloated
        print(bloated_copy(Path(src), Path(dst), int(factor)))
        return
    src_gz = args.fixture / "full" / "irv2_full.t7.gz"
    if not src_gz.is_file():
        sys.exit(f"{src_gz}: not found (pass --fixture)")
    t7convert = shutil.which("t7convert") or sys.exit("t7convert is not installed (pip install .)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full = tmp / "irv2_full.t7"
        gunzip(src_gz, full)
        bloated = tmp / "irv2_bloated.t7"
        # In a child process: a child's peak RSS starts at its parent's, so this one stays small.
        param_bytes = int(
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--make-bloated",
                    str(full),
                    str(bloated),
                    str(args.bloat),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        _, bare_rss = measure([sys.executable, "-c", "import torch"], args.repeat)
        print(
            f"bare `import torch`: peak RSS {bare_rss:.0f} MB; parameter bytes "
            f"{param_bytes / 2**20:.0f} MB"
        )
        for label, src in (("full", full), (f"full + {args.bloat}x buffers", bloated)):
            size = src.stat().st_size / 2**20
            ours = measure([t7convert, str(src), str(tmp / "o.pt"), "--force", "-q"], args.repeat)
            floor = measure([sys.executable, "-c", FLOOR, str(src), str(tmp / "f.pt")], args.repeat)
            print(f"\n{label} ({size:.0f} MB file)")
            for name, (wall, rss) in (("t7convert", ours), ("floor", floor)):
                extra = rss - bare_rss
                print(
                    f"  {name:10s} wall {wall:6.2f} s   peak RSS {rss:6.0f} MB   above bare "
                    f"{extra:6.0f} MB = {extra * 2**20 / param_bytes:.2f}x parameter bytes"
                )
            print(
                f"  ratio t7convert/floor: wall {ours[0] / floor[0]:.2f}x (target <= 1.1x), "
                f"RSS above bare {(ours[1] - bare_rss) / (floor[1] - bare_rss):.2f}x"
            )


if __name__ == "__main__":
    main()
