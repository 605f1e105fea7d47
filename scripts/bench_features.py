"""irv2-features' extraction (`extract_features`: DataLoader workers, batches, the HDF5 file
streamed row block by row block) against a bare loop over the same DataLoader and model that
keeps the features in memory.

Speed: the two alternate `--rounds` times in one process and the fastest pass of each is
compared (the machine may be shared: the best pass is the least disturbed). Memory: each run in
a fresh process, so its peak RSS is its own. Targets: >= 0.95x the bare loop's
images/s; peak memory flat in N (the file is written as the batches come, nothing is held).

Memory is measured at N and 4N images. With the tiny IRv2's 256 features the 4N rows are a
few hundred KiB, below the few MiB that peak RSS varies by, so the memory runs default to a
parameter-free stand-in network (`--memory-model pool`: average-pool to 3 x 32 x 32 = 3072
features per image, no convolutions) that reaches tens of MiB of features in seconds on a CPU;
the loader and the writer are the same. `--memory-model weights` measures with --weights.
(With `--preprocess fast` the RSS of both variants climbs, measured once to ~900 MiB over the
first ~1000 images and level to 2000, and stays flat with MALLOC_MMAP_THRESHOLD_=1000000: glibc
keeps the freed 17 MB float32 batches in its heap once its mmap threshold has risen. That is
the fast pipeline's main-process normalisation, irv2-eval's too, not the writer's.)

    python scripts/bench_features.py                       # tiny IRv2 (tests/data), 2 workers
    python scripts/bench_features.py --weights irv2.pt --device cuda --images 512 --batch 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixture_set import FIXTURES

REPO = Path(__file__).resolve().parent.parent


def image_folder(root: Path, n: int, photos: Path) -> Path:
    """n images (links to the fixture photos, cycled) in one flat folder."""
    sources = sorted(photos.glob("*.JPEG"))
    folder = root / f"images{n}"
    folder.mkdir()
    for i in range(n):
        src = sources[i % len(sources)]
        os.symlink(src, folder / f"{i:06d}_{src.name}")
    return folder


def _model(args: argparse.Namespace, memory: bool):
    import torch

    from evaluate.pretrained import presets
    from evaluate.pretrained.model import load_pretrained

    if memory and args.memory_model == "pool":
        pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(32), torch.nn.Flatten())
        return pool, "stand-in: average pool to 3x32x32", presets.PRESETS["irv2"]
    model = load_pretrained(args.weights)
    module, layer = model.features()
    return module, layer, model.preset


def extract_once(variant: str, args: argparse.Namespace, module, layer, preset) -> tuple:
    """One pass over the images: (seconds, features per image)."""
    import numpy as np
    import torch

    from evaluate.data.datasets import ImageDataset
    from evaluate.data.imagelist import ImageList
    from evaluate.data.preprocess import ValTransform, model_input
    from evaluate.pretrained.features import FeatureSettings, extract_features
    from evaluate.validate import indexed_loader, prepare_model

    device = torch.device(args.device)
    paths = sorted(Path(args.folder).iterdir())
    images = ImageList(Path(args.folder), paths, [-1] * len(paths), None, "bench")
    settings = FeatureSettings(
        preset, args.preprocess, 1, args.batch, args.workers, device, args.channels_last
    )
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    if variant == "features":  # what irv2-features runs, file included
        out = Path(args.folder).parent / f"features_{os.getpid()}.h5"
        run = extract_features(module, layer, images, [str(p) for p in paths], out, settings)
        dim = run.dim
        out.unlink()
    else:  # the same DataLoader and model, the features kept in a list
        transform = ValTransform(args.preprocess, 1, preset.scale_size, preset.crop_size)
        loader = indexed_loader(
            ImageDataset(images, transform), range(len(paths)), args.batch, args.workers, device
        )
        module = prepare_model(module, device, channels_last=args.channels_last)
        rows = []
        with torch.inference_mode():
            for _, batch, _, _ in loader:
                x = model_input(batch.to(device, non_blocking=True), args.channels_last)
                rows.append(module(x).float().cpu().numpy())
        dim = np.concatenate(rows).shape[1]
    sync()
    return time.perf_counter() - start, dim


def child(args: argparse.Namespace) -> dict:
    """speed: both variants alternately, `--rounds` times, the fastest pass of each;
    memory: one pass of `--variant` and this process's peak RSS."""
    module, layer, preset = _model(args, memory=args.measure == "memory")
    n = len(list(Path(args.folder).iterdir()))
    if args.measure == "memory":
        _, dim = extract_once(args.variant, args, module, layer, preset)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"peak_mib": peak, "dim": dim}
    best = {"bare": 0.0, "features": 0.0}
    for r in range(args.rounds):
        for variant in best:
            seconds, dim = extract_once(variant, args, module, layer, preset)
            print(f"round {r + 1} {variant:8s} {n / seconds:8.2f} images/s", file=sys.stderr)
            best[variant] = max(best[variant], n / seconds)
    return {**best, "dim": dim}


def _child(args: argparse.Namespace, folder: Path, measure: str, variant: str = "") -> dict:
    command = [sys.executable, __file__, *sys.argv[1:], "--folder", str(folder)]
    command += ["--measure", measure] + (["--variant", variant] if variant else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(REPO / "tests" / "data" / "irv2_tiny.t7"))
    p.add_argument("--photos", type=Path, default=FIXTURES / "images")
    p.add_argument("--images", type=int, default=48, help="N for the speed runs")
    p.add_argument("--memory-images", type=int, default=1000, help="N (and 4N) for memory; 0: none")
    p.add_argument("--memory-model", choices=["pool", "weights"], default="pool")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--preprocess", choices=["torch7", "fast"], default="torch7")
    p.add_argument("--device", default="cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--memory-rounds", type=int, default=2)
    p.add_argument("--variant", choices=["bare", "features"], help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--measure", choices=["speed", "memory"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(child(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        speed = _child(args, image_folder(Path(tmp), args.images, args.photos), "speed")
        ratio = speed["features"] / speed["bare"]
        print(
            f"irv2-features / bare loop: {ratio:.3f}x images/s (target >= 0.95; best of "
            f"{args.rounds}: {speed['features']:.1f} vs {speed['bare']:.1f})  [{args.device}, "
            f"{args.images} images, batch {args.batch}, {args.workers} workers, "
            f"{args.preprocess}, {speed['dim']} features]"
        )
        if not args.memory_images:
            return
        peaks: dict[tuple[str, int], float] = {}  # the least of the rounds: RSS varies by MiBs
        for n in (args.memory_images, 4 * args.memory_images):
            folder = image_folder(Path(tmp), n, args.photos)
            for r in range(args.memory_rounds):
                for variant in ("bare", "features"):
                    result = _child(args, folder, "memory", variant)
                    peak = min(peaks.get((variant, n), float("inf")), result["peak_mib"])
                    peaks[variant, n] = peak
                    print(
                        f"memory round {r + 1} {variant:8s} N={n:6d}: peak RSS "
                        f"{result['peak_mib']:8.1f} MiB ({n * result['dim'] * 4 / 2**20:.1f} MiB "
                        "of features)"
                    )
        n = args.memory_images
        for variant in ("bare", "features"):
            growth = peaks[variant, 4 * n] - peaks[variant, n]
            print(f"{variant:8s}: peak RSS at N={4 * n} minus at N={n}: {growth:+.1f} MiB")
        flat = peaks["features", 4 * n] / peaks["features", n]
        print(f"irv2-features peak memory at 4N / at N: {flat:.3f}x (target: flat, ~1.0)")


if __name__ == "__main__":
    main()
