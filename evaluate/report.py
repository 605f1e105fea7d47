"""What irv2-eval reports: the summary (metrics, the images left out, every setting, the authors'
figures beside ours), its text, the JSON and HDF5 files, and the progress line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from converter.architecture import IRV2
from evaluate.data.datasets import skipped_lines

# lim0606/fb.resnet.torch inception-resnet-v2 README, 90 epochs, 1 crop, per-batch-averaged.
AUTHORS = {"top1_err": 24.407, "top5_err": 7.407, "crops": 1, "epochs": 90}


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
        # the published figures are the IRv2's on all of ImageNet: beside another model, or a
        # subset of the classes, they mislead
        authors=AUTHORS
        if settings.get("arch") == IRV2
        and settings["num_classes"] == 1000
        and settings.get("classes_present") is None
        else None,
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
    lines += skipped_lines([item["error"] for item in s["skipped"]], "the metrics exclude them")
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
    path: Path, result: Any, images: Any, summary: dict[str, Any], names: Any, force: bool
) -> None:
    """Per image (dataset order): relative path, label, top-5 classes, their summed logits,
    softmax probabilities and names; and the model's class names (`names`, a ClassNames)."""
    import h5py
    import numpy as np

    from converter.outputs.atomic import atomic_path

    strings = h5py.string_dtype()
    with atomic_path(path, force) as tmp, h5py.File(tmp, "w") as f:
        f["paths"] = [images.relpath(int(i)) for i in result.indices]
        f["paths"].attrs["relative_to"] = str(images.root)
        f["labels"] = result.labels
        f["top5_classes"] = result.top5_classes
        f["top5_scores"] = result.top5_scores
        f["top5_scores"].attrs["meaning"] = "model outputs (logits), summed over crops"
        f["top5_probs"] = result.top5_probs
        f["top5_probs"].attrs["meaning"] = (
            "softmax probabilities (nn.SoftMax's arithmetic, as classify.lua), of the crops' "
            "mean logits"
        )
        table = np.array(names.names, dtype=object)
        f.create_dataset("top5_names", data=table[result.top5_classes], dtype=strings)
        f.create_dataset("class_names", data=list(names.names), dtype=strings)
        f.create_dataset("class_wnids", data=[w or "" for w in names.wnids], dtype=strings)
        f["class_names"].attrs["source"] = names.source
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
