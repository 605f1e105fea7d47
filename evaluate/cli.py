"""irv2-eval: top-1/top-5 error of a converted (or Torch7) Inception-ResNet-v2 on ImageNet val.

\b
    irv2-eval --data /imagenet/val --weights irv2.pt              # .pt/.h5/.t7/checkpoint dir
    irv2-eval --data /imagenet/val --weights irv2.pt --crops 10   # fb.resnet.torch ten-crop
    irv2-eval --data /imagenet/val_flat --labels LOC_val_solution.csv --weights irv2.pt
    torchrun --nproc_per_node 8 -m evaluate.cli --data /imagenet/val --weights irv2.pt

Prints top-1/top-5 error and accuracy beside the authors' published 1-crop figures. Metrics
are exact per image; --lua-batch-mean adds the fork's per-batch-averaged figure. Under torchrun
the images are sharded over the ranks (each evaluated once) and rank 0 reports.

torch is imported only when evaluating, so --help answers at once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from converter.errors import UserError
from evaluate.runtime.devices import device_options

# lim0606/fb.resnet.torch inception-resnet-v2 README, 90 epochs, 1 crop, per-batch-averaged.
AUTHORS = {"top1_err": 24.407, "top5_err": 7.407, "crops": 1, "epochs": 90}


@click.command(
    help=__doc__.rsplit("\n\n", 1)[0], context_settings={"help_option_names": ["-h", "--help"]}
)
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
@click.option(
    "--weights",
    required=True,
    type=click.Path(path_type=Path),
    help="Model: .pt/.h5 from t7convert, a Torch7 .t7, or a checkpoint directory.",
)
@click.option(
    "--crops",
    type=click.Choice(["1", "10"]),
    default="1",
    show_default=True,
    help="1: centre crop; 10: fb.resnet.torch TenCrop, scores summed.",
)
@click.option(
    "--preprocess",
    type=click.Choice(["torch7", "fast"]),
    default="torch7",
    show_default=True,
    help="torch7: the authors' Lua pixels bit for bit; fast: JPEG draft decoding for large "
    "images, crops rounded to bytes (slightly different).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Images per batch (per process).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="DataLoader worker processes per process  [default: min(8, CPUs)]",
)
@device_options
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model.")
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Leave unreadable images out (listed at the end and in the JSON) instead of stopping.",
)
@click.option(
    "--lua-batch-mean",
    is_flag=True,
    help="Also report the fork's mean of per-batch error percentages.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="Write the summary and exact settings as JSON.",
)
@click.option(
    "--predictions",
    type=click.Path(path_type=Path),
    help="Write every image's top-5 classes and scores (HDF5).",
)
@click.option("--force", is_flag=True, help="Overwrite existing --output/--predictions files.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate only the first N images (quick checks).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress line; the summary only.")
def main(device: str, **options: Any) -> None:
    from evaluate.runtime import distributed
    from evaluate.runtime.devices import resolve_device

    info = distributed.DistInfo()
    try:
        local_rank = int(os.environ["LOCAL_RANK"]) if _under_torchrun() else None
        torch_device = resolve_device(device, local_rank)
        info = distributed.init_from_env(torch_device.type == "cuda")
        _evaluate(info, torch_device, **options)
        distributed.barrier(info)  # no rank leaves the group while rank 0 still writes
    except UserError as e:
        _exit_on(e, info)
    except OSError as e:  # a file the user named, or its disk, failing after the checks
        _exit_on(_os_error(e), info)
    finally:
        distributed.cleanup(info)


def _exit_on(error: UserError, info: Any) -> None:
    """One line on stderr and exit status 2; an error every rank raised is printed by rank 0."""
    from evaluate.runtime import distributed

    if info.is_main or not isinstance(error, distributed.CollectiveUserError):
        prefix = "" if info.is_main else f"rank {info.rank}: "
        click.echo(f"error: {prefix}{error}", err=True)
    raise SystemExit(error.exit_code) from None


def _os_error(error: OSError) -> UserError:
    where = f"{error.filename}: " if error.filename else ""
    return UserError(f"{where}{error.strerror or error}")


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
    workers = min(8, os.cpu_count() or 1) if workers is None else workers

    # Every check that can fail is done before the first image, on every rank together.
    error = None
    try:
        if info.is_main:
            from converter.outputs.atomic import check_writable

            if output is not None and output == predictions:
                raise UserError(
                    f"{output}: named by both --output and --predictions; use two files"
                )
            for path in (output, predictions):
                if path is not None:
                    check_writable(path, force)
        images, model, dtype, dataset = _set_up(
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
        error = _os_error(e)
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
        scale_size=dataset.transform.scale_size,
        crop_size=dataset.transform.crop_size,
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
        _write_predictions(predictions, result, images, summary, force)


def _under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


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
) -> tuple[Any, Any, Any, Any]:
    """Images, model, autocast dtype and dataset, each checked against the others."""
    from converter import load_model
    from evaluate.data.datasets import ImageDataset, open_images
    from evaluate.data.preprocess import ValTransform
    from evaluate.runtime.devices import resolve_amp_dtype
    from evaluate.validate import prepare_model

    images = open_images(data, labels, classes, devkit_meta).limit(limit)
    dtype = resolve_amp_dtype(amp, amp_dtype, device)
    if not weights.exists():
        raise UserError(f"{weights}: no such file or directory (--weights)")
    model = load_model(weights, device="cpu")
    num_classes = _num_classes(model)
    if num_classes is not None:
        images.check_num_classes(num_classes)
    model = prepare_model(model, device, channels_last=channels_last, compile=compile_)
    return images, model, dtype, ImageDataset(images, ValTransform(preprocess, n_crops))


def _num_classes(model: Any) -> int | None:
    inner = getattr(model, "_orig_mod", model)  # torch.compile wraps the module
    return getattr(inner, "num_classes", None)


def _summary(
    result: Any,
    images: Any,
    settings: dict[str, Any],
    n_crops: int,
    preprocess: str,
    lua_batch_mean: bool,
) -> dict[str, Any]:
    """Metrics, the images left out, and the exact settings; the "run" part is added after."""
    summary = result.summary(settings["batch_size"] if lua_batch_mean else None)
    summary.update(
        crops=n_crops,
        preprocess=preprocess,
        skipped=[{"path": images.relpath(i), "error": msg} for i, msg in result.skipped],
        metrics_exclude_skipped=bool(result.skipped),
        notes=images.notes,
        # the published figures are ImageNet's: beside a fine-tuned model they would mislead
        authors=AUTHORS if settings["num_classes"] in (None, 1000) else None,
        settings={
            key: str(value) if isinstance(value, Path) else value for key, value in settings.items()
        }
        | {"label_source": images.source},
    )
    return summary


def _report(s: dict[str, Any]) -> str:
    crop_word = "1 crop" if s["crops"] == 1 else f"{s['crops']} crops"
    beside = {"top1_err": "", "top5_err": ""}
    if s["authors"] is not None:
        beside = {k: f"   authors (1 crop): {s['authors'][k]:.3f} %" for k in beside}
    lines = [
        f"top-{k} error {s[f'top{k}_err']:7.3f} %  (accuracy {s[f'top{k}_acc']:7.3f} %)"
        + beside[f"top{k}_err"]
        for k in (1, 5)
    ] + [
        f"images: {s['n_images']} ({crop_word}, {s['preprocess']} preprocessing; "
        f"top-1 correct {s['n_top1_correct']}, top-5 correct {s['n_top5_correct']})",
    ]
    if "lua_batch_mean" in s:
        lua = s["lua_batch_mean"]
        lines.append(
            f"Lua per-batch mean (batches of {lua['batch_size']}): top-1 error "
            f"{lua['top1_err']:.3f} %, top-5 error {lua['top5_err']:.3f} %"
        )
    lines += [f"note: {n}" for n in s["notes"]]
    if s["skipped"]:
        lines.append(f"skipped {len(s['skipped'])} unreadable image(s); the metrics exclude them:")
        lines += [f"  {item['error']}" for item in s["skipped"]]
    run = s["run"]
    if run["bicubic"] != "compiled":
        lines.append(
            "note: evaluate.data._torch_cubic is not compiled (no C compiler when this was "
            "installed): the bicubic ran on torch ops, about 4x slower (torch7: the same results; "
            "fast: a byte can differ by 1 at a near-tie)"
        )
    if run["images_per_s"] is not None:
        lines.append(f"{run['seconds']:.1f} s, {run['images_per_s']:.1f} images/s")
    return "\n".join(lines)


def _write_json(path: Path, summary: dict[str, Any], force: bool) -> None:
    from converter.outputs.atomic import atomic_path

    with atomic_path(path, force) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")


def _write_predictions(
    path: Path, result: Any, images: Any, summary: dict[str, Any], force: bool
) -> None:
    """Per image (dataset order): relative path, label, top-5 classes and summed logits."""
    import h5py

    from converter.outputs.atomic import atomic_path

    strings = h5py.string_dtype()
    with atomic_path(path, force) as tmp, h5py.File(tmp, "w") as f:
        f["paths"] = [images.relpath(int(i)) for i in result.indices]
        f["paths"].attrs["relative_to"] = str(images.root)
        f["labels"] = result.labels
        f["top5_classes"] = result.top5_classes
        f["top5_scores"] = result.top5_scores
        f["top5_scores"].attrs["meaning"] = "model outputs (logits), summed over crops"
        f.create_dataset(
            "skipped_paths", data=[images.relpath(i) for i, _ in result.skipped], dtype=strings
        )
        if images.classes is not None:
            f["classes"] = images.classes
        f.attrs["summary"] = json.dumps({k: v for k, v in summary.items() if k != "skipped"})


class _Progress:
    """A progress line with images/s on stderr: redrawn on a terminal, periodic lines otherwise.

    Under torchrun it is rank 0's shard that is counted (the others run in step).
    """

    def __init__(self, info: Any) -> None:
        self.tty = sys.stderr.isatty()
        self.label = f"rank 0 of {info.world_size}: " if info.enabled else ""
        self.start = time.perf_counter()
        self.last = 0.0
        self.interval = 0.2 if self.tty else 30.0
        self.line_open = False  # a terminal line drawn without its newline

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        finished = done >= total > 0
        if now - self.last < self.interval and not finished:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        if total:
            filled = 30 * done // total
            line = (
                f"{self.label}[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
                f"{rate:.1f} images/s"
            )
        else:
            line = f"{self.label}{done} images {rate:.1f} images/s"
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if finished else ""))
            self.line_open = not finished
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        """End a redrawn line that the run left unfinished (stopped by an error)."""
        if self.line_open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.line_open = False


if __name__ == "__main__":  # torchrun -m evaluate.cli, python -m evaluate.cli
    main()
