"""t7convert on the files the tools themselves write: convert them to another format, or describe
them (`--inspect`).

A model fine-tuned by irv2-train (`model_best.pt`, `checkpoint.pt`, the run directory) or
converted before (`.safetensors`, `.pt`, `.h5`) is shared in whatever format the user needs:
it is loaded through the one loader (converter.load), its architecture record
(converter.architecture) and metadata (classes, preset, epoch, source) are carried into the new
file, and an `.onnx` export keeps that metadata as the graph's metadata_props.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from converter.architecture import ONNX_META_KEY
from converter.errors import UserError
from converter.load import RUN_FILES, Loaded, load

OURS = ("pt", "h5", "safetensors", "onnx", "pt2")  # suffixes whose files these tools write
TRAINING_ONLY = ("format", "version", "best_top1", "best_top5", "batches_done")
RECORD_KEYS = ("config", "torch7_tree", "tree_from_state_dict", "dtype", "head")  # the network


def is_ours(source: Path) -> bool:
    """Whether `source` is a file or run directory these tools wrote (not a Torch7 file)."""
    from converter.outputs.mapped import format_of

    if source.is_dir():
        return any((source / name).is_file() for name in RUN_FILES)
    return format_of(source) in OURS


def carried_meta(loaded: Loaded, source: Path) -> dict[str, Any]:
    """The metadata a converted copy keeps: what the model is, not how training was going."""
    meta = {k: v for k, v in loaded.meta.items() if k not in TRAINING_ONLY}
    meta["converted_from"] = source.name
    if loaded.preset is not None:
        meta.setdefault("preset", loaded.preset)
    return meta


def reconvert(source: Path, output: Path, fmt: str | None, force: bool, shape: Any) -> str:
    """Write the model in `source` to `output` in its suffix's format; returns what was done."""
    import torch

    from converter.architecture import of_network
    from converter.outputs import mapped as out
    from converter.outputs.atomic import check_writable

    out_format = out.format_for(output, fmt)
    check_writable(output, force)
    loaded = load(source)
    loaded.require_trainable("t7convert")  # a program or graph has no weights to write
    network = loaded.network
    record = getattr(network, "architecture", None) or of_network(network)
    meta = carried_meta(loaded, source)
    state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
    if out_format == "onnx":
        from converter.outputs.onnx_export import save_onnx
        from evaluate.pretrained.presets import PRESETS

        crop = PRESETS[loaded.preset].crop_size  # the crops the model was trained on
        example = torch.rand(2, *(shape or (3, crop, crop))) * 4 - 2
        # what names and preprocesses the outputs; the network itself is the graph
        kept = {k: v for k, v in meta.items() if k not in RECORD_KEYS}
        props = {ONNX_META_KEY: json.dumps(kept)}
        check = save_onnx(network, output, example, force, metadata=props)
        return f"ONNX {check.describe()}"
    if shape is not None:
        raise UserError("--input-shape applies to .onnx outputs and to --generic only")
    shape, tensors = record.saved(state)
    meta.update(shape)
    out.save(tensors, meta, output, out_format, force=force)
    classes = meta.get("classes")
    named = f", {len(classes)} named classes" if classes else ""
    return f"{len(state)} tensors, {record.arch}{named}, metadata carried"


def describe_ours(source: Path) -> str:
    """--inspect of a file these tools wrote: what it is, its metadata, and its network (a
    translated one as its Torch7 tree, like a .t7; the IRv2 as its tensors)."""
    from converter.torch7.describe import describe

    loaded = load(source)
    lines = [loaded.description]
    for key, value in sorted(loaded.meta.items()):
        if key in ("torch7_tree", "tree_from_state_dict"):  # shown as the tree below
            continue
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        lines.append(f"  {key}: {text[:200]}{' ...' if len(text) > 200 else ''}")
    record = getattr(loaded.network, "architecture", None)
    if record is not None and record.tree is not None:
        if record.head is not None:
            head = record.head
            lines.append(
                f"  classifier replaced at {head['path']}: Linear({head['in_features']} -> "
                f"{head['out_features']}) (the tree below shows the original)"
            )
        lines.append(describe(record.tree))
        return "\n".join(lines)
    if loaded.kind in ("onnx", "program"):
        lines.append(f"  takes N x 3 x {loaded.input_size} x {loaded.input_size}")
        return "\n".join(lines)
    state = loaded.network.state_dict()
    lines += [f"  {k}: {tuple(v.shape)}" for k, v in state.items()]
    return "\n".join(lines)
