"""ONNX output for both paths (`t7convert model.t7 irv2.onnx`, `... r.onnx --generic`).

Exported with torch.onnx's dynamo exporter (torch.export underneath), the batch axis dynamic,
the weights inside the one file, and checked before the file is renamed into place:
`onnx.checker` on the model, then, where onnxruntime is installed, the file run on a random
input of another batch size and compared with PyTorch. Beyond 1e-5 x max|out| nothing is
written: an ONNX file that computes something else is worse than none. Needs the `onnx`
extra (`pip install ".[onnx]"`: onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from converter.errors import UserError
from converter.outputs.atomic import atomic_path
from converter.outputs.export import batch_dynamic

REL_TOL = 1e-5
CHECK_BATCH = 3  # differs from the export's batch of 2, so the dynamic axis is exercised


@dataclass
class OnnxCheck:
    """What writing one ONNX file measured."""

    export_s: float
    dynamic_batch: bool
    opset: int
    max_delta: float | None = None  # onnxruntime vs PyTorch; None: onnxruntime not installed
    max_out: float | None = None
    batch: int | None = None

    def describe(self) -> str:
        axis = "dynamic batch" if self.dynamic_batch else "batch fixed by the network"
        if self.max_delta is None:
            ran = "onnxruntime not installed, not run"
        else:
            ran = (
                f"onnxruntime vs PyTorch on a random batch of {self.batch}: max|Δ| = "
                f"{self.max_delta:.3g} (max|out| = {self.max_out:.3g})"
            )
        return f"exported in {self.export_s:.2f} s (opset {self.opset}), {axis}; {ran}"


def _flat(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    return [t for v in value for t in _flat(v)]


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _export(module: nn.Module, example: Any, path: Path) -> None:
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # "torchvision is not installed" and the like
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(),
                (example,),
                str(path),
                dynamo=True,
                dynamic_shapes=batch_dynamic(example),
                external_data=False,
                verbose=False,
            )
    finally:
        onnx_log.setLevel(level)


def _is_batch_dynamic(model: Any) -> bool:
    dims = [i.type.tensor_type.shape.dim for i in model.graph.input]
    return all(d and d[0].dim_param for d in dims)


def _opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _ceil_pooling(model: Any) -> bool:
    """Whether the graph has ceil-mode pooling, whose last window (Torch7's ceil and
    count-exclude-pad rules) ONNX runtimes and opsets have not always computed alike."""
    return any(
        node.op_type in ("AveragePool", "MaxPool")
        and any(a.name == "ceil_mode" and a.i for a in node.attribute)
        for node in model.graph.node
    )


def _compare(
    path: Path, file: Path, module: nn.Module, example: Any, batch: int
) -> tuple[float, float]:
    """(max|Δ|, max|out|) of onnxruntime running `file` (the temp file of `path`, the name
    messages give) against PyTorch on a random input of `batch`."""
    import onnxruntime

    inputs = [torch.rand(batch, *t.shape[1:], dtype=t.dtype) * 4 - 2 for t in _flat(example)]
    with torch.no_grad():
        want = _flat(module(inputs[0] if isinstance(example, torch.Tensor) else inputs))
    try:  # a missing kernel (e.g. float64 Conv) shows when the session is made
        session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}
        got = session.run(None, feed)
    except Exception as e:  # noqa: BLE001 - onnxruntime's own errors: one line
        double = any(t.dtype == torch.float64 for t in inputs)
        hint = "; export it as float32 (leave --dtype float64 out)" if double else ""
        raise UserError(
            f"{path}: onnxruntime cannot run the exported model: {_first_line(e)}{hint}; "
            "not written"
        ) from None
    if len(got) != len(want) or any(g.shape != tuple(w.shape) for g, w in zip(got, want)):
        raise UserError(f"{path}: the exported model's outputs have other shapes than PyTorch's")
    delta = max(
        float(np.abs(g.astype(np.float64) - w.double().numpy()).max()) for g, w in zip(got, want)
    )
    scale = max(float(w.abs().max()) for w in want)
    return delta, scale


def save_onnx(
    module: nn.Module,
    path: Path,
    example: torch.Tensor | Sequence[torch.Tensor],
    force: bool,
    stage: Callable[[str], None] = lambda _: None,
) -> OnnxCheck:
    """Write `module` as ONNX (traced on `example`, batch axis dynamic where the network
    allows) and check it; raises UserError, writing nothing, when a check fails. `stage` hears
    each step as it starts: an export can take a minute, which must not look like a hang."""
    try:
        import onnx
    except ImportError:
        raise UserError(
            f"{path}: writing ONNX needs the onnx extra: pip install 'irv2-torch7[onnx]' "
            "(onnx, onnxscript, onnxruntime)"
        ) from None
    with atomic_path(path, force) as tmp:
        start = time.perf_counter()
        stage("onnx: exporting (torch.export, then ONNX; a large network takes a minute)")
        try:
            _export(module, example, tmp)
            stage(f"onnx: exported in {time.perf_counter() - start:.1f} s; checking the graph")
            model = onnx.load(str(tmp))
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # noqa: BLE001 - the exporter's and checker's errors: one line
            raise UserError(f"{path}: ONNX export failed: {_first_line(e)}") from None
        check = OnnxCheck(time.perf_counter() - start, _is_batch_dynamic(model), _opset(model))
        try:
            import onnxruntime  # noqa: F401 - optional: without it the file is checked only
        except ImportError:
            return check
        check.batch = CHECK_BATCH if check.dynamic_batch else _flat(example)[0].shape[0]
        stage(f"onnx: running it in onnxruntime against PyTorch (batch of {check.batch})")
        check.max_delta, check.max_out = _compare(path, tmp, module, example, check.batch)
        if not check.max_delta <= REL_TOL * check.max_out:
            hint = (
                " (its ceil-mode pooling is the likely cause: try another onnxruntime version)"
                if _ceil_pooling(model)
                else ""
            )
            raise UserError(
                f"{path}: the exported model computes something else: onnxruntime differs from "
                f"PyTorch by max|Δ| = {check.max_delta:.3g} > {REL_TOL} x max|out| "
                f"{check.max_out:.3g}{hint}; not written"
            )
    return check
