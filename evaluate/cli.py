"""irv2-eval: top-1/top-5 error of a converted (or Torch7) Inception-ResNet-v2 on ImageNet val.

\b
    irv2-eval --data /imagenet/val --weights irv2.pt              # .safetensors/.pt/.h5/.t7/dir
    irv2-eval --data /imagenet/val --weights irv2.pt --crops 10   # fb.resnet.torch ten-crop
    irv2-eval --data /imagenet/val_flat --labels LOC_val_solution.csv --weights irv2.pt
    torchrun --nproc_per_node 8 -m evaluate.cli --data /imagenet/val --weights irv2.pt

Prints top-1/top-5 error and accuracy beside the authors' published 1-crop figures. Metrics
are exact per image; --lua-batch-mean adds the fork's per-batch-averaged figure. Under torchrun
the images are sharded over the ranks (each evaluated once) and rank 0 reports.

torch is imported only when evaluating, so --help answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from converter.command import command, quiet_option
from converter.errors import UserError, as_user_error
from evaluate.data.options import default_workers, model_input_options, skip_bad_option
from evaluate.report import _Progress, _report, _summary, _write_json, _write_predictions
from evaluate.runtime.devices import device_options
from evaluate.runtime.launch import run_distributed

# Said before the model is compiled, since nothing is printed while it is.
COMPILE_NOTE = (
    "--compile: torch.compile compiles the model on its first batch, which takes minutes "
    "(217 s for a 28-image run on a 2-core CPU) and pays off only on long runs (a full "
    "validation set on a GPU); drop --compile for short ones"
)


@command(help=__doc__.rsplit("\n\n", 1)[0])
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="Validation folder: one sub-folder per synset, or flat with --labels.",
)
@click.option(
    "--labels",
    type=click.Path(path_type=Path),
    help="Labels of a flat folder: LOC_val_solution.csv, the devkit's "
    "ILSVRC2012_validation_ground_truth.txt, or 'filename label' lines.",
)
@click.option(
    "--classes",
    type=click.Path(path_type=Path),
    help="Class list, one synset per line, line i = class i (LOC_synset_mapping.txt works as is).",
)
@click.option(
    "--devkit-meta",
    type=click.Path(path_type=Path),
    help="The devkit's data/meta.mat (needs scipy) or a text export of it "
    "('ILSVRC2012_ID WNID' per line), for the devkit ground truth.",
)
@model_input_options(
    "Model: .safetensors/.pt/.h5 from t7convert, a Torch7 .t7, or a checkpoint directory.",
    crops_help="scores summed",
)
@device_options
@click.option(
    "--compile",
    "compile_",
    is_flag=True,
    help="torch.compile the model: minutes of compiling before the first batch, worth it "
    "only on long runs.",
)
@skip_bad_option("at the end and in the JSON")
@click.option(
    "--lua-batch-mean",
    is_flag=True,
    help="Also report the fork's mean of per-batch error percentages.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the summary and exact settings as JSON (.json).",
)
@click.option(
    "--predictions",
    type=click.Path(path_type=Path),
    help="Write every image's top-5 classes, logits, probabilities and names (HDF5: .h5).",
)
@click.option("--force", is_flag=True, help="Overwrite existing --output/--predictions files.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate only the first N images (quick checks).",
)
@quiet_option("No progress line; the summary only.")
def main(device: str, **options: Any) -> None:
    run_distributed(_evaluate, device, options)


def _evaluate(
    info: Any,
    torch_device: Any,
    data: Path,
    labels: Path | None,
    classes: Path | None,
    devkit_meta: Path | None,
    weights: Path,
    crops: str,
    preprocess: str,
    batch_size: int,
    workers: int | None,
    amp: bool,
    amp_dtype: str,
    channels_last: bool,
    compile_: bool,
    skip_bad: bool,
    lua_batch_mean: bool,
    output: Path | None,
    predictions: Path | None,
    force: bool,
    limit: int | None,
    quiet: bool,
) -> None:
    """The whole run, as main.lua tells it: check everything, evaluate, report (rank 0)."""
    from evaluate.runtime import distributed

    n_crops = int(crops)
    workers = default_workers() if workers is None else workers

    if compile_ and info.is_main and not quiet:
        click.echo(COMPILE_NOTE, err=True)
    # Every check that can fail is done before the first image, on every rank together.
    error = None
    try:
        if info.is_main:
            from converter.outputs.declared import Output, check_outputs

            declared = [Output("--output", output, ("json",))]
            check_outputs([*declared, Output("--predictions", predictions, ("h5",))], force)
        images, model, dtype, dataset, names = _set_up(
            data,
            labels,
            classes,
            devkit_meta,
            weights,
            n_crops,
            preprocess,
            limit,
            torch_device,
            amp,
            amp_dtype,
            channels_last,
            compile_,
        )
    except UserError as e:
        error = e
    except OSError as e:  # e.g. an unreadable --data folder: every rank must hear of it
        error = as_user_error(e)
    distributed.raise_together(error, info)

    from evaluate.data.transforms import bicubic_kernel
    from evaluate.validate import evaluate_model

    if not quiet and info.is_main:
        click.echo(
            f"evaluating {len(images)} images from {data} ({images.source}) on "
            f"{torch_device}" + (f" x {info.world_size} processes" if info.enabled else ""),
            err=True,
        )
    progress = None if quiet or not info.is_main else _Progress(info)
    try:
        result = evaluate_model(
            model,
            dataset,
            batch_size=batch_size,
            workers=workers,
            device=torch_device,
            amp_dtype=dtype,
            channels_last=channels_last,
            skip_bad=skip_bad,
            dist=info,
            progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()  # an error message must not land on the redrawn progress line
    if result is None:  # not rank 0: nothing to report
        return
    if result.n_images == 0:
        raise UserError(
            f"{data}: none of the {len(images)} images could be read, so there is "
            f"nothing to report; the first: {result.skipped[0][1]}"
        )
    settings = dict(
        data=data,
        labels=labels,
        classes=classes,
        devkit_meta=devkit_meta,
        weights=weights,
        batch_size=batch_size,
        amp=str(dtype).replace("torch.", "") if dtype else None,
        channels_last=channels_last,
        compile=compile_,
        skip_bad=skip_bad,
        limit=limit,
        num_classes=_num_classes(model),
        preset="irv2",
        scale_size=dataset.transform.scale_size,
        crop_size=dataset.transform.crop_size,
        class_names=names.source,
    )
    summary = _summary(result, images, settings, n_crops, preprocess, lua_batch_mean)
    summary["run"] = {
        "seconds": round(result.seconds, 3),
        "images_per_s": round((result.n_images + len(result.skipped)) / result.seconds, 2)
        if result.seconds > 0
        else None,
        "world_size": info.world_size,
        "device": str(torch_device),
        "workers": workers,
        "bicubic": bicubic_kernel(),
    }
    click.echo(_report(summary))
    if output is not None:
        _write_json(output, summary, force)
    if predictions is not None:
        _write_predictions(predictions, result, images, summary, names, force)


def _set_up(
    data: Path,
    labels: Path | None,
    classes: Path | None,
    devkit_meta: Path | None,
    weights: Path,
    n_crops: int,
    preprocess: str,
    limit: int | None,
    device: Any,
    amp: bool,
    amp_dtype: str,
    channels_last: bool,
    compile_: bool,
) -> tuple[Any, Any, Any, Any, Any]:
    """Images, model, autocast dtype, dataset and the model's class names, each checked
    against the others."""
    from converter import load_model_meta
    from evaluate.data.datasets import ImageDataset, open_images
    from evaluate.data.preprocess import ValTransform
    from evaluate.pretrained.classes import for_model
    from evaluate.pretrained.presets import PRESETS
    from evaluate.runtime.devices import resolve_amp_dtype
    from evaluate.validate import prepare_model

    images = open_images(data, labels, classes, devkit_meta).limit(limit)
    dtype = resolve_amp_dtype(amp, amp_dtype, device)
    if not weights.exists():
        raise UserError(f"{weights}: no such file or directory (--weights)")
    model, meta = load_model_meta(weights, device="cpu")
    num_classes = _num_classes(model)
    if num_classes is not None:
        images.check_num_classes(num_classes)
    recorded = meta.get("classes")
    if recorded is not None and images.classes is not None and images.classes != recorded:
        raise UserError(
            f"{data}: its classes ({images.source}) are not the {len(recorded)} class folders "
            f"{weights} was trained on, in the same order; evaluate it on that dataset"
        )
    names = for_model(model.num_classes, recorded)
    model = prepare_model(model, device, channels_last=channels_last, compile=compile_)
    irv2 = PRESETS["irv2"]  # the only network irv2-eval runs
    dataset = ImageDataset(
        images, ValTransform(preprocess, n_crops, irv2.scale_size, irv2.crop_size)
    )
    return images, model, dtype, dataset, names


def _num_classes(model: Any) -> int | None:
    inner = getattr(model, "_orig_mod", model)  # torch.compile wraps the module
    return getattr(inner, "num_classes", None)


if __name__ == "__main__":  # torchrun -m evaluate.cli, python -m evaluate.cli
    main()
