"""irv2-features: a model's penultimate features for a set of images, in one HDF5 file, as
fb.resnet.torch's pretrained/extract-features.lua gives them.

\b
    irv2-features --data /my/images --weights irv2.pt -o feats.h5    # N x 2048 + paths (+ labels)
    irv2-features a.jpg b.jpg --weights resnet-50.t7 -o feats.h5     # a generic model: N x 2048
    irv2-features --data /my/images --weights irv2.pt --crops 10 -o feats.h5   # 10 crops averaged
    torchrun --nproc_per_node 8 -m evaluate.pretrained.features_cli --data /my/images \\
        --weights irv2.pt -o feats.h5

Features are what the classifier reads: the mapped IRv2's global average pool (before dropout
and fc), a generic model's input to its last nn.Linear. --data with sub-folders is read as class
folders (labels and classes are saved too); without, its image files are taken in name order.
The file holds `features` (N x D float32), `paths` (as given) and the settings as attributes.

torch is imported only when extracting, so --help answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from converter.command import command, quiet_option
from converter.errors import UserError, as_user_error
from evaluate.data.options import PRETRAINED_WEIGHTS, model_input_options, skip_bad_option
from evaluate.report import _Progress
from evaluate.runtime.devices import device_options
from evaluate.runtime.launch import run_distributed


@command(help=__doc__.rsplit("\n\n", 1)[0])
@click.argument("files", nargs=-1)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="A folder of images: class sub-folders, or image files directly in it.",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="The HDF5 file."
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@model_input_options(PRETRAINED_WEIGHTS, crops_help="features averaged", preset=True)
@device_options
@skip_bad_option("at the end and in the file's skipped_paths; their rows are NaN")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N images.")
@quiet_option("No progress line; errors only.")
def main(device: str, **options: Any) -> None:
    run_distributed(_extract, device, options)


def _extract(
    info: Any,
    torch_device: Any,
    files: tuple[str, ...],
    data: Path | None,
    limit: int | None,
    weights: Path,
    preset: str | None,
    preprocess: str,
    crops: str,
    batch_size: int,
    workers: int | None,
    amp: bool,
    amp_dtype: str,
    channels_last: bool,
    skip_bad: bool,
    output: Path,
    force: bool,
    quiet: bool,
) -> None:
    """Check everything on every rank together, extract, and report (rank 0)."""
    from evaluate.runtime import distributed

    error = None
    try:
        if info.is_main:
            from converter.outputs.declared import Output, check_outputs

            check_outputs([Output("--output", output, ("h5",))], force)
        images, names = feature_images(files, data, limit)
        shard_size = len(distributed.shard(len(images), info))
        model, module, layer, settings = _set_up(
            weights, preset, preprocess, int(crops), batch_size, workers, shard_size,
            torch_device, amp, amp_dtype, channels_last, skip_bad,
        )  # fmt: skip
    except UserError as e:
        error = e
    except OSError as e:
        error = as_user_error(e)
    distributed.raise_together(error, info)
    from evaluate.data.datasets import skipped_lines
    from evaluate.pretrained.features import extract_features

    if not quiet and info.is_main:
        processes = f" x {info.world_size} processes" if info.enabled else ""
        click.echo(f"model: {model.description}; features: {layer}", err=True)
        click.echo(
            f"extracting features of {len(images)} images ({images.source}) on "
            f"{torch_device}{processes}; preprocessing "
            f"{settings.preset.describe(preprocess, settings.crops)}",
            err=True,
        )
    if info.is_main:  # what was left out is said even under -q: never dropped silently
        for note in images.notes:
            click.echo(f"note: {note}", err=True)
    progress = None if quiet or not info.is_main else _Progress(info)
    record = {
        "created_by": "irv2-features",
        "weights": str(weights),
        "model": model.description,
        "model_kind": model.kind,
        "data": None if data is None else str(data),
        "label_source": images.source,
    }
    try:
        run = extract_features(
            module, layer, images, names, output, settings, force=force, record=record,
            dist=info, progress=progress,
        )  # fmt: skip
    finally:
        if progress is not None:
            progress.close()
    if run is not None:  # said even under -q, as a note is
        for line in skipped_lines(run.skipped, "their feature rows are NaN"):
            click.echo(line, err=True)
    if run is not None and not quiet:
        rate = run.n_images / run.seconds if run.seconds > 0 else float("inf")
        click.echo(
            f"wrote {run.n_images} x {run.dim} features to {output} "
            f"({run.seconds:.1f} s, {rate:.1f} images/s)",
            err=True,
        )


def _set_up(
    weights: Path,
    preset: str | None,
    preprocess: str,
    crops: int,
    batch_size: int,
    workers: int | None,
    shard_size: int,
    device: Any,
    amp: bool,
    amp_dtype: str,
    channels_last: bool,
    skip_bad: bool,
) -> tuple[Any, Any, str, Any]:
    """The model, its feature module and layer line, and the settings it runs with."""
    from evaluate.pretrained import presets
    from evaluate.pretrained.classify import loader_workers
    from evaluate.pretrained.features import FeatureSettings
    from evaluate.pretrained.model import load_pretrained
    from evaluate.runtime.devices import resolve_amp_dtype

    dtype = resolve_amp_dtype(amp, amp_dtype, device)
    model = load_pretrained(weights)
    chosen = presets.get(preset) if preset else model.preset
    model.check_preset(chosen)
    module, layer = model.features()
    settings = FeatureSettings(
        chosen,
        preprocess,
        crops,
        batch_size,
        loader_workers(workers, max(shard_size, 1), batch_size),
        device,
        channels_last,
        dtype,
        skip_bad,
    )
    return model, module, layer, settings


def feature_images(
    files: tuple[str, ...], data: Path | None, limit: int | None
) -> tuple[Any, list[str]]:
    """The images (an ImageList) and their names as given: FILES (a folder among them stands
    for the images under it), or --data's class folders (with labels) or image files."""
    from evaluate.data.imagelist import expand_folders, folder_images
    from evaluate.pretrained.classify import file_list

    if bool(files) == (data is not None):
        raise UserError("give the images either as FILES or as --data FOLDER (one of the two)")
    if files:
        names, notes = expand_folders(files)
        images = file_list(names, notes)
    else:
        images = folder_images(data)
        names = [str(p) for p in images.paths]
    images = images.limit(limit)
    return images, names[: len(images)]


if __name__ == "__main__":  # torchrun -m evaluate.pretrained.features_cli
    main()
