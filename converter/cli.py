"""t7convert: Torch7 (fb.resnet.torch) Inception-ResNet-v2 checkpoint -> PyTorch.

\b
    t7convert model_90.t7 irv2.pt                  # a model file
    t7convert /path/to/checkpoints/ irv2.pt        # a checkpoint directory: reads latest.t7
    t7convert model_best.t7 irv2.h5 --format h5    # HDF5 for other frameworks
    t7convert --inspect model_90.t7                # the module tree with tensor shapes
    t7convert resnet_50.t7 resnet50.pt2 --generic --input-shape 3,224,224   # any nn tree
    t7convert style.t7 style.pt2 --generic --plugin my_layers.py --input-shape 3,256,256
    t7convert model_90.t7 irv2.pt --verify         # cross-check the mapping with --generic's path

torch is imported only when a command needs it, so --help answers at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from converter.errors import UserError, exit_on_user_error


@click.command(help=__doc__.rsplit("\n\n", 1)[0])
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("output", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pt", "h5"]),
    default=None,
    help="Output format (default: from OUTPUT's suffix, .pt or .h5).",
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
    help="Example input for --generic's torch.export program, e.g. 3,224,224 (a batch of 2 is "
    "added); repeat it for a network that takes a table of inputs.",
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
    from converter.torch7 import checkpoint
    from converter.torch7.digest import BackgroundSha256

    if generic:
        _generic(source, output, force, input_shapes, plugins, dtype, say)
        return
    start = time.perf_counter()
    out_format = out.format_for(output, fmt)
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
    out.save(conversion.state_dict, conversion.meta, output, out_format, force=force)
    n = sum(t.numel() for k, t in conversion.state_dict.items() if "num_batches" not in k)
    say(
        f"converted {conversion.source.model_path} -> {output} ({out_format}): "
        f"{len(conversion.state_dict)} tensors, {n:,} values, "
        f"width 1/{conversion.config.width_divisor}, {conversion.config.num_classes} classes, "
        f"{time.perf_counter() - start:.2f} s"
    )


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise UserError(f"--input-shape {text!r}: expected C,H,W such as 3,224,224")
    return shape


def _generic(
    source: Path,
    output: Path,
    force: bool,
    input_shapes: tuple[str, ...],
    plugins: tuple[Path, ...],
    dtype: str | None,
    say,  # noqa: ANN001
) -> None:
    """Translate the nn tree itself and save it as a torch.export program (.pt2)."""
    if not input_shapes:
        raise UserError(
            "--generic needs --input-shape C,H,W for the exported program "
            "(e.g. 3,224,224 for ResNet, 3,299,299 for Inception-ResNet-v2)"
        )
    shapes = [_shape(text) for text in input_shapes]
    if output.suffix.lower() != ".pt2":
        raise UserError(
            f"{output}: --generic writes a torch.export program; name it .pt2 "
            "(loaders go by the suffix, and .pt means t7convert's state_dict)"
        )
    from converter.outputs.atomic import check_writable

    check_writable(output, force)
    start = time.perf_counter()
    import torch

    from converter.generic.plugins import load_plugin
    from converter.generic.translator import translate
    from converter.outputs.export import save_generic

    for plugin in plugins:
        load_plugin(plugin)
    module = translate(source, getattr(torch, dtype) if dtype else None)
    floating = [p.dtype for p in module.parameters() if p.dtype.is_floating_point]
    examples = [
        torch.rand(2, *shape, dtype=floating[0] if floating else torch.float32) * 4 - 2
        for shape in shapes
    ]
    example = examples[0] if len(examples) == 1 else examples
    try:  # an eager run first: a shape the network cannot take fails here, in one line
        with torch.no_grad():
            module(example)
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        given = " and ".join(input_shapes)
        raise UserError(f"{source}: cannot run on an input of shape {given}: {first}") from None
    save_generic(module, output, example)
    say(
        f"translated {source} -> {output} (torch.export program; load it with "
        f"torch.export.load(path).module()) in {time.perf_counter() - start:.2f} s"
    )


def _inspect(source: Path) -> None:
    from converter.torch7 import checkpoint
    from converter.torch7.describe import describe
    from converter.torch7.reader import load_t7

    resolved = checkpoint.resolve(source)
    if resolved.latest_path is not None:
        click.echo(resolved.describe())
    click.echo(describe(load_t7(resolved.model_path)))
