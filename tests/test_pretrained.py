"""irv2-classify and the pieces it shares with irv2-features and irv2-eval (class names, presets,
nn.SoftMax's arithmetic, model loading), against what real Lua Torch7 computed and printed:
fb.resnet.torch's classify.lua on the ResNet-18 fixture (256/224) and the tiny IRv2 (328/299),
7 photos (../shared/fixtures/torch7/pretrained/classify_ref.t7, see its MANIFEST.md).

Tolerances: the port's float32 logits differ from THNN's by ~1e-6 relative, so probabilities
are compared relative to the largest (1e-5) and, for the top 5, each relative to itself; the
smallest gap between adjacent ranks in the references is 1.6e-5 in probability, so absolute
tolerances would check nothing (MANIFEST "Top-5 margins").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torchfile
from click.testing import CliRunner

from converter.errors import UserError
from converter.outputs.export import UnpicklingFormatWarning
from evaluate.pretrained import classes, formats, presets
from evaluate.pretrained.classify import ImageResult, Prediction, classify
from evaluate.pretrained.classify_cli import main
from evaluate.pretrained.model import load_pretrained
from evaluate.pretrained.softmax import torch7_softmax

REPO = Path(__file__).resolve().parent.parent
TOL = 1e-5
MODELS = ("resnet18", "irv2_tiny")


@pytest.fixture(scope="session")
def classify_ref(fixtures) -> dict:
    return torchfile.load(
        str(fixtures / "pretrained" / "classify_ref.t7"), use_list_heuristic=False
    )


@pytest.fixture(scope="session")
def order(classify_ref) -> list[str]:
    return [classify_ref[b"order"][i + 1].decode() for i in range(7)]


@pytest.fixture(scope="session")
def weights(resnet18_t7, bundled) -> dict[str, Path]:
    return {"resnet18": resnet18_t7, "irv2_tiny": bundled / "irv2_tiny.t7"}


@pytest.fixture(scope="session")
def models(weights) -> dict:
    return {name: load_pretrained(path) for name, path in weights.items()}


def cli(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def ref_lines(stdout: bytes, results: dict[str, list[Prediction]] | None = None) -> list[str]:
    """classify.lua's stdout as this port prints it: each line's trailing tab dropped, and the
    class's WNID after its name (looked up by the name's rank in `results`, or by the name)."""
    wnid_of = dict(zip(classes.imagenet().names, classes.imagenet().wnids))
    lines = []
    for line in stdout.decode().splitlines():
        assert line.endswith("\t")  # trepl's print: every line, print('') too
        line = line[:-1]
        if line and not line.startswith("Classes for\t"):
            line += "\t" + wnid_of[line.split("\t", 1)[1]]
        lines.append(line)
    return lines


# --- class names --------------------------------------------------------------------------


def test_class_names_equal_fb_resnet_torchs_for_every_index(classify_ref, fixtures):
    names = classes.imagenet()
    lua = [classify_ref[b"labels"][i + 1].decode() for i in range(1000)]
    assert len(names) == 1000 and list(names.names) == lua  # imagenet.lua, 1-based -> 0-based
    assert list(names.wnids) == sorted(set(names.wnids))  # class folders' sorted order
    assert all(classes._WNID.fullmatch(w) for w in names.wnids)
    shared = fixtures.parent.parent / "data" / "imagenet" / "synset_words.txt"
    if shared.is_file():
        packaged = REPO / "evaluate" / "pretrained" / "synset_words.txt"
        assert packaged.read_bytes() == shared.read_bytes()
    assert '"evaluate.pretrained" = ["synset_words.txt"]' in (REPO / "pyproject.toml").read_text()


def test_a_model_names_its_own_classes():
    own = classes.for_model(3, ["n01440764", "n99999999", "cat"])
    assert own.wnids == ("n01440764", "n99999999", None)
    assert own.names == ("tench, Tinca tinca", "n99999999", "cat")
    assert "own" in own.source
    assert classes.for_model(1000, None) is classes.imagenet()
    assert classes.for_model(37, None).names[36] == "class 36"
    with pytest.raises(UserError, match="records 2 class names but has 3 outputs"):
        classes.for_model(3, ["a", "b"])


def test_presets_are_the_two_pipelines():
    from evaluate.data.options import PRESET_NAMES

    assert tuple(presets.PRESETS) == PRESET_NAMES
    irv2, fb = presets.PRESETS["irv2"], presets.PRESETS["fbresnet"]
    assert (irv2.scale_size, irv2.crop_size, fb.scale_size, fb.crop_size) == (328, 299, 256, 224)
    assert presets.for_crop(224) is fb and presets.for_crop(300) is None
    with pytest.raises(UserError, match="--preset 'x'"):
        presets.get("x")


@pytest.mark.parametrize("model, preset", [("resnet18", "fbresnet"), ("irv2_tiny", "irv2")])
def test_preset_geometry_is_torch7s(classify_ref, order, model, preset):
    """Scale and CenterCrop sizes and offsets equal what Torch7 recorded for every photo
    (facebook's Scale(256) does scale 09_astronaut_exact328: 328x400 -> 256x312)."""
    from evaluate.data.transforms import center_offsets, scaled_size

    chosen = presets.PRESETS[preset]
    for name in order:
        info = classify_ref[b"info"][name.encode()][model.encode()]
        _, height, width = (info[b"loaded_size"][i] for i in (1, 2, 3))
        scaled = scaled_size(width, height, chosen.scale_size)
        assert scaled == (info[b"scaled_size"][3], info[b"scaled_size"][2]), name
        crop = center_offsets(*scaled, chosen.crop_size)
        assert crop == (info[b"crop_x1y1"][1], info[b"crop_x1y1"][2]), name


# --- nn.SoftMax and classify.lua's printing -----------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_softmax_is_nn_softmax_bit_for_bit(classify_ref, order, model):
    for name in order:
        ref = classify_ref[name.encode()][model.encode()]
        probs = torch7_softmax(torch.from_numpy(ref[b"logits"])[None])[0].numpy()
        assert np.array_equal(probs, ref[b"probs"]), name


@pytest.mark.parametrize("model", MODELS)
def test_printed_lines_are_classify_luas_given_its_probabilities(classify_ref, order, model):
    """Fed Torch7's own top-5 (float32 probabilities, 1-based indexes), the lines equal the
    real script's whole stdout for all 7 photos: number format (%.14g, exponent form), names
    with commas, header with the path as given, the blank line."""
    names = classes.imagenet()
    printed = []
    for name in order:
        ref = classify_ref[name.encode()][model.encode()]
        predictions = [
            Prediction(r + 1, int(i) - 1, names.wnids[i - 1], names.names[i - 1], float(p), 0.0)
            for r, (i, p) in enumerate(zip(ref[b"top5_indexes"], ref[b"top5_probs"]))
        ]
        printed += formats.lua_lines(ImageResult(name, predictions))
    assert printed == ref_lines(classify_ref[f"{model}_stdout".encode()])
    assert formats.lua_number(1.0) == "1"


# --- the port against Torch7 ----------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_probabilities_and_top5_match_torch7(classify_ref, order, models, photos, model):
    """All 1000 probabilities and logits of every photo, one batch; top-5 classes identical."""
    pretrained = models[model]
    assert pretrained.preset.name == {"resnet18": "fbresnet", "irv2_tiny": "irv2"}[model]
    files = [str(p) for p in photos]
    assert [Path(f).name for f in files] == order
    results = list(classify(pretrained, files, pretrained.preset, topk=1000, batch_size=7))
    worst = {"probs": 0.0, "logits": 0.0, "top-5 log-probs": 0.0}
    for name, result in zip(order, results):
        ref = classify_ref[name.encode()][model.encode()]
        by_index = sorted(result.predictions, key=lambda p: p.index)
        probs = np.array([p.prob for p in by_index])
        logits = np.array([p.logit for p in by_index])
        top5 = [p.index + 1 for p in result.predictions[:5]]
        assert top5 == ref[b"top5_indexes"].tolist(), name
        scale = np.abs(ref[b"logits"]).max()
        worst["probs"] = max(worst["probs"], np.abs(probs - ref[b"probs"]).max() / probs.max())
        worst["logits"] = max(worst["logits"], np.abs(logits - ref[b"logits"]).max() / scale)
        # a small probability's relative error is its log's absolute error, set by the logits'
        log_err = np.abs(np.log(probs[np.array(top5) - 1]) - np.log(ref[b"top5_probs"])).max()
        worst["top-5 log-probs"] = max(worst["top-5 log-probs"], log_err / scale)
    print(f"{model}: max |Δ| / max |ref|: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    assert max(worst.values()) <= TOL


@pytest.mark.parametrize("model", MODELS)
def test_printed_output_matches_classify_lua(classify_ref, weights, fixtures, monkeypatch, model):
    """`irv2-classify` run like `th classify.lua MODEL <7 names>` in the image folder: the
    same lines but the numbers, which agree to 1e-5 relative (the logits are not bit-equal)."""
    monkeypatch.chdir(fixtures / "images")
    names = [classify_ref[b"order"][i + 1].decode() for i in range(7)]
    code, stdout, stderr = cli(*names, "--weights", weights[model], "--workers", 0)
    assert code == 0, stderr
    ours, lua = stdout.splitlines(), ref_lines(classify_ref[f"{model}_stdout".encode()])
    assert len(ours) == len(lua) == 49
    worst, top1 = 0.0, None
    for got, want in zip(ours, lua):
        if got == "" or got.startswith("Classes for"):
            assert got == want
            top1 = None
            continue
        (p, rest), (q, want_rest) = got.split("\t", 1), want.split("\t", 1)
        assert rest == want_rest  # name and WNID
        top1 = top1 or float(q)
        worst = max(worst, abs(float(p) - float(q)) / top1)
    print(f"{model}: printed probabilities within {worst:.2e} of classify.lua's (x its top-1)")
    assert worst <= TOL
    preset = {"resnet18": "fbresnet (Scale 256", "irv2_tiny": "irv2 (Scale 328"}[model]
    assert preset in stderr


@pytest.mark.parametrize("model", MODELS)
def test_batched_equals_one_at_a_time(models, photos, model):
    files = [str(p) for p in photos]
    pretrained = models[model]
    runs = {
        size: list(classify(pretrained, files, pretrained.preset, topk=5, batch_size=size))
        for size in (1, 3, 7)
    }
    worst = 0.0
    for size in (3, 7):
        for alone, batched in zip(runs[1], runs[size]):
            assert [p.index for p in alone.predictions] == [p.index for p in batched.predictions]
            a, b = (np.array([p.logit for p in r.predictions]) for r in (alone, batched))
            worst = max(worst, np.abs(a - b).max() / np.abs(a).max())
    print(f"{model}: batches of 3 and 7 vs one at a time: top-5 logits within {worst:.2e}")
    assert worst <= TOL


@pytest.mark.parametrize("model", MODELS)
def test_fast_preprocessing_works_with_both_presets(models, photos, model):
    """`fast` crops are torch7's rounded to bytes: the same preset sizes, logits close."""
    pretrained = models[model]
    files = [str(p) for p in photos]
    runs = {
        mode: list(classify(pretrained, files, pretrained.preset, mode=mode, topk=1000))
        for mode in ("torch7", "fast")
    }
    worst = 0.0
    for exact, fast in zip(runs["torch7"], runs["fast"]):
        a, b = (np.array([p.logit for p in sorted(r.predictions, key=lambda p: p.index)])
                for r in (exact, fast))  # fmt: skip
        worst = max(worst, np.abs(a - b).max() / np.abs(a).max())
    print(f"{model} ({pretrained.preset.name}): fast vs torch7 logits, max |Δ|/max = {worst:.3g}")
    assert 0 < worst < 0.05


# --- the command --------------------------------------------------------------------------


def test_json_and_csv_outputs(tmp_path, weights, photos, classify_ref):
    out_json, out_csv = tmp_path / "p.json", tmp_path / "p.csv"
    code, stdout, stderr = cli(
        photos[0], photos[4], "--weights", weights["irv2_tiny"], "--topk", 3, "--workers", 0,
        "--json", out_json, "--csv", out_csv,
    )  # fmt: skip
    assert code == 0, stderr
    assert stdout.count("Classes for\t") == 2  # the lines still print
    records = json.loads(out_json.read_text())
    assert [r["file"] for r in records] == [str(photos[0]), str(photos[4])]
    assert records[0]["preprocess"]["preset"] == "irv2"
    assert records[0]["preprocess"]["crop_size"] == 299
    first = records[1]["predictions"][0]
    assert set(first) == {"rank", "index", "wnid", "name", "prob", "logit"}
    ref = classify_ref[photos[4].name.encode()][b"irv2_tiny"]
    assert [p["index"] + 1 for p in records[1]["predictions"]] == ref[b"top5_indexes"][:3].tolist()
    assert (
        first["name"] == "soup bowl" and first["wnid"] == classes.imagenet().wnids[first["index"]]
    )
    assert abs(first["prob"] - ref[b"top5_probs"][0]) <= TOL * ref[b"top5_probs"][0]
    rows = out_csv.read_text().splitlines()
    assert rows[0] == ",".join(formats.CSV_COLUMNS) and len(rows) == 1 + 2 * 3
    assert rows[4].startswith(f"{photos[4]},1,{first['index']},{first['wnid']},soup bowl,")

    code, _, stderr = cli(photos[0], "--weights", weights["irv2_tiny"], "--json", out_json)
    assert code == 2 and "already exists; pass --force" in stderr and "Traceback" not in stderr
    code, stdout, _ = cli(
        photos[0], "--weights", weights["irv2_tiny"], "--json", "-", "--workers", 0
    )
    assert code == 0 and json.loads(stdout)[0]["file"] == str(photos[0])  # only JSON on stdout
    code, _, stderr = cli(photos[0], "--weights", weights["irv2_tiny"], "--json", "-", "--csv", "-")
    assert code == 2 and "both name stdout" in stderr


def test_bad_images_are_named_and_the_others_classified(tmp_path, weights, photos):
    broken = tmp_path / "broken.JPEG"
    broken.write_bytes(photos[0].read_bytes()[:2000])
    out = tmp_path / "p.json"
    code, stdout, stderr = cli(
        photos[0], broken, tmp_path / "missing.jpg", photos[1], "--weights", weights["resnet18"],
        "--workers", 1, "--batch-size", 2, "--json", out,
    )  # fmt: skip
    print(stderr)
    assert code == 1 and "Traceback" not in stderr
    assert stdout.count("Classes for\t") == 2
    assert f"error: cannot read image {broken}" in stderr
    assert f"error: cannot read image {tmp_path / 'missing.jpg'}" in stderr
    assert "error: 2 of 4 image(s) could not be read" in stderr
    records = json.loads(out.read_text())  # still written: one object per file, in order
    assert [bool(r["predictions"]) for r in records] == [True, False, False, True]
    assert "error" in records[1] and "error" not in records[0]


def test_a_preset_the_model_cannot_take_is_one_line(weights, photos):
    code, _, stderr = cli(photos[0], "--weights", weights["irv2_tiny"], "--preset", "fbresnet")
    assert code == 2 and "cannot run on 224x224 crops" in stderr and "--preset" in stderr
    assert "Traceback" not in stderr


def test_exported_program_classifies_like_its_translation(tmp_path, weights, models, photos):
    """What `t7convert --generic` writes (.pt2): its fixed 224x224 input picks fbresnet, and it
    gives the translated module's results."""
    from converter.cli import main as t7convert

    pt2 = tmp_path / "r18.pt2"
    result = CliRunner().invoke(
        t7convert, [str(weights["resnet18"]), str(pt2), "--generic", "--input-shape", "3,224,224"]
    )
    assert result.exit_code == 0, result.output
    with pytest.warns(UnpicklingFormatWarning, match="unpickles"):
        exported = load_pretrained(pt2)
    assert exported.preset.name == "fbresnet" and exported.input_size == 224
    files = [str(p) for p in photos[:3]]
    a = list(classify(exported, files, exported.preset, topk=5))
    b = list(classify(models["resnet18"], files, exported.preset, topk=5))
    for x, y in zip(a, b):
        assert [p.index for p in x.predictions] == [p.index for p in y.predictions]
        assert np.allclose([p.logit for p in x.predictions], [p.logit for p in y.predictions],
                           rtol=TOL, atol=0)  # fmt: skip
    with pytest.raises(UserError, match="takes 224x224 inputs but preset irv2 crops 299x299"):
        exported.check_preset(presets.PRESETS["irv2"])
    (features, layer), (translated, _) = exported.features(), models["resnet18"].features()
    assert "aten.linear" in layer
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        got, want = features(x), translated(x)
    assert got.shape == (2, 512) and torch.allclose(got, want, rtol=TOL, atol=0)
    assert exported.network(x).shape == (2, 1000)  # the copy left the program whole


def test_safetensors_artifact_classifies_as_its_translation(tmp_path, weights, models, photos):
    """What `t7convert --generic` writes by default (.safetensors, rebuilt from data): the
    generic preset, the same logits as the translation of the .t7, bit for bit."""
    from converter.cli import main as t7convert

    artifact = tmp_path / "r18.safetensors"
    result = CliRunner().invoke(t7convert, [str(weights["resnet18"]), str(artifact), "--generic"])
    assert result.exit_code == 0, result.output
    rebuilt = load_pretrained(artifact)
    assert rebuilt.kind == "generic" and rebuilt.preset.name == "fbresnet"
    files = [str(p) for p in photos[:3]]
    a = list(classify(rebuilt, files, rebuilt.preset, topk=5))
    b = list(classify(models["resnet18"], files, rebuilt.preset, topk=5))
    for x, y in zip(a, b):
        assert [(p.index, p.logit) for p in x.predictions] == [
            (p.index, p.logit) for p in y.predictions
        ]


def test_a_file_that_is_no_model_is_one_line(tmp_path, photos):
    junk = tmp_path / "junk.t7"
    junk.write_bytes(b"\x00" * 64)
    code, _, stderr = cli(photos[0], "--weights", junk)
    assert code == 2 and stderr.startswith("error: ") and "Traceback" not in stderr
    code, _, stderr = cli(photos[0], "--weights", tmp_path / "none.pt")
    assert code == 2 and "no such file or directory (--weights)" in stderr


def test_help_answers_without_importing_torch():
    import subprocess
    import sys

    code = "import sys; from evaluate.pretrained import classify_cli, features_cli; "
    code += "print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr


def test_mapped_safetensors_is_named_as_t7converts_weights(tmp_path, weights):
    from converter.cli import main as t7convert

    out = tmp_path / "irv2.safetensors"
    result = CliRunner().invoke(t7convert, [str(weights["irv2_tiny"]), str(out)])
    assert result.exit_code == 0, result.output
    model = load_pretrained(out)
    assert model.kind == "mapped" and model.preset.name == "irv2"
    assert "t7convert's mapped weights" in model.description
