"""Benchmark: images/s of the torch7 and fast evaluation pipelines against the usual baseline.

Baseline = what a PyTorch user writes (torchvision's Resize(328, BICUBIC) + CenterCrop(299) +
ToTensor + Normalize, spelled out on Pillow): decode + resize + crop + normalise, no model.
All three run through the same DataLoader (same images, same workers, one intra-op thread per
worker) and the script prints each rate and its ratio to the baseline measured in the same run.
Each batch is made the model input in the timed loop (`preprocess.model_input`): `fast` ships
bytes and normalises them there, in the main process, which here is a CPU.

Two more rows: `fast bytes` is `fast` without that normalisation, i.e. the CPU's share where a
GPU normalises the batch; `decode` only decodes each file in full and ships a 299x299 crop of
its bytes (no resize, no normalisation): no pipeline that must decode the whole JPEG (every
image smaller than twice the needed size) can beat it, so it is the ceiling on such images.

    python scripts/bench_transforms.py [--images DIR] [--workers 2] [--repeat 40] [--large]

The fixture photos are an edge-case set (a PNG, a CMYK JPEG, a grayscale one), whose slow
decodes weigh on every pipeline alike, so the same photos also run re-encoded as ImageNet's
typical file is (a 500x375 or 375x500 RGB JPEG, quality 90). `--large` adds 1600x1200 copies,
where JPEG draft decoding pays off (ImageNet has such images, but few).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from evaluate.data import transforms
from evaluate.data.imagedecode import load_pixels, open_image, torch_channels
from evaluate.data.preprocess import ValTransform, model_input
from evaluate.data.transforms import CROP_SIZE, MEAN, SCALE_SIZE, STD

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared/fixtures/torch7/images"


def baseline(path: str) -> torch.Tensor:
    """torchvision-style: default_loader, Resize, CenterCrop, ToTensor, Normalize."""
    with open(path, "rb") as f:
        img = Image.open(f).convert("RGB")
    w, h = img.size
    size = (SCALE_SIZE, int(SCALE_SIZE * h / w)) if w < h else (int(SCALE_SIZE * w / h), SCALE_SIZE)
    img = img.resize(size, Image.BICUBIC)
    left, top = round((size[0] - CROP_SIZE) / 2), round((size[1] - CROP_SIZE) / 2)
    img = img.crop((left, top, left + CROP_SIZE, top + CROP_SIZE))
    t = torch.from_numpy(np.array(img, np.uint8, copy=True)).view(CROP_SIZE, CROP_SIZE, 3)
    t = t.permute(2, 0, 1).contiguous().to(torch.float32).div(255)
    mean = torch.as_tensor(MEAN, dtype=t.dtype).view(-1, 1, 1)
    std = torch.as_tensor(STD, dtype=t.dtype).view(-1, 1, 1)
    return t.sub_(mean).div_(std)


def decode_only(path: str) -> torch.Tensor:
    """The least any full-decoding pipeline does: decode, then a 299x299 crop of the bytes."""
    im = open_image(path)
    load_pixels(im, path)
    im = torch_channels(im, path)
    return torch.from_numpy(np.array(im.convert("RGB").crop((0, 0, CROP_SIZE, CROP_SIZE))))


class Files(torch.utils.data.Dataset):
    def __init__(self, paths: list[str], transform) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(self.paths[i])


def _single_thread(_: int) -> None:
    torch.set_num_threads(1)


def rate(
    paths: list[str], transform, workers: int, normalize: bool = True, rounds: int = 3
) -> float:
    """Best images/s over `rounds` passes (the first pass also starts the workers); with
    `normalize`, each batch is made the model input in this (the main) process."""
    finish = model_input if normalize else (lambda batch: batch)
    torch.set_num_threads(1)
    loader = torch.utils.data.DataLoader(
        Files(paths, transform),
        batch_size=16,
        num_workers=workers,
        persistent_workers=workers > 0,
        worker_init_fn=_single_thread if workers else None,
    )
    best = 0.0
    for _ in range(rounds + 1):
        start = time.perf_counter()
        n = sum(len(finish(batch)) for batch in loader)
        best = max(best, n / (time.perf_counter() - start))
    return best


def run(name: str, paths: list[str], workers: int) -> None:
    pipelines = {
        "baseline": (baseline, True),
        "torch7": (ValTransform("torch7"), True),
        "fast": (ValTransform("fast"), True),
        "fast bytes": (ValTransform("fast"), False),
        "decode": (decode_only, False),
    }
    rates = {key: rate(paths, fn, workers, norm) for key, (fn, norm) in pipelines.items()}
    kernel = transforms.bicubic_kernel()
    print(f"{name}: {len(paths)} images per pass, {workers} workers, Torch bicubic: {kernel}")
    for key, value in rates.items():
        print(f"  {key:>10}: {value:8.1f} images/s   x{value / rates['baseline']:.2f} baseline")


def _jpeg_copies(sources: list[Path], folder: Path, long_side: int, short_side: int) -> list[str]:
    """The photos as RGB JPEGs of long_side x short_side, in their own orientation."""
    out = []
    for src in sources:
        with Image.open(src) as im:
            size = (short_side, long_side) if im.height > im.width else (long_side, short_side)
            copy = im.convert("RGB").resize(size, Image.BICUBIC)
        dst = folder / f"{src.stem}_{size[0]}x{size[1]}.jpg"
        copy.save(dst, quality=90)
        out.append(str(dst))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=40, help="passes over the folder per pass")
    parser.add_argument("--large", action="store_true", help="also time 1600x1200 copies")
    args = parser.parse_args()
    sources = sorted(p for p in args.images.iterdir() if p.is_file())
    run(f"photos in {args.images}", [str(p) for p in sources] * args.repeat, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        typical = _jpeg_copies(sources, Path(tmp), 500, 375)
        run("ImageNet-sized JPEG copies", typical * args.repeat, args.workers)
        if args.large:
            large = _jpeg_copies(sources, Path(tmp), 1600, 1200)
            run("1600x1200 JPEG copies", large * max(1, args.repeat // 4), args.workers)


if __name__ == "__main__":
    main()
