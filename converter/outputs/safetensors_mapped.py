"""Mapped IRv2 weights as .safetensors: the same tensors and metadata as the .pt, the metadata
as JSON in the header (`meta_json`), so `safetensors.torch.load_file` alone reads the weights
and nothing is ever unpickled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from converter.errors import UserError

if TYPE_CHECKING:
    import torch

FORMAT_TAG = "irv2-torch7.mapped"  # the header's "format": what kind of .safetensors this is


def save(state_dict: dict[str, torch.Tensor], meta: dict[str, Any], path: Path) -> None:
    from safetensors.torch import save_file

    header = {"format": FORMAT_TAG, "meta_json": json.dumps(meta)}
    save_file({k: t.contiguous() for k, t in state_dict.items()}, str(path), metadata=header)


def load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            if header.get("format") != FORMAT_TAG:
                raise UserError(
                    f"{path}: not IRv2 weights from t7convert"
                    + (
                        "; it is a generic translation (t7convert --generic): load it with "
                        "converter.load_translated"
                        if "spec" in header
                        else ""
                    )
                )
            state = {k: f.get_tensor(k) for k in f.keys()}
            meta = json.loads(header["meta_json"])
    except (SafetensorError, OSError, KeyError, ValueError) as e:
        raise UserError(f"{path}: not a .safetensors file written by t7convert ({e})") from None
    return state, meta
