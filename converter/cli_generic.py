"""t7convert --generic: any Torch7 nn tree translated (converter.generic) and written in the
format its output's suffix names (.safetensors, .pt2, .onnx, .py), with --input-shape's
example input for the formats that trace the network. converter.cli hands over here."""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from converter.architecture import parameter_dtype
from converter.errors import UserError

# --input-shape's optional `:type`: integer inputs (token ids) and the float default
INPUT_TYPES = ("float", "long", "int")


def input_shape(text: str) -> tuple[tuple[int, ...], str]:
    """(shape, type) of one --input-shape: "3,224,224" (float) or "6:long" (token ids)."""
    dims, _, kind = text.partition(":")
    try:
        shape = tuple(int(v) for v in dims.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1 or (kind or "float") not in INPUT_TYPES:
        raise UserError(
            f"--input-shape {text!r}: expected C,H,W such as 3,224,224, optionally with a "
            f"type: 6:long for 6 token ids (types: {', '.join(INPUT_TYPES)})"
        )
    return shape, kind or "float"


@dataclass
class _GenericJob:
    """One --generic conversion: the Torch7 tree, its translation, and where it goes."""

    name: str
    root: Any
    module: Any
    example: Any
    output: Path
    force: bool
    dtype: str | None = None  # --dtype: the safetensors artifact records it for load_translated
    say: Callable[[str], None] = lambda _: None  # progress notes (none under -q)
    calls: Any = None  # .py: the constructor calls recorded while the module was built
    shapes: tuple = ()  # --input-shape, as given
    digest: Any = None  # .py: the source's sha256, computed while the module is built


def _write_safetensors(job: _GenericJob) -> str:
    from converter.outputs.translated import save_translated

    n = save_translated(job.root, job.output, job.force, Path(job.name).name, job.dtype)
    return f"{n} tensors and the module tree as data; load it with converter.load_translated"


def _write_pt2(job: _GenericJob) -> str:
    from converter.outputs.export import UnpicklingFormatWarning, save_generic

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpicklingFormatWarning)
        save_generic(job.module, job.output, job.example)
    for w in caught:  # torch.export's own chatter is dropped; ours is one line (not under -q)
        if issubclass(w.category, UnpicklingFormatWarning):
            warnings.warn(w.message, stacklevel=1)
    return "torch.export program; load it with torch.export.load(path).module()"


def _write_onnx(job: _GenericJob) -> str:
    from converter.outputs.onnx_export import save_onnx

    check = save_onnx(job.module, job.output, job.example, job.force, stage=job.say)
    return f"ONNX {check.describe()}"


def _write_py(job: _GenericJob) -> str:
    from converter.irv2.convert import converter_version
    from converter.outputs.pysource.writer import About, save_python

    dtype = str(parameter_dtype(job.module) or "float32").removeprefix("torch.")
    kinds = {"float": dtype, "long": "int64", "int": "int32"}  # --input-shape's types
    shapes = " and ".join(
        f"{kinds[kind]} " + " x ".join(("N", *map(str, shape))) for shape, kind in job.shapes
    )
    inputs = shapes or f"{dtype} tensors, as the Torch7 model took them"
    about = About(Path(job.name).name, job.digest.result(), converter_version(), inputs)
    return save_python(job.module, job.calls, job.output, job.force, about)


# --generic's output formats (converter.outputs.mapped.GENERIC_FORMATS) and their writers
_GENERIC_WRITERS: dict[str, Callable[[_GenericJob], str]] = {
    "safetensors": _write_safetensors,
    "pt2": _write_pt2,
    "onnx": _write_onnx,
    "py": _write_py,
}


def convert_generic(
    source: Path,
    output: Path,
    fmt: str | None,
    force: bool,
    input_shapes: tuple[str, ...],
    plugins: tuple[Path, ...],
    dtype: str | None,
    module_path: str | None,
    say,  # noqa: ANN001
) -> None:
    """Translate the nn tree itself and write it in --generic's format for the suffix."""
    from converter.outputs import mapped as out
    from converter.outputs.atomic import check_writable

    out_format = out.format_for(output, fmt, generic=True)
    if not input_shapes and out_format not in ("safetensors", "py"):
        raise UserError(
            f"--generic needs --input-shape C,H,W for the .{out_format} it traces "
            "(e.g. 3,224,224 for ResNet, 3,299,299 for Inception-ResNet-v2)"
        )
    shapes = [input_shape(text) for text in input_shapes]
    check_writable(output, force)
    digest = None
    if out_format == "py":
        from converter.outputs.pysource.writer import weights_path
        from converter.torch7 import checkpoint
        from converter.torch7.digest import BackgroundSha256

        check_writable(weights_path(output), force)
        digest = BackgroundSha256(checkpoint.resolve(source).model_path)  # while torch imports
    start = time.perf_counter()
    import torch

    from converter.generic.plugins import load_plugin
    from converter.generic.translator import load_tree, translate

    for plugin in plugins:
        load_plugin(plugin)
    name, root = load_tree(source, module=module_path)
    with _recording(out_format == "py") as calls:
        module = translate(root, getattr(torch, dtype) if dtype else None, name=name)
    if out_format == "onnx" and dtype is None and parameter_dtype(module) == torch.float64:
        say(
            f"note: {source} is a Double (float64) model; onnxruntime has no float64 "
            "convolution, so the .onnx is float32 (checked against PyTorch in float32)"
        )
        module = module.to(torch.float32)  # what translate's dtype does, without a rebuild
    example = _example_input(module, shapes, source) if shapes else None
    job = _GenericJob(
        name, root, module, example, output, force, dtype, say, calls, tuple(shapes), digest
    )
    done = _GENERIC_WRITERS[out_format](job)
    say(f"translated {source} -> {output} ({done}) in {time.perf_counter() - start:.2f} s")


def _recording(wanted: bool):  # noqa: ANN202
    """The constructor calls a .py repeats, recorded while the module is built (for .py only)."""
    from converter.outputs.pysource.record import recording

    return recording() if wanted else contextlib.nullcontext()


def _example_input(module, shapes: list[tuple[tuple[int, ...], str]], source: Path):  # noqa: ANN001, ANN202
    """A batch of 2 random inputs per shape (a list for a table), run once eagerly, so a shape
    the network cannot take fails here in one line rather than deep in tracing. Integer
    inputs are 1s and 2s: token ids every vocabulary has, whether counted from 0 or 1."""
    import contextlib
    import io

    import torch

    wanted = getattr(module, "n_inputs", 1)  # an nngraph gModule's table of inputs
    if len(shapes) != wanted:
        takes = f"{wanted} inputs (a table)" if wanted > 1 else "1 input"
        raise UserError(
            f"{source}: the network takes {takes}, and {len(shapes)} --input-shape "
            f"{'was' if len(shapes) == 1 else 'were'} given; give --input-shape {wanted} "
            "time(s), one per input in order"
        )
    dtype = parameter_dtype(module) or torch.float32
    integer = {"long": torch.long, "int": torch.int32}
    examples = [
        torch.randint(1, 3, (2, *shape), dtype=integer[kind])
        if kind in integer
        else torch.rand(2, *shape, dtype=dtype) * 4 - 2
        for shape, kind in shapes
    ]
    example = examples[0] if len(examples) == 1 else examples
    try:  # torch.fx prints a graph's generated code on stderr when it fails: not for users
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            module(example)
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        given = " and ".join(
            ",".join(map(str, s)) + (f":{k}" if k != "float" else "") for s, k in shapes
        )
        raise UserError(f"{source}: cannot run on an input of shape {given}: {first}") from None
    return example
