"""The one model loader: every form of a model a user or these tools have, as a network.

Every tool (irv2-eval, irv2-train, irv2-classify, irv2-features, irv2-draw, torch.hub, the
Python API) loads `--weights` through `load`:
- a Torch7 `.t7` file or checkpoint directory: the mapped IRv2 where the mapping table fits,
  otherwise the generic translation of the same tree (read once);
- what t7convert writes: `.safetensors` (mapped, or --generic's tree as data), `.pt`, `.h5`;
  a `.pt2` program (loading it unpickles: a warning says so); an `.onnx` graph, run by
  onnxruntime (only where a tool just runs the model: `RUNS_ONLY`);
- irv2-train's `checkpoint.pt`/`model_best.pt` and run directories, of either architecture
  (converter.architecture records which), and t7convert's conversions of them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from converter.errors import MappingError, UserError

if TYPE_CHECKING:
    from torch import nn

RUN_FILES = ("model_best.pt", "checkpoint.pt")  # an irv2-train run directory, preferred first
# kinds of model that can be run but not trained, nor read inside
RUNS_ONLY = {
    "program": "a torch.export program (.pt2)",
    "onnx": "an ONNX graph run by onnxruntime",
}
RUNNING_TOOLS = "irv2-eval and irv2-classify"


@dataclass
class Loaded:
    """A loaded model and what is known of it."""

    network: nn.Module  # images -> class scores, in eval mode, on the CPU
    kind: str  # "mapped" (IRv2 table), "generic" (translated tree), "program" or "onnx"
    description: str  # one line: what was loaded, for the user and every output
    meta: dict[str, Any] = field(default_factory=dict)  # the file's metadata (classes, epoch...)
    input_size: int | None = None  # the one square crop an exported program or graph takes

    @property
    def preset(self) -> str | None:
        """The preprocessing preset it was trained with (None: decided by `input_size`)."""
        from converter.architecture import IRV2, PRESETS, TRANSLATED

        arch = {"mapped": IRV2, "generic": TRANSLATED}.get(self.kind)
        return PRESETS[arch] if arch else self.meta.get("preset")

    def require_trainable(self, tool: str) -> None:
        """Refuse a program or graph where `tool` needs the network's modules."""
        if self.kind in RUNS_ONLY:
            raise UserError(
                f"{self.description}: {tool} needs the network itself, and {RUNS_ONLY[self.kind]} "
                f"is only run ({RUNNING_TOOLS} take it); give the .safetensors, .pt, .h5 or "
                ".t7 it came from"
            )


def load(path: str | Path, hashed: bool = False) -> Loaded:
    """The model in `path` on the CPU in eval mode; `hashed`: a Torch7 file's sha256 goes into
    the meta (hashing costs more CPU than reading the file, so only where it is kept)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory (--weights)")
    if path.is_dir():
        run_file = next((path / f for f in RUN_FILES if (path / f).is_file()), None)
        if run_file is not None:
            return _load_file(run_file, f"{path} (irv2-train run, {run_file.name})")
        return _load_torch7(path, hashed)
    return _load_file(path, str(path), hashed)


def _load_file(path: Path, said: str, hashed: bool = False) -> Loaded:
    from converter.outputs.mapped import format_of

    fmt = format_of(path)
    if fmt == "pt2":
        return _load_exported(path)
    if fmt == "onnx":
        from converter.outputs.onnx_run import OnnxNetwork

        network = OnnxNetwork(path)
        size = network.input_size
        said = f"{path} (ONNX graph, {size}x{size} inputs)"
        return Loaded(network, "onnx", said, network.metadata(), size)
    if fmt == "safetensors":
        from converter.outputs.translated import is_translated

        if is_translated(path):
            return _translated_artifact(path)
    if fmt is None:
        return _load_torch7(path, hashed)
    from converter.architecture import IRV2, rebuild
    from converter.outputs import mapped

    tensors, meta = mapped.load(path)
    network = rebuild(meta, tensors, str(path))
    mapped_irv2 = meta.get("arch") == IRV2
    if meta.get("format") == "irv2-train-checkpoint":
        what = "irv2-train checkpoint"
    else:
        what = "t7convert's mapped weights" if mapped_irv2 else "t7convert's weights"
    if mapped_irv2:
        return Loaded(network, "mapped", f"{said} (Inception-ResNet-v2, {what})", meta)
    return Loaded(network, "generic", f"{said} (translated Torch7 network, {what})", meta)


def _translated_artifact(path: Path) -> Loaded:
    """t7convert --generic's .safetensors: the tree read (and checked) once, then translated."""
    from converter.architecture import of_network
    from converter.outputs.translated import translate_artifact

    network, tree = translate_artifact(path)
    network.architecture = of_network(network, tree, path.name)
    return Loaded(network, "generic", f"{path} (generic translation, .safetensors)")


def _load_torch7(path: Path, hashed: bool = False) -> Loaded:
    """A Torch7 file or checkpoint directory, read once: the mapped IRv2 where the mapping
    table fits the tree, otherwise the generic translation of the same tree."""
    from converter.architecture import of_network
    from converter.generic.translator import load_tree, translate
    from converter.irv2.convert import convert_tree
    from converter.torch7 import checkpoint
    from converter.torch7.digest import BackgroundSha256
    from converter.torch7.reader import load_t7

    source = checkpoint.resolve(path)
    digest = BackgroundSha256(source.model_path) if hashed else None  # beside the parse
    tree = load_t7(source.model_path)
    try:
        conversion = convert_tree(tree, source, digest=digest)
    except MappingError as mapping_error:
        try:
            name, root = load_tree(tree, str(source.model_path))
            network = translate(root, name=name)
        except UserError as e:
            raise UserError(
                f"{e} (nor is it an Inception-ResNet-v2 checkpoint: {mapping_error})"
            ) from None
        network.architecture = of_network(network, root, source.model_path.name)
        meta = {"source_sha256": digest.result()} if digest is not None else {}
        return Loaded(network, "generic", f"{path} (generic translation)", meta)
    network = conversion.build_model().eval()
    return Loaded(
        network, "mapped", f"{path} (Inception-ResNet-v2, Torch7, mapped)", conversion.meta
    )


def _load_exported(path: Path) -> Loaded:
    """A torch.export program: its fixed input size is the crop it takes. torch.export.load
    unpickles, so a file from elsewhere could run code: said on stderr."""
    import torch

    from converter.outputs.export import UNPICKLES, UnpicklingFormatWarning

    warnings.warn(f"{path}: {UNPICKLES}", UnpicklingFormatWarning, stacklevel=3)
    try:
        program = torch.export.load(path).module()
    except Exception as e:  # noqa: BLE001 - any failure here means "not a loadable program"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise UserError(f"{path}: not a torch.export program ({first})") from None
    _fill_meta_buffers(program)
    inputs = [n.meta.get("val") for n in program.graph.nodes if n.op == "placeholder"]
    shape = tuple(inputs[0].shape) if len(inputs) == 1 and inputs[0] is not None else ()
    from converter.architecture import square_size

    size = square_size(shape, path, "program")
    return Loaded(
        program, "program", f"{path} (torch.export program, {size}x{size} inputs)", {}, size
    )


def _fill_meta_buffers(program: nn.Module) -> None:
    """Zeros for buffers saved without data: t7convert --generic wrote BatchNorm's
    `num_batches_tracked` as meta tensors until converter.generic fixed it (never read in eval mode,
    but they stop the program from moving to a device)."""
    import torch

    for name, buffer in list(program.named_buffers()):
        if buffer.is_meta:
            owner, _, leaf = name.rpartition(".")
            module = program.get_submodule(owner) if owner else program
            module._buffers[leaf] = torch.zeros(buffer.shape, dtype=buffer.dtype)
