"""The options that name a model and say how images become its input (--weights, --crops,
--preset, --preprocess, --batch-size, --workers), spelled the same for irv2-eval,
irv2-classify and irv2-features; and --skip-bad, the same for irv2-eval, irv2-features and
irv2-train.

click only: a command's --help must not wait for torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

PRESET_NAMES = ("irv2", "fbresnet")  # evaluate.pretrained.presets.PRESETS
# --weights of irv2-classify and irv2-features: every model file a pretrained model comes in.
PRETRAINED_WEIGHTS = (
    "Model: .safetensors/.pt/.h5 from t7convert or irv2-train, a Torch7 .t7 or checkpoint "
    "directory, or a .safetensors/.pt2 from t7convert --generic."
)
BATCH_SIZE = 32  # images per batch and process, in every command that runs a model


def default_workers() -> int:
    """--workers when not given, in every command: a loader process per CPU, at most 8."""
    return min(8, os.cpu_count() or 1)


def model_input_options(
    weights_help: str,
    crops_help: str | None = None,
    preset: bool = False,
) -> Callable[[Callable], Callable]:
    """Decorate a click command with --weights, --crops (given `crops_help`: what happens to
    the 10 crops' outputs), --preset (given `preset`), --preprocess, --batch-size, --workers."""
    import click

    options = [
        click.option("--weights", required=True, type=click.Path(path_type=Path), help=weights_help)
    ]
    if crops_help is not None:
        options.append(
            click.option(
                "--crops",
                type=click.Choice(["1", "10"]),
                default="1",
                show_default=True,
                help=f"1: centre crop; 10: fb.resnet.torch TenCrop, {crops_help}.",
            )
        )
    if preset:
        options.append(
            click.option(
                "--preset",
                type=click.Choice(PRESET_NAMES),
                default=None,
                help="Preprocessing sizes: irv2 (Scale 328, crop 299) or fbresnet (256, 224)  "
                "[default: the model's: irv2 for the mapped IRv2, fbresnet for a generic model]",
            )
        )
    options += [
        click.option(
            "--preprocess",
            type=click.Choice(["torch7", "fast"]),
            default="torch7",
            show_default=True,
            help="torch7: the authors' Lua pixels bit for bit; fast: JPEG draft decoding for "
            "large images, crops rounded to bytes (slightly different).",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=BATCH_SIZE,
            show_default=True,
            help="Images per batch (per process).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=0),
            default=None,
            help="DataLoader worker processes per process  [default: min(8, CPUs)]",
        ),
    ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def skip_bad_option(where: str) -> Callable[[Callable], Callable]:
    """--skip-bad: unreadable images are left out, each named, and listed `where`, instead of
    stopping the run at the first one (the default, whose message points here)."""
    import click

    return click.option(
        "--skip-bad",
        is_flag=True,
        help=f"Leave unreadable images out (listed {where}) instead of stopping at the first.",
    )
