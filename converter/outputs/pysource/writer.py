"""`t7convert X.t7 model.py [--generic]`: the model as one plain PyTorch source file, its weights
in `model.safetensors` beside it.

The file needs torch and safetensors, nothing of this project: `build()` makes the network from
the constructor calls that made the translated (or mapped) one, `load(path=None, device="cpu")`
adds the weights. Before anything is written the source is run here once, on the meta device,
and must rebuild the same tree (every module's class, settings and tensor shapes): a module a
translation changed after constructing it, which the constructor call alone would not
reproduce, is refused in one line instead of written wrong. Both files are written atomically,
and neither replaces an existing file without --force.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from converter.outputs.atomic import atomic_path, check_writable
from converter.outputs.pysource.layout import LINE_LENGTH
from converter.outputs.pysource.record import Calls
from converter.outputs.pysource.sources import NotWritableError, SourceSet
from converter.outputs.pysource.tree import TreeWriter

FORMAT_TAG = "irv2-torch7.python"  # the weights file's header "format"

LOAD = '''
def load(path: str | Path | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The network with its weights from `path` (default: the .safetensors file beside this
    one, same name), on `device`, in eval mode."""
    path = Path(__file__).with_suffix(".safetensors") if path is None else Path(path)
    model = build()
    model.load_state_dict(load_file(path, device=str(device)), strict=True, assign=True)
    return model.to(device).eval()
'''


@dataclass(frozen=True)
class About:
    """What the generated file's header says: where the model came from, what it takes."""

    source_file: str
    sha256: str | None
    version: str
    inputs: str  # how inputs are expected: shape, dtype, preprocessing where known


def weights_path(path: Path) -> Path:
    """The weights file of a generated .py: same directory, same stem."""
    return Path(path).with_suffix(".safetensors")


def _header(stem: str, about: About) -> str:
    text = [
        f"{about.source_file} as plain PyTorch, written by t7convert (irv2-torch7 "
        f"{about.version}).",
        "",
        f"Source: {about.source_file}",
        f"sha256: {about.sha256 or 'not recorded'}",
        f"Input: {about.inputs}.",
        f"Weights: {stem}.safetensors beside this file, read by load(); state_dict keys are the "
        'Torch7 module paths ("1.2.weight" is model:get(1):get(2).weight).',
        "",
        "Needs torch and safetensors only. The classes below that are not torch's carry Torch7's "
        "semantics where PyTorch's differ; they are irv2-torch7's own, copied.",
    ]
    wrapped = []
    for paragraph in text:
        paragraph = paragraph.replace("\\", "/").replace('"""', "'''")
        wrapped += textwrap.wrap(paragraph, LINE_LENGTH - 4, break_on_hyphens=False) or [""]
    return '"""' + "\n".join(wrapped) + '\n"""'


def python_source(model: nn.Module, calls: Calls, stem: str, about: About) -> str:
    """The text of the generated file for `model`, built while `calls` was recorded."""
    sources = SourceSet()
    sources.add_import("torch")
    sources.add_from_import("pathlib", "Path")
    sources.add_from_import("safetensors.torch", "load_file")
    sources.add_from_import("torch", "nn")
    tree = TreeWriter(model, calls, sources)
    build = [
        "def build() -> nn.Module:",
        '    """The network with untrained weights (load() puts them in)."""',
        *tree.build_body(),
    ]
    blocks = [*sources.definitions.values(), *tree.classes, "\n".join(build) + "\n", LOAD[1:]]
    imports = "\n\n".join(sources.import_lines())
    body = "\n\n\n".join(b.rstrip("\n") for b in blocks)
    return f"{_header(stem, about)}\n\n{imports}\n\n\n{body}\n"


def check_rebuilds(text: str, model: nn.Module) -> None:
    """Run `text`'s build() on the meta device: it must make `model`'s tree again."""
    name = "t7convert_generated_check"
    module = types.ModuleType(name)
    module.__file__ = f"{name}.py"
    sys.modules[name] = module  # dataclasses look their module up
    try:
        exec(compile(text, module.__file__, "exec"), vars(module))  # noqa: S102 - our own text
        with torch.device("meta"):
            rebuilt = module.build()
    except Exception as e:  # noqa: BLE001 - whatever copied code raises becomes one line
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise NotWritableError(
            f"the generated code fails when it builds the model ({type(e).__name__}: {first})"
        ) from None
    finally:
        del sys.modules[name]
    _compare(model, rebuilt)
    if _sharing(model) != _sharing(rebuilt):
        raise NotWritableError("the generated code shares modules differently from the model")


def _sharing(model: nn.Module) -> list[list[str]]:
    """The paths of each module object, for those under more than one path."""
    by_id: dict[int, list[str]] = {}
    for path, m in model.named_modules(remove_duplicate=False):
        by_id.setdefault(id(m), []).append(path)
    return sorted(paths for paths in by_id.values() if len(paths) > 1)


def _compare(model: nn.Module, rebuilt: nn.Module) -> None:
    want = dict(model.named_modules(remove_duplicate=False))
    got = dict(rebuilt.named_modules(remove_duplicate=False))
    if list(want) != list(got):
        missing = sorted(set(want) ^ set(got))[:3]
        raise NotWritableError(
            f"the generated code builds another tree (modules {missing} differ); the model "
            "was changed after it was constructed"
        )
    for path, m in want.items():
        if isinstance(m, torch.fx.GraphModule):
            continue
        r = got[path]
        where = f"{type(m).__name__} at {path or 'the root'}"
        if type(r).__name__ != type(m).__name__:
            raise NotWritableError(f"{where}: rebuilt as a {type(r).__name__}")
        for key, value in vars(m).items():
            if not key.startswith("_") and key != "training" and not _same(value, vars(r).get(key)):
                raise NotWritableError(
                    f"{where}: its {key} was set after it was constructed, so the constructor "
                    "call does not reproduce it; it cannot be written as source"
                )
    shapes = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    if shapes != {k: tuple(t.shape) for k, t in rebuilt.state_dict().items()}:
        raise NotWritableError("the generated code's parameters differ from the model's")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape
    if isinstance(a, nn.Module):
        return type(a).__name__ == type(b).__name__
    if dataclasses.is_dataclass(a):  # the copied class is another class of the same name
        same_kind = type(a).__name__ == type(b).__name__ and dataclasses.is_dataclass(b)
        return same_kind and dataclasses.asdict(a) == dataclasses.asdict(b)
    try:
        return bool(a == b)
    except (RuntimeError, TypeError, ValueError):
        return False


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict, one tensor per key (safetensors stores no shared memory)."""
    seen: set[int] = set()
    out = {}
    for key, t in model.state_dict().items():
        t = t.detach()
        ptr = t.untyped_storage().data_ptr()
        out[key] = t.clone() if ptr in seen else t.contiguous()
        seen.add(ptr)
    return out


def save_python(model: nn.Module, calls: Calls, path: Path, force: bool, about: About) -> str:
    """Write `path` (.py) and its weights beside it; says what was written."""
    from safetensors.torch import save_file

    path, weights = Path(path), weights_path(path)
    check_writable(path, force)
    check_writable(weights, force)
    text = python_source(model, calls, path.stem, about)
    check_rebuilds(text, model)
    tensors = _weights(model)
    meta = {"format": FORMAT_TAG, "source_file": about.source_file, "code": path.name}
    with atomic_path(weights, force) as tmp_weights, atomic_path(path, force) as tmp:
        save_file(tensors, tmp_weights, metadata=meta)
        tmp.write_text(text, encoding="utf-8")
    use = (
        f"import {path.stem} and call load()"
        if path.stem.isidentifier()
        else f"{path.stem!r} is no Python name: load it with importlib, or rename it to import it"
    )
    n_lines = text.count("\n")
    return f"{n_lines} lines of PyTorch, {len(tensors)} tensors in {weights.name}; {use}"
