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
    t7convert runs/ft/model_best.pt ft.safetensors # irv2-train's (and t7convert's) own files too

torch is imported only when a command needs it, so --help answers at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from converter.cli_generic import convert_generic, input_shape
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
    from converter.outputs.reconvert import is_ours
    from converter.torch7 import checkpoint
    from converter.torch7.digest import BackgroundSha256

    if is_ours(source):
        _reconvert(
            source,
            output,
            fmt,
            force,
            generic or verify or plugins or module_path,
            input_shapes,
            say,
        )
        return
    if generic:
        convert_generic(source, output, fmt, force, input_shapes, plugins, dtype, module_path, say)
        return
    start = time.perf_counter()
    out_format = out.format_for(output, fmt)
    if input_shapes and out_format != "onnx":
        raise UserError("--input-shape applies to .onnx outputs and to --generic only")
    if len(input_shapes) > 1:
        raise UserError("Inception-ResNet-v2 takes one input: give --input-shape once")
    shape, kind = input_shape(input_shapes[0]) if input_shapes else (None, "float")
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
    shape, kind = input_shape(input_shapes[0]) if input_shapes else (None, "float")
    if kind != "float":
        raise UserError(f"--input-shape {input_shapes[0]}: a classifier takes images")
    done = reconvert(source, output, fmt, force, shape)
    say(f"converted {source} -> {output} ({done}), {time.perf_counter() - start:.2f} s")


def _write_mapped_py(conversion, output: Path, force: bool) -> str:  # noqa: ANN001
    from converter.outputs.pysource.record import recording
    from converter.outputs.pysource.writer import About, save_python

    with recording() as calls:
        model = conversion.build_model(fresh=True)
    size = f"{conversion.config.in_chans} x 299 x 299"
    about = About(
        conversion.meta["source_file"],
        conversion.meta["source_sha256"],
        conversion.meta["converter_version"],
        f"float32 N x {size}, preprocessed as fb.resnet.torch's validation (preset irv2: "
        "Scale 328, ColorNormalize with ImageNet's mean and std, CenterCrop 299)",
    )
    return save_python(model, calls, output, force, about)


def _inspect(source: Path, module_path: str | None) -> None:
    from converter.outputs.reconvert import describe_ours, is_ours

    if is_ours(source):
        click.echo(describe_ours(source))
        return
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
