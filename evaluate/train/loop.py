"""The epoch loop: data in, `Trainer.step`, validation, logs, checkpoints (fb.resnet.torch's
main.lua + train.lua loop), written so that a run killed at any moment and resumed continues
bit for bit as if it had never stopped (deterministic CPU mode).

What makes resuming exact:
- the order of an epoch is `DistributedSampler`'s permutation seeded with seed+epoch, and a
  resumed epoch skips the batches already taken instead of reshuffling;
- each image's augmentation draws from its own generator seeded by (seed, epoch, index), never
  from a worker's RNG, so batch k of epoch e is the same tensor whoever loads it and when;
- the DataLoader gets its own generator, so creating one does not draw from the global RNG that
  Dropout uses; the global RNG states are saved with every checkpoint and restored on resume.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import torch
from torch import nn
from torch.utils.data import DataLoader

from converter.errors import UserError
from evaluate.data.datasets import skipped_lines, unreadable
from evaluate.logs import format as logformat
from evaluate.runtime.distributed import DistInfo, all_reduce_sum, unwrap
from evaluate.runtime.interrupts import interrupt_deferred
from evaluate.train import checkpoint
from evaluate.train.loader import ResumableSampler
from evaluate.train.log import TrainLog, epoch_status
from evaluate.train.trainer import Trainer


@dataclass
class LoopConfig:
    """fb.resnet.torch's loop options (nEpochs, batchSize, nThreads, manualSeed, ...)."""

    epochs: int = 90
    batch_size: int = 64  # the GLOBAL batch, split evenly over torchrun processes
    workers: int = 4
    seed: int = 0
    val_every: int = 1  # epochs between validations; 0 = no validation
    save_every: int = 0  # iterations between mid-epoch checkpoints; 0 = at epoch ends only
    print_freq: int = 1  # iterations between log lines (each one syncs with the device)


@dataclass
class LoopState:
    """Where the run stands; saved in every checkpoint."""

    epoch: int = 1  # the epoch in progress (or about to start)
    batches_done: int = 0  # batches of `epoch` already trained
    best_top1: float = math.inf
    best_top5: float = math.inf
    best_epoch: int = 0
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # loss, top1, top5, n
    classes: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def topk_errors(output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[top-1 wrong, top-5 wrong] counts of a batch, on the device (no sync)."""
    k = min(5, output.shape[1])
    top = output.topk(k, dim=1).indices
    hit = top == targets.to(top.device)[:, None]
    n = targets.numel()
    return torch.stack([n - hit[:, 0].sum(), n - hit.any(dim=1).sum()]).float()


Validator = Callable[[nn.Module, int], "tuple[float, float] | None"]


class TrainLoop:
    """Epochs of `trainer.step` over `loader`, validation, logging and checkpoints."""

    def __init__(
        self,
        trainer: Trainer,
        loader: DataLoader,
        cfg: LoopConfig,
        state: LoopState,
        info: DistInfo,
        log: TrainLog,
        run_dir: Path | None,
        validate: Validator | None = None,
        meta: dict[str, Any] | None = None,
        skip_bad: bool = False,
    ):
        self.trainer, self.loader, self.cfg, self.state = trainer, loader, cfg, state
        self.info, self.log, self.run_dir = info, log, run_dir
        self.validate = validate
        self.meta = meta or {}
        self.skip_bad = skip_bad
        self.skipped: list[str] = []  # unreadable training images left out, each named once
        # the last checkpoint written: its path, epoch and batches of that epoch done
        self.saved: tuple[Path, int, int] | None = None

    def run(self) -> LoopState:
        while self.state.epoch <= self.cfg.epochs:
            self._train_epoch()
            self._end_epoch()
        if self.state.best_epoch:
            self.log.line(logformat.format_final_line(self.state.best_top1, self.state.best_top5))
        for line in skipped_lines(self.skipped, "this run trained without them"):
            self._say(line)
        if self.saved is not None:  # without validation nothing else says where the run went
            path, epoch, _ = self.saved
            self.log.line(f"=> wrote {path} (epoch {epoch}); go on with --resume {path.parent}")
        return self.state

    def _train_epoch(self) -> None:
        st, trainer, ipe = self.state, self.trainer, self.trainer.config.iters_per_epoch
        sampler: ResumableSampler = self.loader.sampler
        sampler.set_epoch(st.epoch)
        sampler.start = st.batches_done * self.loader.batch_size
        trainer.set_position(st.epoch, st.batches_done)
        if st.batches_done == 0:
            self.log.line(logformat.format_epoch_header(st.epoch))
        else:
            self.log.line(f"=> Resuming epoch # {st.epoch} after iteration {st.batches_done}")
        trainer.model.train()
        sums = torch.tensor(st.sums[:3], dtype=torch.float64)
        count = st.sums[3]
        batch_stats = []
        timer = data_start = started = time.perf_counter()
        first = st.batches_done
        for images, targets, errors in self.loader:
            if errors:
                self._leave_out(errors, images is None)
            data_time = time.perf_counter() - data_start
            loss = trainer.step(images, targets)
            n = len(targets)
            wrong = topk_errors(trainer.last_output, targets)
            batch_stats.append((torch.cat([loss.float().reshape(1) * n, wrong]).cpu(), n))
            st.batches_done = trainer.iteration
            if st.batches_done % self.cfg.print_freq == 0 or st.batches_done == ipe:
                for stat, size in batch_stats:
                    sums += stat.double()
                    count += size
                last = self._reduced(batch_stats[-1][0], batch_stats[-1][1])
                batch_stats.clear()
                now = time.perf_counter()
                per_iter = (now - started) / (st.batches_done - first)
                status = epoch_status(
                    self.cfg.batch_size / per_iter, ipe - st.batches_done, per_iter
                )
                self._log_train(last, now - timer, data_time, status)
            if self.cfg.save_every and trainer.global_iteration % self.cfg.save_every == 0:
                st.sums = [*self._flush(batch_stats, sums, count)]
                self._save(best=False)
            timer = data_start = time.perf_counter()
        st.sums = [*self._flush(batch_stats, sums, count)]

    def _leave_out(self, errors: list[str], nothing_left: bool) -> None:
        """Stop at an unreadable image, or with --skip-bad name each one the first time."""
        if not self.skip_bad:
            raise unreadable(f"{errors[0]} ({len(errors)} unreadable image(s) in this batch)")
        for message in errors:
            if message not in self.skipped:
                self.skipped.append(message)
                self._say(f"=> --skip-bad: left out {message}")
        if nothing_left:  # every rank must take a step together; an empty batch cannot
            raise UserError(
                f"every image of batch {self.trainer.iteration + 1} of epoch {self.state.epoch} "
                "is unreadable, so this process has nothing to train on; replace or remove them"
            )

    def _say(self, text: str) -> None:
        """A line in train.log (rank 0); other ranks name themselves on stderr."""
        if self.info.is_main:
            self.log.line(text)
        else:
            click.echo(f"rank {self.info.rank}: {text}", err=True)

    def _flush(self, batch_stats: list, sums: torch.Tensor, count: float) -> list[float]:
        total = sums.clone()
        for stat, size in batch_stats:
            total += stat.double()
            count += size
        return [*total.tolist(), float(count)]

    def _reduced(self, stat: torch.Tensor, n: int) -> tuple[float, float, float]:
        """(loss, top1 err %, top5 err %) of the global batch (all ranks)."""
        both = torch.cat([stat.double(), torch.tensor([float(n)], dtype=torch.float64)])
        if self.info.enabled:
            both = all_reduce_sum(both.to(self._comm_device()), self.info).cpu()
        loss_sum, w1, w5, total = both.tolist()
        return loss_sum / total, 100.0 * w1 / total, 100.0 * w5 / total

    def _comm_device(self) -> torch.device:
        return self.trainer.device if self.info.backend == "nccl" else torch.device("cpu")

    def _log_train(
        self, last: tuple[float, float, float], elapsed: float, data_time: float, status: str
    ) -> None:
        st, t = self.state, self.trainer
        loss, top1, top5 = last
        text = logformat.format_train_line(
            st.epoch,
            st.batches_done,
            t.config.iters_per_epoch,
            elapsed,
            data_time,
            loss,
            top1,
            top5,
        )
        record = {
            "type": "train",
            "epoch": st.epoch,
            "iter": st.batches_done,
            "iters": t.config.iters_per_epoch,
            "global_iter": t.global_iteration,
            "lr": t.lr,
            "loss": loss,
            "top1": top1,
            "top5": top5,
            "time": elapsed,
            "data_time": data_time,
        }
        self.log.line(text, record, progress=True, status=status)

    def _end_epoch(self) -> None:
        st = self.state
        totals = torch.tensor(st.sums, dtype=torch.float64)
        if self.info.enabled:
            totals = all_reduce_sum(totals.to(self._comm_device()), self.info).cpu()
        loss_sum, w1, w5, n = totals.tolist()
        record = {
            "type": "epoch",
            "epoch": st.epoch,
            "train_loss": loss_sum / n,
            "train_top1": 100.0 * w1 / n,
            "train_top5": 100.0 * w5 / n,
            "lr": self.trainer.lr,
        }
        best = False
        validate_now = (
            self.validate is not None
            and self.cfg.val_every
            and (st.epoch % self.cfg.val_every == 0 or st.epoch == self.cfg.epochs)
        )
        if validate_now:
            result = self.validate(self.trainer.model, st.epoch)
            if result is not None:
                top1, top5 = result
                record.update(test_top1=top1, test_top5=top5)
                self.log.line(logformat.format_finished_line(st.epoch, top1, top5))
                if top1 < st.best_top1:
                    best = True
                    st.best_top1, st.best_top5, st.best_epoch = top1, top5, st.epoch
                    self.log.line(logformat.format_best_line(top1, top5))
        self.log.record(record)
        st.epoch, st.batches_done, st.sums = st.epoch + 1, 0, [0.0, 0.0, 0.0, 0.0]
        self._save(best=best)

    def _save(self, best: bool) -> None:
        """Rank 0 writes; the RNG state is the one the next step will draw from."""
        if self.run_dir is None or not self.info.is_main:
            return
        st = self.state
        model = unwrap(self.trainer.model)
        completed = st.epoch - 1 if st.batches_done == 0 else st.epoch
        state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        record = model.architecture  # the network's shape (converter.architecture)
        shape, tensors = record.saved(state_dict)
        meta = {
            **self.meta,
            "format": checkpoint.FORMAT,
            "version": checkpoint.VERSION,
            **shape,
            "preset": record.preset,
            "epoch": completed,
            "batches_done": st.batches_done,
            "best_top1": st.best_top1 if st.best_epoch else None,
            "best_top5": st.best_top5 if st.best_epoch else None,
            "classes": st.classes,  # the class folders: what irv2-classify names outputs by
        }
        payload = {
            "state_dict": tensors,
            "meta": meta,
            "trainer": self.trainer.state_dict(),
            "loop": {"state": st.to_dict(), "config": asdict(self.cfg)},
            "rng": checkpoint.rng_states(),
        }
        with interrupt_deferred():  # Ctrl-C names the checkpoint it finds on disk
            self.saved = checkpoint.save(self.run_dir, payload, best), completed, st.batches_done


def make_validator(
    images: Any,
    *,
    preset: Any,
    crops: int,
    batch_size: int,
    workers: int,
    device: torch.device,
    amp: str | None,
    channels_last: bool,
    info: DistInfo,
    log: TrainLog,
    print_freq: int = 1,
    skip_bad: bool = False,
) -> Validator:
    """Per-epoch validation with the evaluator's own code (`validate.evaluate_model`, the
    authors' exact val preprocessing); logs fb.resnet.torch Test lines, returns (top1, top5)
    error % on rank 0 and None on the other ranks."""
    from evaluate.data.datasets import ImageDataset
    from evaluate.data.preprocess import ValTransform
    from evaluate.validate import evaluate_model

    dataset = ImageDataset(
        images, ValTransform("torch7", crops, preset.scale_size, preset.crop_size)
    )
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp or "")

    def validate(model: nn.Module, epoch: int) -> tuple[float, float] | None:
        net = unwrap(model)
        if info.enabled:  # every rank validates rank 0's BN statistics: the ones it saves
            import torch.distributed as dist

            for buf in net.buffers():
                dist.broadcast(buf, 0)
        result = evaluate_model(
            net,
            dataset,
            batch_size=batch_size,
            workers=workers,
            device=device,
            amp_dtype=amp_dtype,
            channels_last=channels_last,
            dist=info,
            skip_bad=skip_bad,
        )
        if result is None:
            return None
        for line in skipped_lines([m for _, m in result.skipped], "validation left them out"):
            log.line(line)
        _log_test_lines(result, epoch, batch_size * info.world_size, log, print_freq)
        summary = result.summary()
        return summary["top1_err"], summary["top5_err"]

    return validate


def _log_test_lines(result: Any, epoch: int, batch: int, log: TrainLog, print_freq: int) -> None:
    """Test lines per global batch of the merged result, with per-image running averages
    (fb.resnet.torch's `top1Sum / N`). Time is the mean per batch; Data is not measured."""
    from evaluate.metrics import hits

    top1, top5 = hits(result.top5_classes, result.labels)
    n_batches = max(1, math.ceil(len(top1) / batch))
    per_batch = result.seconds / n_batches
    for j in range(n_batches):
        if (j + 1) % print_freq and j + 1 != n_batches:
            continue
        lo, hi = j * batch, min(len(top1), (j + 1) * batch)
        err1, err5 = 100.0 * (1 - top1[lo:hi].mean()), 100.0 * (1 - top5[lo:hi].mean())
        avg1, avg5 = 100.0 * (1 - top1[:hi].mean()), 100.0 * (1 - top5[:hi].mean())
        text = logformat.format_test_line(
            epoch, j + 1, n_batches, per_batch, 0.0, err1, avg1, err5, avg5
        )
        record = {
            "type": "test",
            "epoch": epoch,
            "iter": j + 1,
            "iters": n_batches,
            "top1": err1,
            "top5": err5,
            "top1_avg": avg1,
            "top5_avg": avg5,
        }
        log.line(text, record, progress=True)
