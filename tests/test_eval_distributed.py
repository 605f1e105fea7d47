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
