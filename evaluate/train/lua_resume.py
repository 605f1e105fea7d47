"""Torch7 `optimState_N.t7` -> PyTorch SGD state, so a Lua run continues where it stopped.

optim.sgd keeps the momentum as ONE flat tensor `dfdx` laid out like `model:getParameters()`,
i.e. `model:parameters()` order (depth-first over modules, weight before bias). The mapping
table lists the Torch tensors in that same depth-first order, so its weight/bias rows, in table
order, name the PyTorch parameter each slice of `dfdx` belongs to (checked against Torch's own
`*_param_order.tsv` in tests/test_train_torch7.py).

This module only reads: the state comes out as plain data (`Torch7OptimState`, the flat `dfdx`
cut by `split_flat`) and `Trainer.apply_torch7_optim_state` puts it into the optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from converter.errors import T7FormatError, UserError
from evaluate.runtime.distributed import unwrap

_PARAM_FIELDS = ("weight", "bias")


@dataclass
class Torch7OptimState:
    """optim.sgd's table with Lua names turned into ours; `dfdx` is None before any step."""

    path: Path
    learning_rate: float
    momentum: float
    weight_decay: float
    nesterov: bool
    dampening: float
    learning_rate_decay: float
    eval_counter: int
    dfdx: np.ndarray | None


def parameter_order(table: str = "irv2") -> list[str]:
    """PyTorch parameter names in Torch7's `model:parameters()` order."""
    from converter.irv2.mapping import read_table
    from mappings import table_path

    return [r.torch_key for r in read_table(table_path(table)) if r.t7_field in _PARAM_FIELDS]


def read_torch7_optim(path: str | Path) -> Torch7OptimState:
    """Read and check an optimState file; a broken or foreign file is one UserError line."""
    from converter.torch7.checkpoint import read_optim_state

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: optimizer state file not found")
    raw = read_optim_state(path)
    missing = [k for k in ("learningRate", "momentum") if k not in raw]
    if missing:
        raise T7FormatError(f"{path}: not an optim.sgd state (no {', '.join(missing)})")
    dfdx = raw.get("dfdx")
    try:
        flat = None if dfdx is None else np.asarray(dfdx.numpy(), dtype=np.float32).reshape(-1)
    except (OSError, ValueError) as e:
        raise T7FormatError(f"{path}: its dfdx momentum tensor cannot be read ({e})") from None
    return Torch7OptimState(
        path=path,
        learning_rate=float(raw["learningRate"]),
        momentum=float(raw.get("momentum", 0.0)),
        weight_decay=float(raw.get("weightDecay", 0.0)),
        nesterov=bool(raw.get("nesterov", False)),
        dampening=float(raw.get("dampening", raw.get("momentum", 0.0))),  # optim.sgd's default
        learning_rate_decay=float(raw.get("learningRateDecay", 0.0)),
        eval_counter=int(raw.get("evalCounter", 0)),
        dfdx=flat,
    )


def split_flat(
    flat: np.ndarray, model: nn.Module, order: list[str] | None = None
) -> dict[str, torch.Tensor]:
    """Cut a flat `getParameters()`-ordered vector (dfdx, a gradient) into per-parameter
    tensors, each shaped like its parameter."""
    named = dict(unwrap(model).named_parameters())
    order = parameter_order() if order is None else order
    unknown = [k for k in order if k not in named]
    if unknown:
        raise UserError(f"the model has no parameter {unknown[0]} (is it an Inception-ResNet-v2?)")
    total = sum(named[k].numel() for k in order)
    if flat.size != total or len(order) != len(named):
        raise UserError(
            f"the flat Torch7 vector (momentum) has {flat.size} values but the model's "
            f"{len(named)} parameters hold {sum(p.numel() for p in named.values())}: "
            "the optimizer file belongs to another model"
        )
    buffers, offset = {}, 0
    for key in order:
        p = named[key]
        chunk = flat[offset : offset + p.numel()].reshape(p.shape)
        buffers[key] = torch.from_numpy(chunk.copy()).to(p.device, p.dtype)
        offset += p.numel()
    return buffers
