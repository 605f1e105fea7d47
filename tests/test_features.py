"""irv2-features against what real Lua Torch7's extract-features.lua computed (the ResNet-18
fixture at 256/224, the tiny IRv2 at 328/299, 7 photos: pretrained/features_ref.t7), and the
file it writes: order, labels, settings, batching, ten-crop, torchrun, bad images, overwrites.

Features within 1e-5 x max|ref| (the port's float32 convolutions are not THNN's bit for bit).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torchfile
from click.testing import CliRunner

from evaluate.pretrained.features_cli import main

REPO = Path(__file__).resolve().parent.parent
TOL = 1e-5


@pytest.fixture(scope="session")
def features_ref(fixtures) -> dict:
    return torchfile.load(
        str(fixtures / "pretrained" / "features_ref.t7"), use_list_heuristic=False
    )


@pytest.fixture(scope="session")
def weights(resnet18_t7, bundled) -> dict[str, Path]:
    return {"resnet18": resnet18_t7, "irv2_tiny": bundled / "irv2_tiny.t7"}


def cli(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def read(path: Path) -> dict:
    with h5py.File(path) as f:
        out = {key: f[key][()] for key in f}
        out["attrs"] = dict(f.attrs)
    return out


def relative_error(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(got - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("model, dim", [("resnet18", 512), ("irv2_tiny", 256)])
def test_features_match_extract_features_lua(tmp_path, fixtures, features_ref, weights, model, dim):
    """The 7 photos in batches of 3 (3+3+1, as the reference's small batches): every row
    equals Torch7's features within 1e-5 x max|ref|, in the image list's order."""
    out = tmp_path / "f.h5"
    code, _, stderr = cli(
        "--data", fixtures / "images", "--weights", weights[model], "-o", out,
        "--batch-size", 3, "--workers", 1,
    )  # fmt: skip
    assert code == 0, stderr
    assert "images/s" in stderr
    got = read(out)
    ref = features_ref[b"batch"][model.encode()]
    order = [features_ref[b"order"][i + 1].decode() for i in range(7)]
    assert [Path(p.decode()).name for p in got["paths"]] == order
    assert got["features"].shape == (7, dim) and got["features"].dtype == np.float32
    err = relative_error(got["features"], ref[b"features"])
    singles = np.stack([features_ref[name.encode()][model.encode()] for name in order])
    err_single = relative_error(got["features"], singles)
    print(f"{model}: features vs Torch7 batch {err:.2e}, vs one image at a time {err_single:.2e}")
    assert max(err, err_single) <= TOL
    attrs = got["attrs"]
    preset = {"resnet18": ("fbresnet", 256, 224), "irv2_tiny": ("irv2", 328, 299)}[model]
    assert (attrs["preset"], attrs["scale_size"], attrs["crop_size"]) == preset
    assert attrs["crops"] == 1 and attrs["mode"] == "torch7" and attrs["n_images"] == 7
    layer = {"resnet18": "last nn.Linear (Torch7 path 11)", "irv2_tiny": "before dropout and fc"}
    assert layer[model] in attrs["layer"]
    assert "labels" not in got and "classes" not in got  # a flat folder has no labels


def test_batched_equals_one_at_a_time(tmp_path, photos, weights):
    files = [str(p) for p in photos]
    rows = {}
    for size in (1, 7):
        out = tmp_path / f"b{size}.h5"
        code, _, stderr = cli(
            *files, "--weights", weights["irv2_tiny"], "-o", out, "--batch-size", size,
            "--workers", 0, "-q",
        )  # fmt: skip
        assert code == 0, stderr
        rows[size] = read(out)["features"]
    err = relative_error(rows[7], rows[1])
    print(f"one batch of 7 vs one at a time: {err:.2e} x max|features|")
    assert err <= TOL


def test_class_folders_give_labels_and_classes(tmp_path, photos, tiny_pt, monkeypatch):
    """Labels/classes from class folders; paths exactly as given (a relative --data stays
    relative); FILES keep the spelling given."""
    for k, photo in enumerate(photos[:5]):
        folder = tmp_path / "data" / ("cat", "dog", "emu")[k % 3]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, folder / photo.name)
    (tmp_path / "data" / "dog" / "notes.txt").write_text("not an image")
    monkeypatch.chdir(tmp_path)
    code, _, stderr = cli("--data", "data", "--weights", tiny_pt, "-o", "f.h5", "--workers", 0)
    assert code == 0, stderr
    got = read(tmp_path / "f.h5")
    assert [c.decode() for c in got["classes"]] == ["cat", "dog", "emu"]
    paths = [p.decode() for p in got["paths"]]
    assert paths[0] == f"data/cat/{photos[0].name}" and len(paths) == 5
    assert got["labels"].tolist() == [0, 0, 1, 1, 2]
    assert got["attrs"]["label_source"] == "class folders"

    shutil.copy(photos[0], tmp_path / "x.JPEG")
    code, _, stderr = cli("./x.JPEG", "data//cat/" + photos[0].name, "--weights", tiny_pt,
                          "-o", "g.h5", "--workers", 0)  # fmt: skip
    assert code == 0, stderr
    got = read(tmp_path / "g.h5")
    assert [p.decode() for p in got["paths"]] == ["./x.JPEG", "data//cat/" + photos[0].name]
    assert np.array_equal(got["features"][0], got["features"][1])


def test_ten_crops_are_averaged(tmp_path, photos, bundled):
    from evaluate.data.preprocess import load_val_tensor
    from evaluate.pretrained.model import load_pretrained

    out = tmp_path / "f.h5"
    code, _, stderr = cli(
        *photos[:2], "--weights", bundled / "irv2_tiny.t7", "-o", out, "--crops", 10,
        "--batch-size", 2, "--workers", 0,
    )  # fmt: skip
    assert code == 0, stderr
    got = read(out)
    assert got["attrs"]["crops"] == 10 and got["attrs"]["crop_reduction"] == "mean"
    module, _ = load_pretrained(bundled / "irv2_tiny.t7").features()
    with torch.inference_mode():
        ref = np.stack([module(load_val_tensor(p, crops=10)).mean(0).numpy() for p in photos[:2]])
    err = relative_error(got["features"], ref)
    print(f"10-crop mean vs per-crop features averaged by hand: {err:.2e}")
    assert err <= TOL


def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, photos, tiny_pt):
    broken = tmp_path / "broken.JPEG"
    broken.write_bytes(photos[0].read_bytes()[:2000])
    out = tmp_path / "f.h5"
    code, _, stderr = cli(photos[0], broken, "--weights", tiny_pt, "-o", out, "--workers", 0)
    assert code == 2 and f"error: cannot read image {broken}" in stderr
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == [broken]  # no output, no temp file

    out.write_bytes(b"keep")
    code, _, stderr = cli(photos[0], "--weights", tiny_pt, "-o", out)
    assert code == 2 and "already exists; pass --force" in stderr and out.read_bytes() == b"keep"
    code, _, stderr = cli(photos[0], "--weights", tiny_pt, "-o", out, "--force", "--workers", 0)
    assert code == 0 and read(out)["features"].shape == (1, 256)
    code, _, stderr = cli(photos[0], "--data", tmp_path, "--weights", tiny_pt, "-o", out, "--force")
    assert code == 2 and "either as FILES or as --data" in stderr


def torchrun(*args: object) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               "2", "-m", "evaluate.pretrained.features_cli", *map(str, args)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=180)


def test_torchrun_writes_the_single_process_file(tmp_path, photos, tiny_pt):
    """2 gloo processes: rank 0 writes every rank's rows in the original order; the file equals
    a single process's (batches of one on both sides, so each row is the same computation)."""
    common = ["--weights", tiny_pt, "--batch-size", 1, "--workers", 0, "-q"]
    single, double = tmp_path / "one.h5", tmp_path / "two.h5"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "evaluate.pretrained.features_cli", *map(str, photos)]
    proc = subprocess.run([*command, *map(str, common), "-o", str(single)], env=env,
                          capture_output=True, text=True, cwd=REPO, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = torchrun(*photos, *common, "-o", double)
    print(proc.stderr[-2000:])
    assert proc.returncode == 0
    one, two = read(single), read(double)
    assert (one["attrs"].pop("world_size"), two["attrs"].pop("world_size")) == (1, 2)
    one["attrs"].pop("settings_json"), two["attrs"].pop("settings_json")
    assert one["attrs"] == two["attrs"]
    assert list(one["paths"]) == list(two["paths"]) == [str(p).encode() for p in photos]
    assert np.array_equal(one["features"], two["features"])

    broken = tmp_path / "zz_broken.JPEG"  # the last image: rank 1's shard
    broken.write_bytes(photos[0].read_bytes()[:2000])
    out = tmp_path / "bad.h5"
    proc = torchrun(*photos, broken, *common, "-o", out)
    assert proc.returncode != 0 and not out.exists()
    assert proc.stderr.count(f"cannot read image {broken}") == 1, proc.stderr[-2000:]
