"""irv2-eval end to end: the converted tiny IRv2 on class folders built from the fixture photos.

The expected top-1/top-5 counts come from the model's own logits, computed here image by image
(batch of one) through the same preprocessing; labels are placed so that some images are top-1
hits, some only top-5 hits and some misses, so a wrong count, order or crop sum shows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from evaltree import N_CLASSES, class_tree, run, synset

from converter.errors import UserError
from evaluate.runtime.devices import resolve_amp_dtype, resolve_device

SCORE_TOL = 1e-4  # batched vs one-by-one forward of the same float32 model


def _logits(model_path, photos, mode: str) -> dict[int, np.ndarray]:
    """crops -> (7, 1000) scores, one image at a time, crops summed as fb.resnet.torch does."""
    from converter import load_model
    from evaluate.data.preprocess import load_val_tensor

    model = load_model(model_path)
    out = {}
    with torch.inference_mode():
        for crops in (1, 10):
            rows = [
                model(load_val_tensor(p, mode, crops).view(-1, 3, 299, 299)).sum(0) for p in photos
            ]
            out[crops] = torch.stack(rows).numpy()
    return out


@pytest.fixture(scope="session")
def logits(tiny_pt, photos) -> dict[int, np.ndarray]:
    return _logits(tiny_pt, photos, "torch7")


@pytest.fixture(scope="session")
def fast_logits(tiny_pt, photos) -> dict[int, np.ndarray]:
    return _logits(tiny_pt, photos, "fast")


@pytest.fixture(scope="session")
def labels(logits) -> list[int]:
    """Photo k's class: its 1-crop best (k % 3 == 0), its 3rd best (1) or its 10th best (2)."""
    ranked = np.argsort(-logits[1], axis=1)
    return [int(ranked[k, (0, 2, 9)[k % 3]]) for k in range(len(ranked))]


def expected_counts(scores: np.ndarray, labels: list[int]) -> tuple[int, int]:
    top5 = np.argsort(-scores, axis=1)[:, :5]
    y = np.array(labels)
    return int((top5[:, 0] == y).sum()), int((top5 == y[:, None]).any(1).sum())


@pytest.mark.parametrize("crops", [1, 10])
def test_counts_match_the_logits(tmp_path, tiny_pt, photos, logits, labels, crops):
    data = class_tree(tmp_path / "val", photos, labels)
    out, preds = tmp_path / "results.json", tmp_path / "preds.h5"
    code, stdout, stderr = run(
        "--data",
        data,
        "--weights",
        tiny_pt,
        "--crops",
        crops,
        "--batch-size",
        3,
        "--workers",
        0,
        "--output",
        out,
        "--predictions",
        preds,
        "--lua-batch-mean",
    )
    print(stdout, stderr)
    assert code == 0
    top1, top5 = expected_counts(logits[crops], labels)
    if crops == 1:
        assert (top1, top5) == (3, 5)  # the placement works: hits, top-5-only hits and misses
    summary = json.loads(out.read_text())
    assert (summary["n_top1_correct"], summary["n_top5_correct"]) == (top1, top5)
    assert summary["n_images"] == 7 and summary["crops"] == crops
    assert summary["preprocess"] == "torch7" and summary["settings"]["preset"] == "irv2"
    assert summary["top1_err"] == pytest.approx(100 * (1 - top1 / 7))
    assert summary["top5_acc"] == pytest.approx(100 * top5 / 7)
    assert summary["skipped"] == [] and summary["settings"]["num_classes"] == N_CLASSES
    assert "24.407" in stdout and "7.407" in stdout and "Lua per-batch mean" in stdout

    # The predictions file, in dataset order (class folder, then file name).
    order = sorted(range(7), key=lambda k: (labels[k], photos[k].name))
    reference = logits[crops][order]
    with h5py.File(preds) as f:
        assert [p.decode() for p in f["paths"][:]] == [
            f"{synset(labels[k])}/{photos[k].name}" for k in order
        ]
        assert f["labels"][:].tolist() == [labels[k] for k in order]
        classes, scores = f["top5_classes"][:], f["top5_scores"][:]
        assert len(f["classes"]) == N_CLASSES
    err = np.abs(scores - np.take_along_axis(reference, classes, axis=1)).max()
    print(f"{crops} crop(s): max |saved score - one-by-one logit| = {err:.2e}")
    assert err < SCORE_TOL * max(1.0, np.abs(reference).max())
    assert np.array_equal(classes, np.argsort(-reference, axis=1)[:, :5])


@pytest.mark.parametrize("crops, layout", [(1, []), (10, []), (10, ["--channels-last"])])
def test_fast_preprocessing_through_workers(
    tmp_path, tiny_pt, photos, labels, fast_logits, crops, layout
):
    """--preprocess fast ships bytes out of the DataLoader workers and normalises them in the
    evaluation loop (straight into channels-last with --channels-last): the counts are those
    of the fast model inputs, image by image."""
    data = class_tree(tmp_path / "val", photos, labels)
    out = tmp_path / "results.json"
    code, stdout, stderr = run(
        "--data", data, "--weights", tiny_pt, "--preprocess", "fast", "--crops", crops,
        "--batch-size", 3, "--workers", 1, "-q", "--output", out, *layout,
    )  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(out.read_text())
    expected = expected_counts(fast_logits[crops], labels)
    print(f"fast, {crops} crop(s) {layout}: top-1/top-5 hits {expected}")
    assert (summary["n_top1_correct"], summary["n_top5_correct"]) == expected
    assert summary["preprocess"] == "fast" and summary["n_images"] == 7
    assert summary["settings"]["channels_last"] == bool(layout)


def test_without_the_compiled_bicubic_the_run_says_so(
    tmp_path, tiny_pt, photos, labels, monkeypatch
):
    """An install without a C compiler computes the same crops on torch ops, slower, and the
    report and JSON say which ran."""
    from evaluate.data import transforms

    data = class_tree(tmp_path / "val", photos[:2], labels[:2])
    results = {}
    for kernel in ("compiled", "torch ops"):
        if kernel == "torch ops":
            monkeypatch.setattr(transforms, "_torch_cubic", None)
        elif transforms._torch_cubic is None:
            continue  # this install has no compiled module: only the fallback can run
        out = tmp_path / f"{kernel}.json"
        code, stdout, stderr = run(
            "--data", data, "--weights", tiny_pt, "--workers", 0, "-q", "--output", out
        )  # fmt: skip
        assert code == 0, stderr
        results[kernel] = json.loads(out.read_text())
        assert results[kernel]["run"]["bicubic"] == kernel
        assert ("not compiled" in stdout) == (kernel == "torch ops")
    counts = {k: (r["n_top1_correct"], r["n_top5_correct"]) for k, r in results.items()}
    assert len(set(counts.values())) == 1, counts


def test_t7_weights_and_a_flat_folder_with_kaggle_labels(tmp_path, bundled, photos, labels, logits):
    flat = tmp_path / "val_flat"
    flat.mkdir()
    rows = ["ImageId,PredictionString"]
    for k, photo in enumerate(photos, 1):
        shutil.copy(photo, flat / f"ILSVRC2012_val_{k:08d}.JPEG")
        rows.append(f"ILSVRC2012_val_{k:08d},{synset(labels[k - 1])} 1 2 3 4")
    (tmp_path / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "LOC_synset_mapping.txt").write_text(
        "".join(f"{synset(i)} class {i}\n" for i in range(N_CLASSES))
    )
    out = tmp_path / "r.json"
    code, stdout, stderr = run(
        "--data",
        flat,
        "--labels",
        tmp_path / "LOC_val_solution.csv",
        "--weights",
        bundled / "irv2_tiny.t7",
        "--workers",
        0,
        "-q",
        "--output",
        out,
    )
    assert code == 0, stderr
    summary = json.loads(out.read_text())
    assert (summary["n_top1_correct"], summary["n_top5_correct"]) == expected_counts(
        logits[1], labels
    )
    assert summary["settings"]["label_source"] == "LOC_val_solution.csv"


def bad_files(folder: Path, photo: Path) -> dict[str, Path]:
    data = photo.read_bytes()
    files = {
        "truncated": folder / "truncated.JPEG",
        "zero-byte": folder / "empty.JPEG",
        "text": folder / "notes.JPEG",
    }
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["zero-byte"].write_bytes(b"")
    files["text"].write_text("this is not an image\n")
    return files


@pytest.mark.parametrize("kind", ["truncated", "zero-byte", "text"])
def test_a_bad_image_stops_the_run_naming_it(tmp_path, tiny_pt, photos, labels, kind):
    data = class_tree(tmp_path / "val", photos[:2], labels[:2])
    bad = bad_files(data / synset(5), photos[0])[kind]
    for other in set(bad.parent.iterdir()) - {bad}:
        other.unlink()
    out = tmp_path / "r.json"
    code, stdout, stderr = run(
        "--data", data, "--weights", tiny_pt, "--workers", 0, "--output", out, "-q"
    )
    print(stderr)
    assert code == 2
    assert str(bad) in stderr and "--skip-bad" in stderr and "Traceback" not in stderr
    assert stderr.count("\n") == 1 and not out.exists()


def test_skip_bad_lists_every_skipped_file(tmp_path, tiny_pt, photos, labels, logits):
    data = class_tree(tmp_path / "val", photos, labels)
    bad = bad_files(data / synset(5), photos[0])
    out = tmp_path / "r.json"
    code, stdout, stderr = run(
        "--data", data, "--weights", tiny_pt, "--workers", 0, "--output", out, "--skip-bad", "-q"
    )
    print(stdout)
    assert code == 0
    summary = json.loads(out.read_text())
    skipped = sorted(item["path"] for item in summary["skipped"])
    assert skipped == sorted(f"{synset(5)}/{p.name}" for p in bad.values())
    assert summary["n_skipped"] == 3 and summary["metrics_exclude_skipped"] is True
    assert summary["n_images"] == 7
    assert (summary["n_top1_correct"], summary["n_top5_correct"]) == expected_counts(
        logits[1], labels
    )
    assert "skipped 3 unreadable image(s); the metrics exclude them" in stdout
    assert all(str(p) in stdout for p in bad.values())


def test_skip_bad_with_nothing_readable_is_an_error(tmp_path, tiny_pt):
    data = tmp_path / "val"
    for i in range(N_CLASSES):
        (data / synset(i)).mkdir(parents=True)
    (data / synset(7) / "empty.JPEG").write_bytes(b"")
    code, _, stderr = run("--data", data, "--weights", tiny_pt, "--workers", 0, "--skip-bad", "-q")
    print(stderr)
    assert code == 2 and "none of the 1 images could be read" in stderr and "empty.JPEG" in stderr


def test_user_mistakes_get_one_clear_line(tmp_path, tiny_pt, photos, labels):
    data = class_tree(tmp_path / "val", photos[:1], labels[:1])
    small = tmp_path / "small"
    for i in range(10):
        (small / synset(i)).mkdir(parents=True)
    shutil.copy(photos[0], small / synset(3) / photos[0].name)
    existing = tmp_path / "r.json"
    existing.write_text("{}")
    cases = {
        "--labels": (
            ["--data", data, "--labels", tmp_path / "LOC_val_solution.csv"],
            "no such labels file",
        ),
        "class count": (
            ["--data", small],
            "10 classes (from class folders) but the model has 1000 outputs",
        ),
        "overwrite": (["--data", data, "--output", existing], "already exists; pass --force"),
        "weights": (["--data", data, "--weights", tmp_path / "nope.pt"], "no such file"),
        "device": (["--data", data, "--device", "tpu"], "expected auto, cpu, cuda or cuda:N"),
        "data is a file": (["--data", photos[0]], "not a directory (--data must be a folder"),
        "binary --classes": (["--data", data, "--classes", tiny_pt], "not UTF-8 text"),
        "output is a directory": (["--data", data, "--output", tmp_path, "--force"], "directory"),
        "one file for both": (
            ["--data", data, "--output", tmp_path / "x.h5", "--predictions", tmp_path / "x.h5"],
            "--output and --predictions both name",
        ),
    }
    for name, (args, message) in cases.items():
        if "--weights" not in args:
            args = [*args, "--weights", tiny_pt]
        code, _, stderr = run(*args, "--workers", 0, "-q")
        print(f"{name}: {stderr.strip()}")
        assert code == 2 and message in stderr and stderr.count("\n") == 1, name
    assert existing.read_text() == "{}" and not (tmp_path / "x.h5").exists()
    code, _, _ = run(
        "--data", data, "--weights", tiny_pt, "--output", existing, "--force", "--workers", 0, "-q"
    )
    assert code == 0 and json.loads(existing.read_text())["n_images"] == 1


def test_device_and_amp_resolution_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("checks the refusals of a CPU-only machine")
    assert resolve_device("auto").type == "cpu"
    for spec, message in [
        ("cuda", "no CUDA device"),
        ("cuda:1", "no CUDA device"),
        ("gpu", "expected auto, cpu"),
    ]:
        with pytest.raises(UserError, match=message):
            resolve_device(spec)
    assert resolve_amp_dtype(False, "bf16", torch.device("cpu")) is None
    assert resolve_amp_dtype(True, "bf16", torch.device("cpu")) is torch.bfloat16
    with pytest.raises(UserError, match="--amp-dtype fp16 needs a CUDA device"):
        resolve_amp_dtype(True, "fp16", torch.device("cpu"))


def test_help_answers_without_importing_torch():
    code = (
        "import sys; from click.testing import CliRunner; from evaluate.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); "
        "print(r.exit_code, 'torch' in sys.modules, '--skip-bad' in r.output)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "True"]


def test_progress_line_is_ended_when_a_run_stops_early(monkeypatch):
    """On a terminal the line is redrawn without a newline: an error must not be glued to it."""
    import io

    from evaluate.report import _Progress
    from evaluate.runtime.distributed import DistInfo

    for done, expected_end in [(1, "1/3 "), (3, "\n")]:
        stderr = io.StringIO()
        monkeypatch.setattr(sys, "stderr", stderr)
        progress = _Progress(DistInfo())
        progress.tty = True
        progress(done, 3)
        before = stderr.getvalue()
        progress.close()
        print(repr(stderr.getvalue()))
        assert before.startswith("\r[") and expected_end in before
        assert stderr.getvalue().count("\n") == 1  # the finished line is not ended twice


def test_authors_figures_only_beside_imagenet_models(tmp_path, tiny_pt, photos):
    """A fine-tuned 3-class model is not compared with the published ImageNet numbers."""
    from converter import load_converted
    from converter.outputs import mapped as output

    model = load_converted(tiny_pt)
    model.reset_classifier(3)
    weights = tmp_path / "three.pt"
    output.save(
        model.state_dict(),
        {"arch": "inception_resnet_v2", "config": model.cfg.to_dict()},
        weights,
        "pt",
    )
    data = tmp_path / "val"
    for i, photo in enumerate(photos[:3]):
        (data / synset(i)).mkdir(parents=True)
        shutil.copy(photo, data / synset(i) / photo.name)
    code, stdout, stderr = run(
        "--data",
        data,
        "--weights",
        weights,
        "--workers",
        "0",
        "-q",
        "--output",
        tmp_path / "r.json",
    )
    assert code == 0, stderr
    assert "top-1 error" in stdout and "authors" not in stdout
    assert json.loads((tmp_path / "r.json").read_text())["authors"] is None


@pytest.mark.parametrize("crops", [1, 10])
def test_predictions_hold_probabilities_and_class_names(
    tmp_path, tiny_pt, photos, logits, labels, crops
):
    """Beside the summed logits: nn.SoftMax's probabilities of the crops' mean logits, and the
    ImageNet names of the top-5 classes and of every class."""
    from evaluate.pretrained.classes import imagenet
    from evaluate.pretrained.softmax import torch7_softmax

    data = class_tree(tmp_path / "val", photos, labels)
    preds = tmp_path / "preds.h5"
    code, _, stderr = run(
        "--data", data, "--weights", tiny_pt, "--crops", crops, "--batch-size", 3,
        "--workers", 0, "-q", "--predictions", preds,
    )  # fmt: skip
    assert code == 0, stderr
    order = sorted(range(7), key=lambda k: (labels[k], photos[k].name))
    probs = torch7_softmax(torch.from_numpy(logits[crops][order] / crops)).numpy()
    with h5py.File(preds) as f:
        classes, got = f["top5_classes"][:], f["top5_probs"][:]
        top5_names = [[n.decode() for n in row] for row in f["top5_names"][:]]
        table = [n.decode() for n in f["class_names"][:]]
        wnids = [w.decode() for w in f["class_wnids"][:]]
        assert "ImageNet" in f["class_names"].attrs["source"]
    ref = np.take_along_axis(probs, classes, axis=1)
    err = np.abs(got - ref).max() / ref.max()
    print(f"{crops} crop(s): top-5 probabilities vs one-by-one softmax: {err:.2e} x the largest")
    assert err < SCORE_TOL
    assert np.all(np.diff(got, axis=1) <= 0)  # in rank order
    assert table == list(imagenet().names) and wnids == list(imagenet().wnids)
    assert top5_names == [[table[c] for c in row] for row in classes]


def test_a_fine_tuned_model_is_evaluated_on_its_own_classes(tmp_path, tiny_pt, photos):
    """irv2-train records the class folders in the model; another dataset is refused."""
    from converter import load_converted
    from converter.outputs import mapped as output

    model = load_converted(tiny_pt)
    model.reset_classifier(2)
    weights = tmp_path / "two.pt"
    meta = {"arch": "inception_resnet_v2", "config": model.cfg.to_dict(), "classes": ["cat", "dog"]}
    output.save(model.state_dict(), meta, weights, "pt")
    data = tmp_path / "val"
    for name, photo in zip(("cow", "dog"), photos):
        (data / name).mkdir(parents=True)
        shutil.copy(photo, data / name / photo.name)
    code, _, stderr = run("--data", data, "--weights", weights, "--workers", 0, "-q")
    assert code == 2 and "not the 2 class folders" in stderr and "Traceback" not in stderr
    (data / "cow").rename(data / "cat")
    preds = tmp_path / "p.h5"
    code, _, stderr = run(
        "--data", data, "--weights", weights, "--workers", 0, "-q", "--predictions", preds
    )
    assert code == 0, stderr
    with h5py.File(preds) as f:
        assert [n.decode() for n in f["class_names"][:]] == ["cat", "dog"]
        assert "own" in f["class_names"].attrs["source"]
