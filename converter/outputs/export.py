"""The generic path's torch.export program (`.pt2`), written when a user asks for it by suffix.

`torch.export.load(path).module()` needs no import of this project, but it unpickles (PyTorch's
archive loader has no weights_only switch), so a shared .pt2 can carry code: every write warns,
and the safe artifact to share is `.safetensors` (converter.outputs.translated).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

UNPICKLES = (
    "a .pt2 loads with torch.export.load, which unpickles: load only .pt2 files you trust, "
    "and share .safetensors (t7convert --generic, loaded with converter.load_translated)"
)


class UnpicklingFormatWarning(UserWarning):
    """The file just written can only be loaded by unpickling it."""


def batch_dynamic(example: torch.Tensor | Sequence[torch.Tensor]) -> Any:
    """dynamic_shapes for torch.export/torch.onnx.export: the batch dimension of the input (of
    each input of a table) left to the exporter to keep dynamic where the network allows."""
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
    are resolved at export. Written to a temporary file first: no partial output on failure.
    Warns (UnpicklingFormatWarning) that loading the file unpickles."""
    path = Path(path)
    program = torch.export.export(
        module.eval(), (example_input,), dynamic_shapes=batch_dynamic(example_input)
    )
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.pt2")  # the archive writer wants .pt2
    try:
        torch.export.save(program, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    warnings.warn(f"{path}: {UNPICKLES}", UnpicklingFormatWarning, stacklevel=2)
