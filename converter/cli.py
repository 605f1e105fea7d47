"""t7convert: Torch7 (fb.resnet.torch) Inception-ResNet-v2 checkpoint -> PyTorch.

\b
    t7convert model_90.t7 irv2.pt                  # a model file
    t7convert /path/to/checkpoints/ irv2.pt        # a checkpoint directory: reads latest.t7
    t7convert model_best.t7 irv2.h5 --format h5    # HDF5 for other frameworks
    t7convert --inspect model_90.t7                # the module tree with tensor shapes
    t7convert resnet_50.t7 resnet50.pt --generic   # any supported nn tree, translated
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
    from converter import checkpoint
    from converter import output as out
    from converter.digest import BackgroundSha256

    start = time.perf_counter()
    out_format = out.format_for(output, fmt)
    if output.exists() and not force:  # fail before the expensive read
        raise UserError(f"{output}: already exists; pass --force to overwrite it")
    source_info = checkpoint.resolve(source)
    digest = None if generic else BackgroundSha256(source_info.model_path)  # overlaps torch import
    if generic:
        from converter.translate import save_generic, translate

        module = translate(source)
        save_generic(module, output, force=force)
        say(f"translated {source} -> {output} in {time.perf_counter() - start:.2f} s")
        return
    from converter.convert import convert_checkpoint

    conversion = convert_checkpoint(source, digest=digest)
    if conversion.source.latest_path is not None:
        say(conversion.source.describe())
    if verify:
        from converter.verify import verify_against_generic

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


def _inspect(source: Path) -> None:
    from converter import checkpoint
    from converter.describe import describe
    from converter.t7reader import load_t7

    resolved = checkpoint.resolve(source)
    if resolved.latest_path is not None:
        click.echo(resolved.describe())
    click.echo(describe(load_t7(resolved.model_path)))
