"""irv2-train: continue a Lua fb.resnet.torch Inception-ResNet-v2 run in PyTorch, or fine-tune.

\b
    irv2-train --data /imagenet --resume-t7 /lua/checkpoints/ --save runs/irv2   # the Lua run
    irv2-train --data /imagenet --resume runs/irv2                               # our own run
    irv2-train --data /my/dataset --weights irv2.pt --reset-classifier --epochs 30 --lr 0.01
    torchrun --nproc_per_node 8 -m evaluate.train.cli --data /imagenet --resume runs/irv2

--data holds train/ and val/, one sub-folder per class. Defaults are the published model's
recipe: batch 64, LR 0.045 * 0.96^floor(iter/12800) per iteration, nesterov momentum 0.4737,
weight decay 1e-4 on all parameters, 90 epochs. --batch-size is the GLOBAL batch; torchrun
splits it evenly, and BatchNorm statistics are per process (the authors: 64 = 2 GPUs x 32).
With --resume, options not given on the command line keep the checkpoint's values.

torch is imported only when training starts, so --help answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from converter.command import command, quiet_option
from converter.errors import UserError, exit_on_user_error
from evaluate.data.options import skip_bad_option
from evaluate.runtime.devices import device_options
from evaluate.train.session import train


@command(help=__doc__.rsplit("\n\n", 1)[0])
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="Dataset root with train/ and val/ class folders (ImageNet layout).",
)
@click.option(
    "--save",
    type=click.Path(path_type=Path),
    default=Path("runs/irv2"),
    show_default=True,
    help="Run directory: checkpoints and logs.",
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    help="Continue our own run: a run directory or its checkpoint.pt.",
)
@click.option(
    "--resume-t7",
    type=click.Path(path_type=Path),
    help="Continue a Lua run: its checkpoint directory or latest.t7 (model_N.t7 + "
    "optimState_N.t7); training goes on at epoch N+1.",
)
@click.option(
    "--fresh-momentum",
    is_flag=True,
    help="With --resume-t7 when optimState_N.t7 is missing: start with zero momentum.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    help="Start from these weights with a fresh optimizer (.safetensors/.pt/.h5 from t7convert, "
    "a model .t7, a Lua checkpoint directory, or our model_best.pt).",
)
@click.option(
    "--num-classes",
    "--n-classes",
    type=click.IntRange(min=1),
    help="Classes of the dataset (nClasses); checked against the class folders.",
)
@click.option(
    "--reset-classifier",
    is_flag=True,
    help="Replace the final Linear with a fresh one of --num-classes outputs (default: one "
    "per class folder of --data's train/).",
)
@click.option(
    "--epochs",
    "--n-epochs",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Last epoch to train (nEpochs).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Global batch over all processes (batchSize).",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=0.045,
    show_default=True,
    help="Base learning rate (LR).",
)
@click.option(
    "--momentum",
    type=click.FloatRange(min=0),
    default=0.4737,
    show_default=True,
    help="Torch-style SGD momentum (0.4737 = Caffe's 0.9, the authors' setting 1).",
)
@click.option(
    "--weight-decay",
    type=click.FloatRange(min=0),
    default=1e-4,
    show_default=True,
    help="L2 weight decay on ALL parameters, BN included (weightDecay).",
)
@click.option("--nesterov/--no-nesterov", default=True, show_default=True)
@click.option("--dampening", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option(
    "--step",
    type=click.IntRange(min=1),
    default=12800,
    show_default=True,
    help="Iterations between two LR multiplications by --gamma.",
)
@click.option(
    "--gamma",
    type=click.FloatRange(min=0, min_open=True),
    default=0.96,
    show_default=True,
    help="LR factor every --step iterations.",
)
@click.option(
    "--workers",
    "--n-threads",
    type=click.IntRange(min=0),
    default=None,
    help="DataLoader worker processes per process (nThreads)  [default: min(8, CPUs)]",
)
@click.option(
    "--seed",
    "--manual-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of data order, augmentation, Dropout and a reset classifier.",
)
@click.option(
    "--val-every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Validate every N epochs (and after the last).",
)
@skip_bad_option("in train.log, each when first met, and at the end")
@click.option("--no-val", is_flag=True, help="Never validate (no best model is kept).")
@click.option(
    "--crops",
    type=click.Choice(["1", "10"]),
    default="1",
    show_default=True,
    help="Validation crops: 1 (centre) or 10 (fb.resnet.torch TenCrop, scores summed).",
)
@click.option("--ten-crop", is_flag=True, hidden=True, help="The old name of --crops 10.")
@click.option(
    "--val-batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Validation batch per process  [default: the training batch per process]",
)
@click.option(
    "--save-every",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also checkpoint every N iterations (0: at the end of each epoch only).",
)
@click.option(
    "--print-freq",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Log every N iterations (each log line waits for the device).",
)
@device_options
@quiet_option("No lines on the terminal; train.log and train.jsonl are written as always.")
@exit_on_user_error
def main(**options: Any) -> None:
    ctx = click.get_current_context()
    given = {
        name
        for name in options
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    }
    if options.pop("ten_crop"):  # the old spelling, kept working
        options["crops"] = "10"
        given.add("crops")
    check_options(options, given)
    if options["reset_classifier"] and options["num_classes"] is None:
        options["num_classes"] = _class_count(Path(options["data"]))
    train(options, given)


def _class_count(data: Path) -> int:
    """--reset-classifier's size when --num-classes is not given: the class folders of
    data/train (checked against the images when they are read)."""
    from evaluate.data.imagelist import class_names

    if not (data / "train").is_dir():
        raise UserError(f"{data}: no train/ folder; --data must hold train/ and val/ class folders")
    return len(class_names(data / "train"))


def check_options(o: dict[str, Any], given: set[str]) -> None:
    """Refuse combinations that cannot mean what the user wants, before anything is read."""
    sources = [f"--{k.replace('_', '-')}" for k in ("resume", "resume_t7", "weights") if o[k]]
    if len(sources) > 1:
        raise UserError(f"{' and '.join(sources)}: give one starting point, not several")
    if o["fresh_momentum"] and not o["resume_t7"]:
        raise UserError("--fresh-momentum only applies to --resume-t7")
    if o["reset_classifier"] and (o["resume"] or o["resume_t7"]):
        raise UserError(
            "--reset-classifier starts a new run: use it with --weights, not with a resume"
        )
    if o["resume"] and "num_classes" in given:
        raise UserError("--num-classes cannot change when resuming; the checkpoint fixes it")
    if o["no_val"] and ("val_every" in given or "crops" in given):
        raise UserError("--no-val contradicts --val-every/--crops")
    if o["nesterov"] and (o["momentum"] <= 0 or o["dampening"] != 0):
        raise UserError("--nesterov needs --momentum > 0 and --dampening 0; or --no-nesterov")


if __name__ == "__main__":
    sys.exit(main())
