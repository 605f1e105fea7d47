"""The generic path's output: a torch.export program that plain PyTorch loads back.

`torch.export.load(path).module()` needs no import of this project (but unpickles: load only files
you trust).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn


def _batch_dynamic(example: torch.Tensor | Sequence[torch.Tensor]) -> Any:
    auto = {0: torch.export.Dim.AUTO}
    if isinstance(example, torch.Tensor):
        return (auto,)
    return ([auto for _ in example],)


def save_generic(
    module: nn.Module, path: str | Path, example_input: torch.Tensor | Sequence[torch.Tensor]
) -> None:
    """Write `module` as a torch.export program that loads with `torch.export.load(path).module()`
    and plain PyTorch. The batch dimension stays dynamic where the network allows it (Dim.AUTO);
    other dimensions are fixed to `example_input`'s, as Torch7 shape rules (View, ceil pooling)
    are resolved at export. Written to a temporary file first: no partial output on failure."""
    path = Path(path)
    program = torch.export.export(
        module.eval(), (example_input,), dynamic_shapes=_batch_dynamic(example_input)
    )
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.pt2")  # the archive writer wants .pt2
    try:
        torch.export.save(program, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
