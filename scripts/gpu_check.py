"""The whole CUDA proof in one command, ending in one table (issue 20/23).

    python scripts/gpu_check.py                          # on a GPU machine: full sizes, < 8 min
    python scripts/gpu_check.py --device cpu --small     # what the test suite runs: seconds

Checks, each one row (PASS / FAIL against a limit, INFO for a measurement, SKIP with why):
- the converted Inception-ResNet-v2 (the full Torch7 fixture when present, else the bundled
  width/8 one, said so), the generic ResNet-18 (fixture) and an nngraph gModule (written here
  with the project's Torch7 writer): output on the device vs on the CPU, max|d| / max|ref|
  <= 1e-4 in float32 (TF32 off for the comparison);
- irv2-eval's forward, images/s at each batch size: fp32, AMP bf16, AMP fp16, channels_last,
  torch.compile, on an in-memory batch; and end to end with JPEG decoding (evaluate_model,
  DataLoader workers, torch7 preprocessing);
- Trainer steps: images/s and peak memory in fp32, AMP bf16, AMP fp16 with loss scaling;
- torchrun on every GPU there is (NCCL; gloo on a CPU): irv2-features over the same JPEGs
  equals a single-process run.
The exit status is 1 when a row FAILs. Numbers are from this run only; compare rows of one run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))  # its siblings, also when a test imports it

from bench_translate import residual_graph  # noqa: E402
from fixture_set import FIXTURES  # noqa: E402

from converter import load_model  # noqa: E402
from converter.generic.translator import translate  # noqa: E402
from converter.torch7.writer import save_t7  # noqa: E402
from evaluate.data.options import default_workers  # noqa: E402
from evaluate.runtime.devices import resolve_device  # noqa: E402

REL_TOL = 1e-4  # float32, device vs CPU, relative to max|ref| (issue 23)
AMP = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
Row = tuple[str, str, str, str]  # check, result, limit, status


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    p.add_argument("--small", action="store_true", help="tiny sizes, no compile or torchrun")
    p.add_argument("--fixtures", type=Path, default=FIXTURES)
    p.add_argument("--batch-sizes", default=None, help="comma-separated; default 64,128 (2)")
    a = p.parse_args(argv)
    device = resolve_device(a.device)
    batches = [int(b) for b in (a.batch_sizes or ("1" if a.small else "64,128")).split(",")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gpu_check.") as tmp:
        work = Path(tmp)
        irv2, note = _irv2_source(a.fixtures, a.small)
        print(f"gpu_check on {_describe(device)}; IRv2: {note}", flush=True)
        loaded = load_model(irv2)  # read once: each section copies it before changing it
        rows += _correctness(device, irv2.name, loaded, a.fixtures, a.small, work)
        jpegs = _write_jpegs(work / "jpegs", 2 if a.small else 512, 64 if a.small else 500)
        rows += _eval_speed(device, loaded, batches, a.small, jpegs)
        rows += _train_speed(device, loaded, max(2, batches[0]), 1 if a.small else 5, a.small)
        rows += _torchrun(device, irv2, jpegs, work, a.small)
    print(_table(rows))
    return 1 if any(r[3] == "FAIL" for r in rows) else 0


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} x {torch.cuda.device_count()}"
    return f"CPU ({os.cpu_count()} cores)"


def _irv2_source(fixtures: Path, small: bool) -> tuple[Path, str]:
    full = fixtures / "full" / "irv2_full.t7.gz"
    if full.is_file() and not small:
        return full, f"the full Torch7 fixture {full}"
    why = "--small" if small else f"{full} not found"
    return REPO / "tests" / "data" / "irv2_tiny.t7", f"the bundled width/8 model ({why})"


# --- device vs CPU --------------------------------------------------------------------------


def _correctness(
    device: torch.device,
    irv2_name: str,
    loaded: torch.nn.Module,
    fixtures: Path,
    small: bool,
    work: Path,
):
    size = 299
    cases = [("IRv2 " + irv2_name, lambda: copy.deepcopy(loaded), (2, 3, size, size))]
    resnet = fixtures / "resnet18" / "resnet18.t7.gz"
    rows: list[Row] = []
    if resnet.is_file() and not small:
        cases.append(
            ("ResNet-18 (generic)", lambda: translate(resnet, torch.float32), (2, 3, 224, 224))
        )
    else:
        why = "--small" if small else f"{resnet} not found"
        rows.append(("ResNet-18 (generic) device vs CPU", "-", "", f"SKIP ({why})"))
    graph = work / "graph.t7"
    save_t7(residual_graph(channels=8, blocks=4, std=0.1), graph)
    cases.append(("nngraph gModule (generic)", lambda: translate(graph), (2, 8, 16, 16)))
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        for name, build, shape in cases:
            model = build().eval()
            x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
            with torch.inference_mode():
                ref = model(x)
                got = model.to(device)(x.to(device)).cpu()
            rel = ((got - ref).abs().max() / ref.abs().max()).item()
            ok = "PASS" if rel <= REL_TOL else "FAIL"
            rows.append(
                (
                    f"{name} {device.type} vs CPU, max|d|/max|ref|",
                    f"{rel:.1e}",
                    f"<= {REL_TOL:g}",
                    ok,
                )
            )
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    return rows


# --- speed ----------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(device: torch.device, run: Callable[[], None], images: int, iters: int) -> float:
    """images/s over `iters` calls of `run`, after one warm-up call (cuDNN's algorithm choice,
    compiling); `iters` 1 (--small) measures the first call itself."""
    if iters > 1:
        run()
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        run()
    _sync(device)
    return images * iters / (time.perf_counter() - start)


def _eval_speed(
    device: torch.device, loaded: torch.nn.Module, batches: list[int], small: bool, jpegs: Path
):
    from evaluate.validate import prepare_model

    rows: list[Row] = []
    variants = [("fp32", "fp32", False, False), ("AMP bf16", "bf16", False, False),
                ("AMP fp16", "fp16", False, False), ("bf16 + channels_last", "bf16", True, False),
                ("bf16 + compile", "bf16", False, True)]  # fmt: skip
    for label, amp, channels_last, compile_ in variants:
        if compile_ and (small or device.type != "cuda"):
            rows.append((f"eval {label}, images/s", "-", "", "SKIP (minutes on a CPU)"))
            continue
        model = prepare_model(copy.deepcopy(loaded), device, channels_last, compile_)
        for batch in batches:
            x = torch.randn(batch, 3, 299, 299, device=device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            autocast = torch.autocast(device.type, AMP[amp]) if AMP[amp] else nullcontext()

            def forward(model=model, x=x, autocast=autocast) -> None:
                with torch.inference_mode(), autocast:
                    model(x)

            try:
                rate = _rate(device, forward, batch, 1 if small else 10)
                rows.append((f"eval {label}, batch {batch}, images/s", f"{rate:.1f}", "", "INFO"))
            except RuntimeError as e:  # e.g. an autocast dtype this CPU build lacks
                rows.append((f"eval {label}, batch {batch}", "-", "", f"SKIP ({str(e)[:60]})"))
    rows.append(_jpeg_eval(device, loaded, max(2, batches[0]), jpegs))
    return rows


def _write_jpegs(folder: Path, n: int, side: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (side * 3 // 4, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:04d}.jpg", quality=90)
    return folder


def _jpeg_eval(device: torch.device, loaded: torch.nn.Module, batch: int, jpegs: Path) -> Row:
    from evaluate.data.datasets import ImageDataset
    from evaluate.data.imagelist import folder_images
    from evaluate.data.preprocess import ValTransform
    from evaluate.validate import evaluate_model, prepare_model

    images = folder_images(jpegs)
    images = dataclasses.replace(images, labels=[0] * len(images))  # one label: speed only
    model = prepare_model(copy.deepcopy(loaded), device)
    workers = default_workers()
    dataset = ImageDataset(images, ValTransform("torch7", 1))
    amp = torch.bfloat16 if device.type == "cuda" else None
    start = time.perf_counter()
    evaluate_model(model, dataset, batch_size=batch, workers=workers, device=device, amp_dtype=amp)
    rate = len(images) / (time.perf_counter() - start)
    precision = "bf16" if amp else "fp32"
    what = f"eval with JPEG decoding ({len(images)} images, {workers} workers, {precision})"
    return (f"{what}, images/s", f"{rate:.1f}", "", "INFO")


def _train_speed(
    device: torch.device, loaded: torch.nn.Module, batch: int, steps: int, small: bool
) -> list[Row]:
    from evaluate.train.trainer import TrainConfig, Trainer

    rows: list[Row] = []
    for amp in (None, "bf16", "fp16"):
        label = amp or "fp32"
        if amp == "fp16" and device.type != "cuda":
            rows.append(("train AMP fp16 (loss scaling)", "-", "", "SKIP (CUDA only)"))
            continue
        if amp == "bf16" and small:  # a CPU without bf16 units takes 5x fp32's time
            rows.append(("train AMP bf16", "-", "", "SKIP (--small: the fp32 step only)"))
            continue
        model = copy.deepcopy(loaded).to(device)
        trainer = Trainer(model, TrainConfig(amp=amp, iters_per_epoch=steps + 1))
        x = torch.randn(batch, 3, 299, 299)
        y = torch.randint(0, model.num_classes, (batch,))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        losses: list[torch.Tensor] = []

        def step(trainer=trainer, x=x, y=y, losses=losses) -> None:
            losses.append(trainer.step(x, y))

        rate = _rate(device, step, batch, steps)
        finite = all(torch.isfinite(loss).item() for loss in losses)
        peak = _peak_memory(device)
        scale = f", loss scale {trainer.scaler.get_scale():g}" if trainer.scaler else ""
        rows.append((f"train {label}, batch {batch}, images/s (peak {peak}{scale})", f"{rate:.1f}",
                     "finite loss", "PASS" if finite else "FAIL"))  # fmt: skip
    return rows


def _peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB allocated"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB RSS, process"


# --- torchrun -------------------------------------------------------------------------------


def _torchrun(device: torch.device, irv2: Path, jpegs: Path, work: Path, small: bool) -> list[Row]:
    torchrun = shutil.which("torchrun")
    if small or torchrun is None:
        why = "--small: start-up costs more than the test's budget" if small else "no torchrun"
        return [("torchrun irv2-features vs one process", "-", "", f"SKIP ({why})")]
    procs = torch.cuda.device_count() if device.type == "cuda" else 2
    backend = "NCCL" if device.type == "cuda" else "gloo"
    outputs = {}
    for n in (1, procs):
        out = work / f"features_{n}.h5"
        cmd = [torchrun, "--standalone", f"--nproc_per_node={n}", "-m",
               "evaluate.pretrained.features_cli", "--data", str(jpegs), "--weights", str(irv2),
               "-o", str(out), "-q", "--device", device.type]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if done.returncode:
            tail = done.stderr.strip().splitlines()[-1:] or ["?"]
            return [(f"torchrun x{n} ({backend}) irv2-features", "-", "", f"FAIL ({tail[0][:80]})")]
        outputs[n] = (out, time.perf_counter() - start)
    import h5py

    with h5py.File(outputs[1][0]) as a, h5py.File(outputs[procs][0]) as b:
        ref, got = a["features"][()], b["features"][()]
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    return [(f"torchrun x{procs} ({backend}) irv2-features vs one process, max|d|/max|ref| "
             f"({outputs[procs][1]:.0f} s vs {outputs[1][1]:.0f} s)", f"{rel:.1e}",
             f"<= {REL_TOL:g}", "PASS" if rel <= REL_TOL else "FAIL")]  # fmt: skip


def _table(rows: list[Row]) -> str:
    header = ("check", "result", "limit", "status")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
