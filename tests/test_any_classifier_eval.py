"""irv2-eval on any converted classifier, against real Torch7: fb.resnet.torch's ResNet-18
(../shared/fixtures/torch7/resnet18, the fbresnet preset 256/224) over the 7 fixture photos in
ImageNet class folders named by WNID, as a Torch7 file, as t7convert --generic's .safetensors
and as the .pt irv2-train writes for it before any step. The references are classify.lua's
logits per photo (pretrained/classify_ref.t7, see its MANIFEST.md).

Also: a subset of ImageNet's classes (4 WNID folders) is matched by name, --restrict-to-present,
a dataset root points to val/, and models that are not image classifiers (the real-world MNIST
MLP, char-rnn graph and SpyNet) are refused by every tool in one line, writing nothing.

Tolerance: logits max|Δ| <= 1e-5 x max|Torch7 logit| per photo (float32).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torchfile
from cli_invoke import invoke as run

from evaluate.cli import main as eval_main
from evaluate.pretrained.classes import imagenet

TOL = 1e-5
# photo prefix -> 0-based ImageNet class of its folder: Torch7's top-1 for three, its rank-2
# class for one, classes outside Torch7's top 5 for three (so top-1, top-5 and misses all occur)
LABELS = {"01": 254, "02": 254, "04": 678, "06": 678, "07": 395, "08": 0, "09": 0}


@pytest.fixture(scope="module")
def torch7_logits(fixtures) -> dict[str, np.ndarray]:
    ref = torchfile.load(str(fixtures / "pretrained" / "classify_ref.t7"), use_list_heuristic=False)
    names = [ref[b"order"][i + 1].decode() for i in range(7)]
    return {n: ref[n.encode()][b"resnet18"][b"logits"].astype(np.float64) for n in names}


@pytest.fixture(scope="module")
def wnid_folders(photos, tmp_path_factory) -> Path:
    """The 7 photos in 4 ImageNet synset folders (a subset of the 1000 classes)."""
    root = tmp_path_factory.mktemp("subset")
    for photo in photos:
        folder = root / imagenet().wnids[LABELS[photo.name[:2]]]
        folder.mkdir(exist_ok=True)
        shutil.copy(photo, folder / photo.name)
    return root


def zero_step_checkpoint(weights: Path, run_dir: Path) -> Path:
    """What irv2-train saves for a model it fine-tunes, before any step: its own save code."""
    from converter.load import load
    from evaluate.runtime.distributed import DistInfo
    from evaluate.train.loop import LoopConfig, LoopState, TrainLoop
    from evaluate.train.trainer import TrainConfig, Trainer

    network = load(weights).network
    run_dir.mkdir()
    loop = TrainLoop(
        Trainer(network, TrainConfig()), None, LoopConfig(), LoopState(), DistInfo(), None, run_dir
    )
    loop._save(best=True)
    return run_dir / "model_best.pt"


@pytest.fixture(scope="module")
def r18_forms(resnet18_t7, tmp_path_factory) -> dict[str, Path]:
    from converter.cli import main as t7convert

    d = tmp_path_factory.mktemp("forms")
    code, out = run(t7convert, resnet18_t7, d / "r18.safetensors", "--generic")
    assert code == 0, out
    return {
        "t7": resnet18_t7,
        "safetensors": d / "r18.safetensors",
        "irv2-train .pt, 0 steps": zero_step_checkpoint(resnet18_t7, d / "run"),
    }


@pytest.mark.parametrize("form", ["t7", "safetensors", "irv2-train .pt, 0 steps"])
def test_eval_resnet18_gives_torch7s_logits_and_topk(
    form, r18_forms, wnid_folders, torch7_logits, tmp_path
):
    preds, summary = tmp_path / "p.h5", tmp_path / "r.json"
    code, out = run(
        eval_main, "--data", wnid_folders, "--weights", r18_forms[form], "--workers", "0",
        "--predictions", preds, "--output", summary, "-q",
    )  # fmt: skip
    print(out)
    assert code == 0, out
    assert "4 of the model's 1000 ImageNet classes are present" in out
    with h5py.File(preds) as f:
        paths = [Path(p.decode()).name for p in f["paths"][()]]
        classes, scores = f["top5_classes"][()], f["top5_scores"][()]
    top1 = top5 = 0
    for name, row, got in zip(paths, classes, scores):
        ref = torch7_logits[name]
        assert list(row) == list(np.argsort(-ref, kind="stable")[:5]), name
        delta, scale = float(np.abs(got - ref[row]).max()), float(np.abs(ref).max())
        print(f"{form} {name}: max|Δ logit| = {delta:.3g} (max|ref| {scale:.3g})")
        assert delta <= TOL * scale
        label = LABELS[name[:2]]
        rank = int((ref > ref[label]).sum())  # Torch7's rank of the true class
        top1, top5 = top1 + (rank == 0), top5 + (rank < 5)
    result = json.loads(summary.read_text())
    assert (result["n_top1_correct"], result["n_top5_correct"]) == (top1, top5) == (3, 4)
    settings = result["settings"]
    assert settings["arch"] == "torch7_translated" and settings["preset"] == "fbresnet"
    assert (settings["scale_size"], settings["crop_size"]) == (256, 224)
    assert settings["classes_present"] == 4 and result["authors"] is None


def test_restrict_to_present_ranks_only_the_folders_classes(r18_forms, wnid_folders, tmp_path):
    preds = tmp_path / "p.h5"
    code, out = run(
        eval_main, "--data", wnid_folders, "--weights", r18_forms["safetensors"],
        "--workers", "0", "--restrict-to-present", "--predictions", preds, "-q",
    )  # fmt: skip
    assert code == 0, out
    with h5py.File(preds) as f:
        classes = f["top5_classes"][()]
    assert classes.shape == (7, 4) and set(classes.ravel()) == set(LABELS.values())


def test_a_dataset_root_points_to_its_val_folder(bundled, photos, tmp_path):
    photo = photos[0]
    for split in ("train", "val"):
        (tmp_path / split / "n01440764").mkdir(parents=True)
        shutil.copy(photo, tmp_path / split / "n01440764" / photo.name)
    code, out = run(eval_main, "--data", tmp_path, "--weights", bundled / "irv2_tiny.t7")
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert f"holds train/, val/ rather than class folders; give --data {tmp_path / 'val'}" in out


# what each non-classifier takes, as every tool says it
NOT_CLASSIFIERS = {
    "t7/henlisp_hw1_model.t7": "takes vectors of 784 values; for a 2x3x224x224 batch it returns "
    "a 384x10 float32 tensor, not one row of class scores per image",
    "t7/asexam_charrnn_model.t7": "takes vectors of 100 values; a 2x3x224x224 batch of images "
    "fails in it",
    "models/spynet_modelL3_4.t7": "takes 8-channel images, not 3-channel (RGB) ones",
}


@pytest.mark.parametrize("model", sorted(NOT_CLASSIFIERS))
def test_every_tool_refuses_a_model_that_is_not_an_image_classifier(
    model, realworld, photos, wnid_folders, tmp_path
):
    from evaluate.pretrained.classify_cli import main as classify_main
    from evaluate.pretrained.features_cli import main as features_main

    weights, photo = realworld / model, photos[0]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    calls = {
        "irv2-classify": (classify_main, photo, "--json", out_dir / "c.json"),
        "irv2-features": (features_main, photo, "-o", out_dir / "f.h5"),
        "irv2-eval": (eval_main, "--data", wnid_folders, "--output", out_dir / "r.json"),
    }
    for tool, (main, *args) in calls.items():
        code, out = run(main, "--weights", weights, *args)
        print(f"{tool}: {out.strip()}")
        assert code == 2 and len(out.strip().splitlines()) == 1, out
        assert f"not an image classifier: it {NOT_CLASSIFIERS[model]}" in out
    assert list(out_dir.iterdir()) == []


def test_irv2_draw_names_what_it_draws(resnet18_t7, tmp_path):
    from evaluate.figure.cli import main as draw_main

    code, out = run(draw_main, "--weights", resnet18_t7, "-o", tmp_path / "f.dot")
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert "traces the Inception-ResNet-v2 only" in out and "t7convert --inspect" in out
    assert list(tmp_path.iterdir()) == []
