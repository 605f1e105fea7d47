"""irv2-eval: top-1/top-5 error of a converted (or Torch7) classifier on ImageNet val.

\b
    irv2-eval --data /imagenet/val --weights irv2.pt              # .safetensors/.pt/.h5/.t7/dir
    irv2-eval --data /imagenet/val --weights resnet18.t7          # any translated classifier
    irv2-eval --data /imagenet/val --weights irv2.pt --crops 10   # fb.resnet.torch ten-crop
    irv2-eval --data /imagenet/val_flat --labels LOC_val_solution.csv --weights irv2.pt
    torchrun --nproc_per_node 8 -m evaluate.cli --data /imagenet/val --weights irv2.pt

Prints top-1/top-5 error and accuracy (beside the authors' published 1-crop figures for the
Inception-ResNet-v2). Class folders named by WNID may be any subset of ImageNet's. Metrics
are exact per image; --lua-batch-mean adds the fork's per-batch-averaged figure. Under torchrun
the images are sharded over the ranks (each evaluated once) and rank 0 reports.

torch is imported only when evaluating, so --help answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    "Model: a Torch7 .t7 or checkpoint directory, t7convert's .safetensors/.pt/.h5/.pt2/.onnx, "
    "irv2-train's .pt or run directory.",
    crops_help="scores summed",
    preset=True,
)
@click.option(
    "--restrict-to-present",
    is_flag=True,
    help="With class folders of some of the model's classes: rank only those classes "
    "(default: top-k over all outputs).",
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
    preset: str | None,
    restrict_to_present: bool,
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
        setup = _set_up(
            data,
            labels,
            classes,
            devkit_meta,
            weights,
            preset,
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
    images, dataset = setup.images, setup.dataset

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
            setup.network,
            dataset,
            batch_size=batch_size,
            workers=workers,
            device=torch_device,
            amp_dtype=setup.dtype,
            channels_last=channels_last,
            skip_bad=skip_bad,
            dist=info,
            progress=progress,
            restrict_to=setup.present if restrict_to_present else None,
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
        amp=str(setup.dtype).replace("torch.", "") if setup.dtype else None,
        channels_last=channels_last,
        compile=compile_,
        skip_bad=skip_bad,
        limit=limit,
        model=setup.model.description,
        arch=setup.model.arch,
        num_classes=len(setup.names),
        classes_present=None if setup.present is None else len(setup.present),
        restrict_to_present=restrict_to_present,
        preset=setup.preset.name,
        scale_size=dataset.transform.scale_size,
        crop_size=dataset.transform.crop_size,
        class_names=setup.names.source,
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
        _write_predictions(predictions, result, images, summary, setup.names, force)


@dataclass
class _Setup:
    """Everything a run needs, each part checked against the others before the first image."""

    images: Any  # the ImageList, labels as the model's output indices
    model: Any  # the PretrainedModel loaded
    network: Any  # its network, on the device, prepared
    preset: Any
    dtype: Any  # autocast dtype or None
    dataset: Any
    names: Any  # the model's ClassNames
    present: list[int] | None  # output indices of the classes in --data, where only some are


def _set_up(
    data: Path,
    labels: Path | None,
    classes: Path | None,
    devkit_meta: Path | None,
    weights: Path,
    preset_name: str | None,
    n_crops: int,
    preprocess: str,
    limit: int | None,
    device: Any,
    amp: bool,
    amp_dtype: str,
    channels_last: bool,
    compile_: bool,
) -> _Setup:
    """Images, model, preset, dataset and the model's class names, each checked against the
    others; the model is run once on a small batch to see that it classifies images."""
    from evaluate.data.datasets import ImageDataset, open_images
    from evaluate.data.preprocess import ValTransform
    from evaluate.pretrained import presets
    from evaluate.pretrained.model import load_pretrained
    from evaluate.pretrained.subset import match_classes, refuse_dataset_root
    from evaluate.runtime.devices import resolve_amp_dtype
    from evaluate.validate import prepare_model

    images = open_images(data, labels, classes, devkit_meta).limit(limit)
    refuse_dataset_root(images)
    dtype = resolve_amp_dtype(amp, amp_dtype, device)
    model = load_pretrained(weights)
    preset = presets.get(preset_name) if preset_name else model.preset
    num_outputs = model.check_preset(preset)
    names = model.class_names(num_outputs)
    match = match_classes(images, num_outputs, model.recorded_classes, weights)
    network = prepare_model(model.network, device, channels_last=channels_last, compile=compile_)
    dataset = ImageDataset(
        match.images, ValTransform(preprocess, n_crops, preset.scale_size, preset.crop_size)
    )
    return _Setup(match.images, model, network, preset, dtype, dataset, names, match.present)


if __name__ == "__main__":  # torchrun -m evaluate.cli, python -m evaluate.cli
    main()
