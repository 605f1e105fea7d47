"""An `.onnx` file t7convert wrote, run by onnxruntime as a module the tools can call.

irv2-eval and irv2-classify only run their model, so an ONNX graph serves them as well as the
PyTorch network: batches go to onnxruntime as float32 arrays and its output comes back as a
tensor on the batch's device. It has no parameters, so it can be neither trained nor read
inside (features, figures): converter.load says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from converter.architecture import ONNX_META_KEY, square_size
from converter.errors import UserError


class OnnxNetwork(nn.Module):
    """images (N x C x S x S) -> the graph's first output, through an onnxruntime session."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            import onnxruntime
        except ImportError:
            raise UserError(
                f'{path}: running an .onnx model needs onnxruntime (pip install ".[onnx]")'
            ) from None

        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types for bad files
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise UserError(f"{path}: not an ONNX model onnxruntime can run ({first})") from None
        inputs = self.session.get_inputs()
        shape = tuple(inputs[0].shape) if len(inputs) == 1 else ()
        self.input_size = square_size(shape, path, "ONNX graph")
        self.input_name = inputs[0].name

    def metadata(self) -> dict:
        """The metadata t7convert carried into the graph (classes, preset...), or {}."""
        import json

        text = self.session.get_modelmeta().custom_metadata_map.get(ONNX_META_KEY)
        try:
            meta = json.loads(text) if text else {}
        except ValueError:
            meta = {}
        return meta if isinstance(meta, dict) else {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        out = self.session.run(None, {self.input_name: array})[0]
        return torch.from_numpy(out).to(x.device)
