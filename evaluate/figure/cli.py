"""irv2-draw: the model figure, a graphviz graph traced from the PyTorch Inception-ResNet-v2.

\b
    irv2-draw --weights irv2.pt -o irv2.svg      # writes irv2.dot and irv2.svg
    irv2-draw -o irv2.dot                        # the full-width architecture, no weights needed
    irv2-draw --width-divisor 8 --detail -o tiny.png

The .dot is always written (beside OUTPUT, same name); an existing OUTPUT or .dot is refused
unless --force is given. Rendering .svg/.png/.pdf needs Graphviz's `dot`: without it the .dot
is still written, one line says how to install Graphviz and the exit status is 1 (render
skipped). Exit status 2: a mistake in the options or the
weights file. Convolutions are labelled as Torch7 prints them, kW x kH (see the figure's legend).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from converter.command import command, quiet_option
from converter.errors import UserError, exit_on_user_error


@command(help=__doc__)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    default=None,
    help="Model to draw: .safetensors/.pt/.h5 from t7convert, a .t7 file or a checkpoint "
    "directory. Without it: the architecture for --width-divisor/--num-classes.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Figure to write: .dot, .svg, .png or .pdf (the .dot is always written).",
)
@click.option(
    "--width-divisor",
    type=click.IntRange(min=1),
    default=None,
    help="Without --weights: divide every channel count (8: the tiny test model). [default: 1]",
)
@click.option(
    "--num-classes",
    type=click.IntRange(min=1),
    default=None,
    help="Without --weights: classifier outputs.  [default: 1000]",
)
@click.option(
    "--input-size",
    type=click.IntRange(min=1),
    default=299,
    show_default=True,
    help="Side of the square input whose sizes the figure shows.",
)
@click.option(
    "--detail",
    is_flag=True,
    help="One node per op (conv, BatchNorm, ReLU apart) instead of one per unit.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing OUTPUT and its .dot.")
@quiet_option()
@exit_on_user_error
def main(
    weights: Path | None,
    output: Path,
    width_divisor: int | None,
    num_classes: int | None,
    input_size: int,
    detail: bool,
    force: bool,
    quiet: bool,
) -> None:
    from converter.outputs.atomic import check_writable
    from converter.outputs.declared import Output, check_outputs
    from evaluate.figure import draw

    # before the slow part: a typo costs nothing, nor does an old figure
    fmt = check_outputs([Output("--output", output, draw.FIGURE_FORMATS)], force)["--output"]
    dot_path = output.with_suffix(".dot")
    # the .dot of a figure that could not be rendered (no Graphviz then) is remade freely
    dot_force = force or (fmt != "dot" and draw.written_by_us(dot_path))
    check_writable(dot_path, dot_force, "--output")
    model, what = _model(weights, width_divisor, num_classes)
    title = f"Inception-ResNet-v2 ({what}), input 1x3x{input_size}x{input_size}"
    fig = draw.model_figure(model, input_size, detail=detail, title=title)
    dot_file = _guard_os(lambda: draw.write_dot(fig, dot_path, dot_force))
    say = (lambda *_: None) if quiet else click.echo
    say(f"wrote {dot_file} ({len(fig.nodes)} nodes)")
    if fmt == "dot":
        return
    dot = draw.find_dot()
    if dot is None:
        click.echo(
            f"error: Graphviz's `dot` was not found, so {output} was not rendered; "
            f"{draw.INSTALL_HINT}, or render {dot_file} elsewhere",
            err=True,
        )
        sys.exit(1)
    try:
        say(f"wrote {_guard_os(lambda: draw.render(dot_file, output, dot, force))}")
    except draw.RenderError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


def _model(weights: Path | None, width_divisor: int | None, num_classes: int | None):  # noqa: ANN202
    """(model, a few words on what it is) from the weights file or from the options."""
    if weights is not None:
        given = [
            o
            for o, v in (("--width-divisor", width_divisor), ("--num-classes", num_classes))
            if v is not None
        ]
        if given:
            raise UserError(
                f"{' and '.join(given)}: the shape comes from {weights}; "
                "drop the option or drop --weights"
            )
        from converter import load_model

        model = load_model(weights)
        cfg = model.cfg
        return model, f"{weights.name}, width/{cfg.width_divisor}, {cfg.num_classes} classes"
    import torch

    from converter.irv2.model import InceptionResNetV2, IRV2Config

    cfg = IRV2Config(num_classes=num_classes or 1000, width_divisor=width_divisor or 1)
    try:
        with torch.device("meta"):  # the figure needs shapes only: no memory, no init time
            model = InceptionResNetV2(cfg).eval()  # as a loaded model is: BN needs no batch
    except ValueError as e:
        msg = f"--width-divisor {cfg.width_divisor}: {e}; use 1, 2, 4, 8 or 16"
        raise UserError(msg) from None
    return model, f"architecture, width/{cfg.width_divisor}, {cfg.num_classes} classes"


def _guard_os(work):  # noqa: ANN001, ANN202
    """An unwritable output is the user's to fix: one line, exit status 2."""
    try:
        return work()
    except OSError as e:
        raise UserError(f"{e.filename or ''}: {e.strerror}; choose another -o") from None
