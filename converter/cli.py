"""t7convert: Torch7 (fb.resnet.torch) Inception-ResNet-v2 checkpoint -> PyTorch.

\b
    t7convert model_90.t7 irv2.safetensors         # a model file (or irv2.pt, irv2.h5)
    t7convert /path/to/checkpoints/ irv2.pt        # a checkpoint directory: reads latest.t7
    t7convert model_best.t7 irv2.h5 --format h5    # HDF5 for other frameworks
    t7convert model_90.t7 irv2.onnx                # ONNX (pip install ".[onnx]")
    t7convert --inspect model_90.t7                # the module tree with tensor shapes
    t7convert resnet_50.t7 resnet50.safetensors --generic   # any nn tree, as data
    t7convert resnet_50.t7 resnet50.onnx --generic --input-shape 3,224,224
    t7convert style.t7 style.safetensors --generic --plugin my_layers.py
    t7convert gan.t7 G.safetensors --generic --module G   # one of the modules a file holds
    t7convert model_90.t7 irv2.pt --verify         # cross-check the mapping with --generic's path
    t7convert resnet_50.t7 resnet50.py --generic   # PyTorch source + resnet50.safetensors

torch is imported only when a command needs it, so --help answers at once.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click

from converter.command import command, quiet_option
from converter.errors import UserError, exit_on_user_error
from converter.outputs.declared import file_path
from converter.outputs.mapped import FORMATS


@command(help=__doc__.rsplit("\n\n", 1)[0])
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("output", required=False, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: from OUTPUT's suffix; it must agree with the suffix).",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--inspect", is_flag=True, help="Print SOURCE's contents instead of converting.")
@click.option(
    "--generic",
    is_flag=True,
    help="Translate any supported nn tree generically instead of the IRv2 mapping.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Check the mapped IRv2 against the generic translation on a random input.",
)
@click.option(
    "--input-shape",
    "input_shapes",
    multiple=True,
    metavar="C,H,W[:TYPE]",
    help="Example input for .onnx and --generic's .pt2/.onnx, e.g. 3,224,224 (a batch of 2 is "
    "added; IRv2's .onnx: 3,299,299 unless given); 6:long for 6 token ids (TYPE: float, long, "
    "int); repeat it for a network that takes a table.",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE.py",
    help="Python file registering translations of your own Torch7 classes "
    "(@converter.register_translation); repeatable. With --generic.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    default=None,
    help="Parameter type of --generic's module (default: the file's; Double models stay float64).",
)
@click.option(
    "--module",
    "module_path",
    metavar="PATH",
    default=None,
    help="The module to take from a file holding several (a GAN's G, char-rnn's protos.rnn, "
    "entry 2 of a Lua list: 2); the error for such a file lists them. With --generic/--inspect.",
)
@quiet_option()
@exit_on_user_error
def main(
    source: Path,
    output: str | None,
    fmt: str | None,
    force: bool,
    inspect: bool,
    generic: bool,
    verify: bool,
    input_shapes: tuple[str, ...],
    plugins: tuple[Path, ...],
    dtype: str | None,
    module_path: str | None,
    quiet: bool,
) -> None:
    say = (lambda *_: None) if quiet else click.echo
    if inspect:
        _inspect(source, module_path)
        return
    if output is None:
        raise UserError("missing OUTPUT: t7convert SOURCE OUTPUT (or --inspect SOURCE)")
    output = file_path(output, "OUTPUT")
    if generic and verify:
        raise UserError(
            "--generic and --verify exclude each other: --verify checks the IRv2 mapping"
        )
    if (plugins or dtype or module_path) and not generic:
        raise UserError(
            "--plugin, --dtype and --module apply to --generic translation; add --generic"
        )
    from converter.outputs import mapped as out
    from converter.outputs.atomic import check_writable
    from converter.torch7 import checkpoint
    from converter.torch7.digest import BackgroundSha256

    if generic:
        _generic(source, output, fmt, force, input_shapes, plugins, dtype, module_path, say)
        return
    start = time.perf_counter()
    out_format = out.format_for(output, fmt)
    if input_shapes and out_format != "onnx":
        raise UserError("--input-shape applies to .onnx outputs and to --generic only")
    if len(input_shapes) > 1:
        raise UserError("Inception-ResNet-v2 takes one input: give --input-shape once")
    shape, kind = _input_shape(input_shapes[0]) if input_shapes else (None, "float")
    if kind != "float":
        raise UserError(f"--input-shape {input_shapes[0]}: Inception-ResNet-v2 takes images")
    check_writable(output, force)
    if out_format == "py":
        from converter.outputs.pysource.writer import weights_path

        check_writable(weights_path(output), force)
    source_info = checkpoint.resolve(source)
    digest = BackgroundSha256(source_info.model_path)  # runs while torch is imported
    from converter.irv2.convert import convert_checkpoint

    conversion = convert_checkpoint(source, digest=digest)
    if conversion.source.latest_path is not None:
        say(conversion.source.describe(optimizer=False))
    if verify:
        from converter.irv2.verify import verify_against_generic

        err = verify_against_generic(conversion, conversion.source.model_path)
        say(f"verify: mapped model vs generic translation, max |diff| = {err:.3g}")
    if out_format == "onnx":
        import torch

        from converter.outputs.onnx_export import save_onnx

        example = torch.rand(2, *(shape or (conversion.config.in_chans, 299, 299))) * 4 - 2
        check = save_onnx(conversion.build_model(), output, example, force, stage=say)
        say(f"onnx: {check.describe()}")
    elif out_format == "py":
        say(f"python: {_write_mapped_py(conversion, output, force)}")
    else:
        out.save(conversion.state_dict, conversion.meta, output, out_format, force=force)
    n = sum(t.numel() for k, t in conversion.state_dict.items() if "num_batches" not in k)
    say(
        f"converted {conversion.source.model_path} -> {output} ({out_format}): "
        f"{len(conversion.state_dict)} tensors, {n:,} values, "
        f"width 1/{conversion.config.width_divisor}, {conversion.config.num_classes} classes, "
        f"{time.perf_counter() - start:.2f} s"
    )


def _write_mapped_py(conversion, output: Path, force: bool) -> str:  # noqa: ANN001
    from converter.outputs.pysource.record import recording
    from converter.outputs.pysource.writer import About, save_python

    with recording() as calls:
        model = conversion.build_model()
    size = f"{conversion.config.in_chans} x 299 x 299"
    about = About(
        conversion.meta["source_file"],
        conversion.meta["source_sha256"],
        conversion.meta["converter_version"],
        f"float32 N x {size}, preprocessed as fb.resnet.torch's validation (preset irv2: "
        "Scale 328, ColorNormalize with ImageNet's mean and std, CenterCrop 299)",
    )
    return save_python(model, calls, output, force, about)


# --input-shape's optional `:type`: integer inputs (token ids) and the float default
INPUT_TYPES = ("float", "long", "int")


def _input_shape(text: str) -> tuple[tuple[int, ...], str]:
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

    floating = [p.dtype for p in job.module.parameters() if p.dtype.is_floating_point]
    dtype = str(floating[0] if floating else "float32").removeprefix("torch.")
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


def _generic(
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
    shapes = [_input_shape(text) for text in input_shapes]
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
    if out_format == "onnx" and dtype is None and _is_double(module):
        say(
            f"note: {source} is a Double (float64) model; onnxruntime has no float64 "
            "convolution, so the .onnx is float32 (checked against PyTorch in float32)"
        )
        module = translate(root, torch.float32, name=name)
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


def _is_double(module) -> bool:  # noqa: ANN001
    import torch

    return any(p.dtype == torch.float64 for p in module.parameters())


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
    floating = [p.dtype for p in module.parameters() if p.dtype.is_floating_point]
    dtype = floating[0] if floating else torch.float32
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


def _inspect(source: Path, module_path: str | None) -> None:
    from converter.torch7 import checkpoint
    from converter.torch7.describe import describe
    from converter.torch7.modules import pick
    from converter.torch7.reader import load_t7

    resolved = checkpoint.resolve(source)
    if resolved.latest_path is not None:
        click.echo(resolved.describe())
    obj = load_t7(resolved.model_path)
    if module_path is not None:
        obj = pick(obj, module_path, str(resolved.model_path))
    click.echo(describe(obj))
