"""irv2-train fine-tunes any translated classifier, and its files go everywhere: fb.resnet.torch's
ResNet-18 (../shared/fixtures/torch7/resnet18) gets a new 2-class head (its last nn.Linear,
the class count from the folders), resumes exactly (parameters and momentum equal to an
uninterrupted run), and t7convert turns its model_best.pt into .safetensors and .onnx that
give its outputs, with its classes carried; --inspect describes them; irv2-eval and
irv2-classify run the .onnx through onnxruntime, and the tools that need the network itself
say so in one line.

Tolerance: .safetensors/.pt identical; .onnx via onnxruntime max|Δ| <= 1e-5 x max|out|.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_invoke import invoke as run
from PIL import Image

from converter.cli import main as t7convert
from evaluate.train.cli import main as train_main

TOL = 1e-5


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    """train/ and val/ with one small image per class (crops are resized to 224 anyway)."""
    root = tmp_path_factory.mktemp("cats_dogs")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c, name in enumerate(("cat", "dog")):
            (root / split / name).mkdir(parents=True)
            pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) // (c + 1)
            Image.fromarray(pixels).save(root / split / name / "a.jpg")
    return root


def train(data, *args: object) -> None:
    common = ("--data", data, "--device", "cpu", "--workers", "0", "--batch-size", "2")
    code, out = run(train_main, *common, "--lr", "0.01", *args)
    print(out)
    assert code == 0, out


@pytest.fixture(scope="module")
def runs(resnet18_t7, two_classes, tmp_path_factory):
    """Two epochs straight, and one epoch then --resume for the second."""
    d = tmp_path_factory.mktemp("runs")
    start = ("--weights", resnet18_t7, "--reset-classifier")
    train(two_classes, *start, "--epochs", "2", "--save", d / "straight")
    train(two_classes, *start, "--epochs", "1", "--save", d / "split")
    train(two_classes, "--resume", d / "split", "--epochs", "2")
    return d / "straight", d / "split"


def test_finetuning_resnet18_resumes_exactly(runs):
    straight, split = (torch.load(r / "checkpoint.pt", weights_only=True) for r in runs)
    assert straight["meta"]["arch"] == split["meta"]["arch"] == "torch7_translated"
    assert split["meta"]["head"] == {"path": "11", "in_features": 512, "out_features": 2}
    assert split["meta"]["classes"] == ["cat", "dog"] and split["meta"]["epoch"] == 2
    assert split["state_dict"].keys() == straight["state_dict"].keys()
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, split["state_dict"][key]), key
    ma, mb = (c["trainer"]["optimizer"]["state"] for c in (straight, split))
    assert ma.keys() == mb.keys() and all(
        torch.equal(ma[i]["momentum_buffer"], mb[i]["momentum_buffer"]) for i in ma
    )
    assert "=> fine-tuning from" in (runs[1] / "train.log").read_text()
    assert "new 2-class classifier" in (runs[1] / "train.log").read_text()


@pytest.fixture(scope="module")
def converted(runs, tmp_path_factory):
    d = tmp_path_factory.mktemp("converted")
    best = runs[1] / "model_best.pt"
    for suffix in ("safetensors", "onnx"):
        code, out = run(t7convert, best, d / f"ft.{suffix}")
        print(out)
        assert code == 0, out
    return best, d / "ft.safetensors", d / "ft.onnx"


def test_model_best_converts_to_safetensors_and_onnx_with_the_same_outputs(converted):
    from converter.load import load

    best, safetensors, onnx = (load(p) for p in converted)
    x = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(1)) * 4 - 2
    with torch.no_grad():
        want, same, graph = best.network(x), safetensors.network(x), onnx.network(x)
    assert torch.equal(want, same)
    delta, scale = float((graph - want).abs().max()), float(want.abs().max())
    print(f"onnxruntime vs model_best.pt: max|Δ| = {delta:.3g} (max|out| {scale:.3g})")
    assert want.shape == (3, 2) and delta <= TOL * scale
    for loaded in (safetensors, onnx):
        assert loaded.meta["classes"] == ["cat", "dog"] and loaded.meta["preset"] == "fbresnet"
        assert loaded.meta["converted_from"] == "model_best.pt"


def test_inspect_describes_the_tools_own_files(converted):
    _, safetensors, onnx = converted
    code, out = run(t7convert, "--inspect", safetensors)
    assert code == 0, out
    assert "translated Torch7 network, t7convert's weights" in out
    assert "classifier replaced at 11: Linear(512 -> 2)" in out and "nn.Sequential {" in out
    code, out = run(t7convert, "--inspect", onnx)
    assert code == 0 and 'classes: ["cat", "dog"]' in out and "takes N x 3 x 224 x 224" in out


def test_onnx_runs_in_eval_and_classify_and_is_refused_where_the_network_is_needed(
    converted, runs, two_classes, tmp_path
):
    from evaluate.cli import main as eval_main
    from evaluate.pretrained.classify_cli import main as classify_main
    from evaluate.pretrained.features_cli import main as features_main

    best, _, onnx = converted
    photo = next((two_classes / "val" / "cat").iterdir())
    outputs = [run(classify_main, "--weights", w, photo, "--json", "-") for w in (best, onnx)]
    assert outputs[0][0] == outputs[1][0] == 0
    assert '"cat"' in outputs[1][1] or '"dog"' in outputs[1][1]
    for weights in (runs[1], onnx):  # a run directory, and its graph
        code, out = run(eval_main, "--data", two_classes / "val", "--weights", weights, "-q")
        assert code == 0 and "images: 2" in out, out
    refusals = {
        "irv2-features": (features_main, photo, "-o", tmp_path / "f.h5"),
        "irv2-train": (train_main, "--data", two_classes, "--save", tmp_path / "r"),
        "t7convert": (t7convert, tmp_path / "x.safetensors"),
    }
    for tool, (main, *args) in refusals.items():
        if main is t7convert:
            code, out = run(main, onnx, *args)
        else:
            code, out = run(main, "--weights", onnx, *args)
        print(f"{tool}: {out.strip()}")
        assert code == 2 and len(out.strip().splitlines()) == 1, out
        assert "ONNX graph" in out and "irv2-eval and irv2-classify take it" in out
    assert list(tmp_path.iterdir()) == []


def test_classes_the_model_was_not_trained_on_are_refused(runs, tmp_path):
    from evaluate.cli import main as eval_main

    (tmp_path / "bird").mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "bird" / "a.jpg")
    code, out = run(eval_main, "--data", tmp_path, "--weights", runs[1] / "model_best.pt")
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert "1 class folder(s) are not among the 2 classes" in out and "bird" in out


def test_mapped_irv2_files_convert_between_formats_with_their_metadata(tiny_pt, tmp_path):
    """The IRv2 side of the same rule: t7convert's .pt -> .safetensors -> .h5, the same network
    and metadata each time; --generic (a Torch7-only option) on one of them is one line."""
    from converter import load_model_meta

    chain = [tiny_pt, tmp_path / "t.safetensors", tmp_path / "t.h5"]
    for source, output in zip(chain, chain[1:]):
        code, out = run(t7convert, source, output)
        assert code == 0 and "inception_resnet_v2, metadata carried" in out, out
    (a, meta_a), (b, meta_b) = (load_model_meta(p) for p in (chain[0], chain[-1]))
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    assert meta_b["source_sha256"] == meta_a["source_sha256"] and meta_b["preset"] == "irv2"
    code, out = run(t7convert, tiny_pt, tmp_path / "g.safetensors", "--generic")
    assert code == 2 and "already converted" in out and not (tmp_path / "g.safetensors").exists()
