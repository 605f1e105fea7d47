"""Our training checkpoints: what is saved, where, and how a run finds it again.

A run directory holds `checkpoint.pt` (the latest state, replaced atomically every epoch and every
`--save-every` iterations) and `model_best.pt` (the weights with the lowest validation top-1
error so far). Both are t7convert's `.pt` layout ({"state_dict", "meta"}, the meta recording
the architecture: converter.architecture), so every tool and `t7convert` read them directly,
and their `meta["classes"]` (the training class-folder names) names the outputs for
irv2-classify; `checkpoint.pt` adds the
optimizer (momentum), schedule position, data position, RNG states and best-so-far, which is
everything `--resume` needs to continue as if the run had never stopped. Everything is plain
tensors and containers, so loading uses `torch.load(weights_only=True)`: no code is unpickled.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from converter.architecture import PRESETS
from converter.errors import UserError

CHECKPOINT = "checkpoint.pt"
BEST = "model_best.pt"
FORMAT = "irv2-train-checkpoint"
VERSION = 1


def rng_states() -> dict[str, Any]:
    """Every generator a training step or the loader's parent process may draw from."""
    np_state = np.random.get_state()
    states = {
        "python": list(random.getstate()[1]),
        "python_pos": random.getstate()[2],
        "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    random.setstate((3, tuple(states["python"]), states["python_pos"]))
    np.random.set_state(
        ("MT19937", states["numpy"].numpy().astype(np.uint32), states["numpy_pos"], 0, 0.0)
    )
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save(run_dir: Path, payload: dict[str, Any], best: bool) -> Path:
    """Write checkpoint.pt (and model_best.pt when `best`) atomically; returns the path.

    A kill at any moment leaves either the previous complete file or the new one, never a
    partial file: each is written to a temp file beside it and renamed over it.
    """
    from converter.outputs.atomic import atomic_path

    path = Path(run_dir) / CHECKPOINT
    with atomic_path(path, force=True) as tmp:
        torch.save(payload, tmp)
    if best:
        with atomic_path(Path(run_dir) / BEST, force=True) as tmp:
            torch.save({"state_dict": payload["state_dict"], "meta": payload["meta"]}, tmp)
    return path


def find(path: str | Path) -> Path:
    """checkpoint.pt inside a run directory, or the file itself."""
    path = Path(path)
    if path.is_dir():
        candidate = path / CHECKPOINT
        if not candidate.is_file():
            if (path / "latest.t7").is_file():
                raise UserError(f"{path}: a Lua checkpoint directory; use --resume-t7 {path}")
            raise UserError(f"{path}: no {CHECKPOINT} here; nothing to resume")
        return candidate
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file or run directory")
    return path


def load(path: str | Path) -> dict[str, Any]:
    """A checked checkpoint dict; a corrupt, foreign or other-architecture file is a UserError."""
    path = find(path)
    try:
        with warnings.catch_warnings():  # torch's notes on a damaged pickle: the error says it
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to unpickle means "not a usable file"
        first = (str(e).strip().splitlines() or [""])[0][:200]  # torch's messages run long
        raise UserError(f"{path}: unreadable checkpoint ({type(e).__name__}: {first})") from None
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(
            f"{path}: not an irv2-train checkpoint (to start from its weights use --weights)"
        )
    if meta.get("arch") not in PRESETS:
        raise UserError(
            f"{path}: a checkpoint of {meta.get('arch')!r}, not of {' or '.join(PRESETS)}"
        )
    if meta.get("version", 0) > VERSION:
        raise UserError(f"{path}: written by a newer irv2-train (format {meta['version']})")
    missing = [k for k in ("state_dict", "trainer", "loop", "rng") if k not in payload]
    if missing:
        raise UserError(f"{path}: incomplete checkpoint (no {', '.join(missing)})")
    return payload
