"""irv2-eval's evaluation loop (`validate.evaluate_model`, which irv2-eval times and reports as
images/s: per-image top-5, softmax probabilities, bad-image handling, progress) against a bare
loop over the same DataLoader and model that only keeps each batch's top-5, on any classifier
the loader takes: by default fb.resnet.torch's ResNet-18 (the Torch7 fixture, fbresnet preset
256/224) and the tiny Inception-ResNet-v2 (irv2 preset 328/299).

The two alternate `--rounds` times in one process and the fastest pass of each is compared (the
machine may be shared: the best pass is the least disturbed). Target: >= 0.95x the bare loop.

    python scripts/bench_eval.py                                   # ResNet-18 and tiny IRv2
    python scripts/bench_eval.py --weights model.t7 --device cuda --images 512 --batch 64
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from fixture_set import FIXTURES, gunzip

REPO = Path(__file__).resolve().parent.parent


def image_folder(root: Path, n: int, photos: Path) -> Path:
    """n images (links to the fixture photos, cycled) in one class folder."""
    sources = sorted(photos.glob("*.JPEG"))
    folder = root / f"images{n}" / "n01440764"
    folder.mkdir(parents=True)
    for i in range(n):
        src = sources[i % len(sources)]
        os.symlink(src, folder / f"{i:06d}_{src.name}")
    return folder.parent


def default_weights(tmp: Path) -> list[Path]:
    """The ResNet-18 fixture (gunzipped here) and the bundled tiny IRv2."""
    r18 = tmp / "resnet18.t7"
    gunzip(FIXTURES / "resnet18" / "resnet18.t7.gz", r18)
    return [r18, REPO / "tests" / "data" / "irv2_tiny.t7"]


def eval_once(variant: str, network, dataset, args: argparse.Namespace) -> float:
    """One pass over the dataset; its seconds."""
    import torch

    from evaluate.data.preprocess import model_input
    from evaluate.validate import evaluate_model, indexed_loader

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    if variant == "irv2-eval":
        evaluate_model(network, dataset, batch_size=args.batch, workers=args.workers, device=device)
    else:  # the same DataLoader and model; each batch's top-5 indices kept, nothing else
        loader = indexed_loader(dataset, range(len(dataset)), args.batch, args.workers, device)
        top = []
        with torch.inference_mode():
            for _, batch, _, _ in loader:
                out = network(model_input(batch.to(device, non_blocking=True), False))
                top.append(out.float().topk(5, dim=1).indices.cpu())
    sync()
    return time.perf_counter() - start


def bench(weights: Path, folder: Path, args: argparse.Namespace) -> float:
    import torch

    from evaluate.data.datasets import ImageDataset, open_images
    from evaluate.data.preprocess import ValTransform
    from evaluate.pretrained.model import load_pretrained
    from evaluate.validate import prepare_model

    model = load_pretrained(weights)
    preset = model.preset
    network = prepare_model(model.network, torch.device(args.device))
    transform = ValTransform(args.preprocess, 1, preset.scale_size, preset.crop_size)
    dataset = ImageDataset(open_images(folder), transform)
    n = len(dataset)
    best = {"bare": 0.0, "irv2-eval": 0.0}
    for r in range(args.rounds):
        for variant in best:
            seconds = eval_once(variant, network, dataset, args)
            print(f"round {r + 1} {variant:9s} {n / seconds:8.2f} images/s", file=sys.stderr)
            best[variant] = max(best[variant], n / seconds)
    ratio = best["irv2-eval"] / best["bare"]
    print(
        f"{weights.name} ({preset.name}): irv2-eval / bare loop {ratio:.3f}x images/s (target "
        f">= 0.95; best of {args.rounds}: {best['irv2-eval']:.1f} vs {best['bare']:.1f})  "
        f"[{args.device}, {n} images, batch {args.batch}, {args.workers} workers, "
        f"{args.preprocess}]"
    )
    return ratio


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, action="append", help="repeatable; default: see above")
    p.add_argument("--photos", type=Path, default=FIXTURES / "images")
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--preprocess", choices=["torch7", "fast"], default="torch7")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = image_folder(Path(tmp), args.images, args.photos)
        for weights in args.weights or default_weights(Path(tmp)):
            bench(weights, folder, args)


if __name__ == "__main__":
    main()
