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
    t7convert model_90.t7 irv2.pt --verify         # cross-check the mapping with --generic's path
    t7convert runs/ft/model_best.pt ft.safetensors # irv2-train's (and t7convert's) own files too

torch is imported only when a command needs it, so --help answers at once.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click

from converter.errors import UserError, exit_on_user_error
from converter.outputs.mapped import FORMATS


@click.command(help=__doc__.rsplit("\n\n", 1)[0])
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("output", required=False, type=click.Path(path_type=Path))
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
    metavar="C,H,W",
    help="Example input for .onnx and --generic's .pt2/.onnx, e.g. 3,224,224 (a batch of 2 is "
    "added; IRv2's .onnx: 3,299,299 unless given); repeat it for a network that takes a table.",
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
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@exit_on_user_error
def main(
    source: Path,
    output: Path | None,
    fmt: str | None,
    force: bool,
    inspect: bool,
    generic: bool,
    verify: bool,
    input_shapes: tuple[str, ...],
    plugins: tuple[Path, ...],
    dtype: str | None,
    quiet: bool,
) -> None:
    say = (lambda *_: None) if quiet else click.echo
    if inspect:
        _inspect(source)
        return
    if output is None:
        raise UserError("missing OUTPUT: t7convert SOURCE OUTPUT (or --inspect SOURCE)")
    if generic and verify:
        raise UserError(
            "--generic and --verify exclude each other: --verify checks the IRv2 mapping"
        )
    if (plugins or dtype) and not generic:
        raise UserError("--plugin and --dtype apply to --generic translation; add --generic")
    from converter.outputs import mapped as out
    from converter.outputs.atomic import check_writable
    from converter.outputs.reconvert import is_ours
    from converter.torch7 import checkpoint
    from converter.torch7.digest import BackgroundSha256

    if is_ours(source):
        _reconvert(source, output, fmt, force, generic or verify or plugins, input_shapes, say)
        return
    if generic:
        _generic(source, output, fmt, force, input_shapes, plugins, dtype, say)
        return
    start = time.perf_counter()
    out_format = out.format_for(output, fmt)
    if input_shapes and out_format != "onnx":
        raise UserError("--input-shape applies to .onnx outputs and to --generic only")
    if len(input_shapes) > 1:
        raise UserError("Inception-ResNet-v2 takes one input: give --input-shape once")
    shape = _input_shape(input_shapes[0]) if input_shapes else None
    check_writable(output, force)
    source_info = checkpoint.resolve(source)
    digest = BackgroundSha256(source_info.model_path)  # runs while torch is imported
    from converter.irv2.convert import convert_checkpoint

    conversion = convert_checkpoint(source, digest=digest)
    if conversion.source.latest_path is not None:
        say(conversion.source.describe())
    if verify:
        from converter.irv2.verify import verify_against_generic

        err = verify_against_generic(conversion, conversion.source.model_path)
        say(f"verify: mapped model vs generic translation, max |diff| = {err:.3g}")
    if out_format == "onnx":
        import torch

        from converter.outputs.onnx_export import save_onnx

        example = torch.rand(2, *(shape or (conversion.config.in_chans, 299, 299))) * 4 - 2
        say(f"onnx: {save_onnx(conversion.build_model(), output, example, force).describe()}")
    else:
        out.save(conversion.state_dict, conversion.meta, output, out_format, force=force)
    n = sum(t.numel() for k, t in conversion.state_dict.items() if "num_batches" not in k)
    say(
        f"converted {conversion.source.model_path} -> {output} ({out_format}): "
        f"{len(conversion.state_dict)} tensors, {n:,} values, "
        f"width 1/{conversion.config.width_divisor}, {conversion.config.num_classes} classes, "
        f"{time.perf_counter() - start:.2f} s"
    )


def _reconvert(source, output, fmt, force, torch7_only, input_shapes, say) -> None:  # noqa: ANN001
    """One of the tools' own files (irv2-train's, t7convert's) to another format."""
    from converter.outputs.reconvert import reconvert

    if torch7_only:
        raise UserError(
            f"{source}: already converted; --generic/--verify/--plugin apply to Torch7 files: "
            f"t7convert {source} OUTPUT converts it to OUTPUT's format"
        )
    if len(input_shapes) > 1:
        raise UserError("a classifier takes one input: give --input-shape once")
    start = time.perf_counter()
    shape = _input_shape(input_shapes[0]) if input_shapes else None
    done = reconvert(source, output, fmt, force, shape)
    say(f"converted {source} -> {output} ({done}), {time.perf_counter() - start:.2f} s")


def _input_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise UserError(f"--input-shape {text!r}: expected C,H,W such as 3,224,224")
    return shape


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


def _write_safetensors(job: _GenericJob) -> str:
    from converter.outputs.translated import save_translated

    n = save_translated(job.root, job.output, job.force, Path(job.name).name, job.dtype)
    return f"{n} tensors and the module tree as data; load it with converter.load_translated"


def _write_pt2(job: _GenericJob) -> str:
    from converter.outputs.export import UnpicklingFormatWarning, save_generic

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpicklingFormatWarning)
        save_generic(job.module, job.output, job.example)
    for w in caught:
        if issubclass(w.category, UnpicklingFormatWarning):
            click.echo(f"warning: {w.message}", err=True)
    return "torch.export program; load it with torch.export.load(path).module()"


def _write_onnx(job: _GenericJob) -> str:
    from converter.outputs.onnx_export import save_onnx

    return f"ONNX {save_onnx(job.module, job.output, job.example, job.force).describe()}"


# --generic's output formats (converter.outputs.mapped.GENERIC_FORMATS) and their writers
_GENERIC_WRITERS: dict[str, Callable[[_GenericJob], str]] = {
    "safetensors": _write_safetensors,
    "pt2": _write_pt2,
    "onnx": _write_onnx,
}


def _generic(
    source: Path,
    output: Path,
    fmt: str | None,
    force: bool,
    input_shapes: tuple[str, ...],
    plugins: tuple[Path, ...],
    dtype: str | None,
    say,  # noqa: ANN001
) -> None:
    """Translate the nn tree itself and write it in --generic's format for the suffix."""
    from converter.outputs import mapped as out
    from converter.outputs.atomic import check_writable

    out_format = out.format_for(output, fmt, generic=True)
    if not input_shapes and out_format != "safetensors":
        raise UserError(
            f"--generic needs --input-shape C,H,W for the .{out_format} it traces "
            "(e.g. 3,224,224 for ResNet, 3,299,299 for Inception-ResNet-v2)"
        )
    shapes = [_input_shape(text) for text in input_shapes]
    check_writable(output, force)
    start = time.perf_counter()
    import torch

    from converter.generic.plugins import load_plugin
    from converter.generic.translator import load_tree, translate

    for plugin in plugins:
        load_plugin(plugin)
    name, root = load_tree(source)
    module = translate(root, getattr(torch, dtype) if dtype else None, name=name)
    example = _example_input(module, shapes, source) if shapes else None
    job = _GenericJob(name, root, module, example, output, force, dtype)
    done = _GENERIC_WRITERS[out_format](job)
    say(f"translated {source} -> {output} ({done}) in {time.perf_counter() - start:.2f} s")


def _example_input(module, shapes: list[tuple[int, ...]], source: Path):  # noqa: ANN001, ANN202
    """A batch of 2 random inputs per shape (a list for a table), run once eagerly, so a shape
    the network cannot take fails here in one line rather than deep in tracing."""
    import torch

    floating = [p.dtype for p in module.parameters() if p.dtype.is_floating_point]
    dtype = floating[0] if floating else torch.float32
    examples = [torch.rand(2, *shape, dtype=dtype) * 4 - 2 for shape in shapes]
    example = examples[0] if len(examples) == 1 else examples
    try:
        with torch.no_grad():
            module(example)
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        given = " and ".join(",".join(map(str, s)) for s in shapes)
        raise UserError(f"{source}: cannot run on an input of shape {given}: {first}") from None
    return example


def _inspect(source: Path) -> None:
    from converter.outputs.reconvert import describe_ours, is_ours

    if is_ours(source):
        click.echo(describe_ours(source))
        return
    from converter.torch7 import checkpoint
    from converter.torch7.describe import describe
    from converter.torch7.reader import load_t7

    resolved = checkpoint.resolve(source)
    if resolved.latest_path is not None:
        click.echo(resolved.describe())
    click.echo(describe(load_t7(resolved.model_path)))
