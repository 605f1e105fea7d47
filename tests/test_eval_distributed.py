"""irv2-eval under torchrun (2 CPU processes, gloo) gives the single-process summary exactly.

Each run is a real `python -m torch.distributed.run` subprocess, about 5 s each on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from evaltree import class_tree, run, synset

REPO = Path(__file__).resolve().parent.parent
LABELS = [3, 141, 141, 599, 998]  # any placement will do: the two runs must agree


def torchrun(*args: object) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "evaluate.cli",
        *map(str, args),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


@pytest.fixture
def small_set(tmp_path, photos) -> Path:
    """6 photos and one unreadable file, in class folders (1000 classes)."""
    data = class_tree(tmp_path / "val", photos[:5], LABELS)
    shutil.copy(photos[5], data / synset(0) / "extra.JPEG")
    (data / synset(0) / "broken.JPEG").write_bytes(photos[0].read_bytes()[:2000])
    return data


def test_two_processes_give_the_single_process_summary(tmp_path, tiny_pt, small_set):
    common = [
        "--data",
        small_set,
        "--weights",
        tiny_pt,
        "--batch-size",
        2,
        "--workers",
        0,
        "--skip-bad",
        "--lua-batch-mean",
        "-q",
    ]
    single, double = tmp_path / "single.json", tmp_path / "double.json"
    code, _, stderr = run(*common, "--output", single)
    assert code == 0, stderr
    proc = torchrun(*common, "--output", double)
    print(proc.stdout, proc.stderr[-2000:])
    assert proc.returncode == 0
    one, two = json.loads(single.read_text()), json.loads(double.read_text())
    assert (one.pop("run")["world_size"], two.pop("run")["world_size"]) == (1, 2)
    assert one == two
    assert one["n_images"] == 6 and [s["path"] for s in one["skipped"]] == [
        f"{synset(0)}/broken.JPEG"
    ]
    assert proc.stdout.count("\ntop-5 error") == 1  # rank 0 alone reports


def test_a_bad_image_on_another_rank_stops_every_rank_with_one_message(
    tmp_path,
    tiny_pt,
    photos,
):
    data = class_tree(tmp_path / "val", photos[:3], LABELS[:3])
    bad = data / synset(999) / "zz_empty.JPEG"  # the last image: in rank 1's shard
    bad.write_bytes(b"")
    proc = torchrun("--data", data, "--weights", tiny_pt, "--workers", 0, "-q")
    print(proc.stderr[-3000:])
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert ours == [line for line in ours if f"rank 1: cannot read image {bad}" in line]
    assert len(ours) == 1


def _scores(path: Path):
    import h5py

    with h5py.File(path) as f:
        return [p.decode() for p in f["paths"][()]], f["top5_classes"][()], f["top5_scores"][()]


def test_two_processes_give_a_one_thread_single_process_scores_bit_for_bit(
    tmp_path, tiny_pt, photos
):
    """--predictions under torchrun: each rank evaluates whole single-process batches, so with
    the thread count torchrun gives each process (OMP_NUM_THREADS=1) the scores are the single
    process's bit for bit; at another thread count they differ by float32 rounding (printed)."""
    data = class_tree(tmp_path / "val", photos, [3, 141, 141, 599, 998, 5, 7])
    common = ["--data", data, "--weights", tiny_pt, "--batch-size", 2, "--workers", 0, "-q"]
    proc = torchrun(*common, "--predictions", tmp_path / "double.h5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    double = _scores(tmp_path / "double.h5")
    for threads in ("1", "2"):
        out = tmp_path / f"single{threads}.h5"
        single = subprocess.run(
            [sys.executable, "-m", "evaluate.cli", *map(str, common), "--predictions", str(out)],
            env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": threads},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert single.returncode == 0, single.stderr[-2000:]
        paths, classes, scores = _scores(out)
        assert paths == double[0] and (classes == double[1]).all()
        diff = abs(scores - double[2]).max()
        worst = diff / abs(scores).max()
        print(
            f"single process, {threads} thread(s): max |Δ score| {diff:.1e}, "
            f"relative to max |score| {worst:.1e}"
        )
        if threads == "1":
            assert (scores == double[2]).all()
        else:
            assert worst < 1e-5
