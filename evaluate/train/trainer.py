"""One training iteration exactly as fb.resnet.torch's `Trainer:train` did it, in PyTorch.

`optim.sgd` with fb.resnet.torch's state (nesterov, dampening 0, weight decay on ALL parameters,
BatchNorm included) is `torch.optim.SGD` with the same four numbers: both add `wd*x` to the
gradient, start the momentum buffer as a clone of that sum and then update `buf = m*buf + g` and
`x -= lr*(g + m*buf)` (proven step by step against Torch7's own gradients in
tests/test_train_torch7.py). The learning rate is lim0606's per-ITERATION step rule, set before
every step like `optimState.learningRate = self:learningRateStep(epoch, n)` was.

    from evaluate.train.trainer import Trainer, TrainConfig
    trainer = Trainer(model, TrainConfig(iters_per_epoch=len(loader)))
    loss = trainer.step(images, targets)   # a 0-d tensor: reading it is the caller's sync
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from converter.errors import UserError
from evaluate.runtime.distributed import unwrap

if TYPE_CHECKING:
    from evaluate.train.lua_resume import Torch7OptimState


@dataclass
class TrainConfig:
    """Optimizer and schedule; the defaults are the published model's recipe (FACTS §4)."""

    lr: float = 0.045
    momentum: float = 0.4737  # setting 1; Torch-style momentum, = Caffe's 0.9 (seed README)
    weight_decay: float = 1e-4
    nesterov: bool = True
    dampening: float = 0.0
    step: int = 12800  # iterations between two multiplications by gamma
    gamma: float = 0.96
    iters_per_epoch: int = 1
    amp: str | None = None  # "fp16" (autocast + loss scaling) or "bf16"; CUDA only
    channels_last: bool = False  # NHWC activations (a CUDA speed-up; CPU works too)

    def __post_init__(self) -> None:
        if self.iters_per_epoch < 1:
            raise ValueError(f"iters_per_epoch must be >= 1, not {self.iters_per_epoch}")
        if self.step < 1:
            raise ValueError(f"step must be >= 1, not {self.step}")
        if self.amp not in (None, "fp16", "bf16"):
            raise ValueError(f"amp must be None, 'fp16' or 'bf16', not {self.amp!r}")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening 0 (as optim.sgd)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def learning_rate(config: TrainConfig, epoch: int, n: int) -> float:
    """lim0606's rule: `LR * gamma^floor(iter/step)`, `iter = (epoch-1)*itersPerEpoch + n`.

    `epoch` and `n` are 1-based like the Lua loop's, so the first iteration of a run is (1, 1).
    """
    it = (epoch - 1) * config.iters_per_epoch + n
    return config.lr * config.gamma ** (it // config.step)


class Trainer:
    """Owns the optimizer and the schedule position (epoch, iteration) of one model."""

    def __init__(self, model: nn.Module, config: TrainConfig):
        self.model = model
        self.config = config
        if config.channels_last:
            model.to(memory_format=torch.channels_last)
        self.criterion = nn.CrossEntropyLoss()  # nn.CrossEntropyCriterion: mean over the batch
        self.optimizer = torch.optim.SGD(
            model.parameters(),  # one group: weight decay on every parameter, BN included
            lr=config.lr,
            momentum=config.momentum,
            dampening=config.dampening,
            weight_decay=config.weight_decay,
            nesterov=config.nesterov,
        )
        self.device = next(model.parameters()).device
        self.scaler = torch.amp.GradScaler(self.device.type) if config.amp == "fp16" else None
        self._amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(config.amp or "")
        self.epoch = 1  # the epoch the NEXT step belongs to (after rolling over)
        self.iteration = 0  # steps already taken in `epoch`
        self.eval_counter = 0  # optim.sgd's evalCounter: steps taken over the whole run
        self.last_output: torch.Tensor | None = None  # detached logits of the last step

    @property
    def global_iteration(self) -> int:
        """Steps taken, in the Lua numbering `(epoch-1)*itersPerEpoch + n`."""
        return (self.epoch - 1) * self.config.iters_per_epoch + self.iteration

    @property
    def lr(self) -> float:
        """The learning rate of the last step taken (the next one's after a roll-over)."""
        return self.optimizer.param_groups[0]["lr"]

    def set_position(self, epoch: int, iteration: int = 0) -> None:
        """Continue at iteration `iteration + 1` of `epoch` (resume, or the start of an epoch)."""
        if epoch < 1 or not 0 <= iteration <= self.config.iters_per_epoch:
            raise ValueError(f"no such position: epoch {epoch}, iteration {iteration}")
        self.epoch, self.iteration = epoch, iteration

    def apply_hyperparameters(self) -> None:
        """Write this config's momentum/decay/nesterov/dampening into the optimizer."""
        c = self.config
        for group in self.optimizer.param_groups:
            group.update(
                momentum=c.momentum,
                weight_decay=c.weight_decay,
                nesterov=c.nesterov,
                dampening=c.dampening,
            )

    def _advance(self) -> None:
        if self.iteration >= self.config.iters_per_epoch:
            self.epoch, self.iteration = self.epoch + 1, 0
        self.iteration += 1
        lr = learning_rate(self.config, self.epoch, self.iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Forward, CrossEntropy, backward, SGD: one Lua iteration. Returns the loss, detached.

        No host-device sync happens here; `float(loss)` is the caller's choice (the Lua loop
        printed every iteration, the training loop here prints every `print_freq`).
        """
        if not self.model.training:  # build_model() hands out eval mode; BN must train here
            self.model.train()
        self._advance()
        images = images.to(self.device, non_blocking=True)
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(self.device, non_blocking=True)
        autocast = (
            torch.autocast(self.device.type, dtype=self._amp_dtype)
            if self._amp_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            output = self.model(images)
            loss = self.criterion(output, targets)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.eval_counter += 1
        self.last_output = output.detach()
        return loss.detach()

    def load_torch7_optim_state(self, path: str | Path, epoch: int | None = None) -> dict:
        """Continue from a Lua `optimState_N.t7`: momentum buffers (from the flat `dfdx`),
        momentum/weightDecay/nesterov/dampening, evalCounter; with `epoch` = N (latest.t7's
        epoch) the next step is iteration 1 of epoch N+1. Returns what was restored."""
        from evaluate.train import lua_resume

        state = lua_resume.read_torch7_optim(path)
        restored = self.apply_torch7_optim_state(state)
        if epoch is not None:
            self.set_position(epoch + 1, 0)
        return restored

    def apply_torch7_optim_state(self, state: Torch7OptimState) -> dict[str, Any]:
        """Restore hyper-parameters, evalCounter and momentum buffers from a Lua optimizer
        state (as `lua_resume.read_torch7_optim` reads it)."""
        from evaluate.train import lua_resume

        if state.learning_rate_decay != 0:
            raise UserError(
                f"{state.path}: learningRateDecay={state.learning_rate_decay:g}; fb.resnet.torch "
                "runs use 0 and this trainer has no such decay"
            )
        buffers = {}
        if state.dfdx is not None and state.momentum != 0:  # checked before anything changes
            buffers = lua_resume.split_flat(state.dfdx, self.model)
        try:
            self.config = dataclasses.replace(
                self.config,
                momentum=state.momentum,
                weight_decay=state.weight_decay,
                nesterov=state.nesterov,
                dampening=state.dampening,
            )
        except ValueError as e:
            raise UserError(f"{state.path}: {e}") from None
        self.apply_hyperparameters()
        self.eval_counter = state.eval_counter
        named = dict(unwrap(self.model).named_parameters())
        for key, buf in buffers.items():
            self.optimizer.state[named[key]]["momentum_buffer"] = buf
        return {
            "learningRate": state.learning_rate,
            "momentum": state.momentum,
            "weightDecay": state.weight_decay,
            "nesterov": state.nesterov,
            "dampening": state.dampening,
            "evalCounter": state.eval_counter,
            "momentum_buffers": state.dfdx is not None,
        }

    def state_dict(self) -> dict[str, Any]:
        """Optimizer (momentum), schedule position and config: what a checkpoint needs."""
        state = {
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "eval_counter": self.eval_counter,
            "config": self.config.to_dict(),
        }
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Momentum buffers and position from `state`; hyper-parameters stay this config's
        (the caller decides whether a resumed run keeps its old ones or overrides them)."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.apply_hyperparameters()
        self.eval_counter = int(state["eval_counter"])
        self.set_position(int(state["epoch"]), int(state["iteration"]))
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
