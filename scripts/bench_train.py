"""Training throughput: `Trainer.step` against a plain hand-written PyTorch loop.

Same model, same batch, same SGD settings; each variant runs in its own fresh process (so peak
memory is its own) and the two alternate `--rounds` times; the best round of each is compared
(throughput: the fastest round; memory: the round with the least peak).
Target: Trainer >= 0.97x the plain loop's images/s, and peak memory no higher.

    python scripts/bench_train.py                          # CPU, width/8 model, batch 4
    python scripts/bench_train.py --device cuda --width-divisor 1 --batch 32 --amp fp16
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def run_variant(args: argparse.Namespace) -> dict:
    import torch

    from converter.irv2.model import InceptionResNetV2, IRV2Config
    from evaluate.train.trainer import TrainConfig, Trainer

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = InceptionResNetV2(IRV2Config(width_divisor=args.width_divisor)).to(device).train()
    images = torch.randn(args.batch, 3, 299, 299, device=device)
    targets = torch.randint(0, 1000, (args.batch,), device=device)
    amp = args.amp or None
    cfg = TrainConfig(iters_per_epoch=10**6, amp=amp, channels_last=args.channels_last)
    if args.variant == "trainer":
        trainer = Trainer(model, cfg)

        def step() -> torch.Tensor:
            return trainer.step(images, targets)
    else:
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
        x = images.contiguous(memory_format=torch.channels_last) if args.channels_last else images
        criterion = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(
            model.parameters(),
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            nesterov=True,
        )
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(args.amp or "")
        scaler = torch.amp.GradScaler(device.type) if args.amp == "fp16" else None

        def step() -> torch.Tensor:
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = criterion(model(x), targets)
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            return loss.detach()

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    float(loss)  # one sync at the end, as a logging loop with a long --print-freq would
    sync()
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"images_per_s": args.batch * args.steps / seconds, "peak_mib": peak}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--width-divisor", type=int, default=8)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--amp", choices=["fp16", "bf16"], default=None)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--variant", choices=["plain", "trainer"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args)))
        return
    child = sys.argv[1:]
    best: dict[str, dict] = {}
    least_memory: dict[str, float] = {}  # peak RSS varies by a few MiB run to run: take the least
    for r in range(args.rounds):
        for variant in ("plain", "trainer"):
            out = subprocess.run(
                [sys.executable, __file__, *child, "--variant", variant],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"round {r + 1} {variant:8s} {result['images_per_s']:8.2f} img/s  "
                f"peak {result['peak_mib']:8.1f} MiB"
            )
            if variant not in best or result["images_per_s"] > best[variant]["images_per_s"]:
                best[variant] = result
            least_memory[variant] = min(least_memory.get(variant, 1e18), result["peak_mib"])
    ratio = best["trainer"]["images_per_s"] / best["plain"]["images_per_s"]
    mem = least_memory["trainer"] / least_memory["plain"]
    print(
        f"Trainer.step / plain loop: {ratio:.3f}x images/s (target >= 0.97), "
        f"peak memory {mem:.3f}x (target <= 1.0)  [{args.device}, batch {args.batch}, "
        f"width/{args.width_divisor}]"
    )


if __name__ == "__main__":
    main()
