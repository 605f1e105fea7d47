"""irv2-eval and irv2-train as a new user meets them: --channels-last on a CPU, the cost of
--compile said before it is paid, training progress on a terminal, and a class-count mismatch
said plainly. (irv2-eval's --channels-last on a CPU: test_eval_cli.py's fast-preprocessing test.)
"""

from __future__ import annotations

import os
import pty
import re
import subprocess

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from test_train_loop import ENV, augment, cli, common, dataset, weights  # noqa: F401 - fixtures

from converter.errors import UserError
from evaluate.logs.parse import ParseStats, parse_lines
from evaluate.train.log import TrainLog


def _on_a_terminal(command: list[str]) -> tuple[int, str]:
    """Run `command` with its stdout on a pseudo-terminal; (exit status, what it showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, env=ENV, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    print(err[-2000:])
    return proc.returncode, shown.decode()


def test_training_on_a_terminal_with_channels_last_on_cpu(augment, dataset, weights, tmp_path):  # noqa: F811
    """--channels-last is accepted on a CPU (as by irv2-eval); the terminal gets a progress
    line with images/s and the epoch's ETA; train.log stays the Lua lines, nothing added."""
    run = tmp_path / "run"
    command = cli(*common(dataset, weights), "--save", str(run), "--epochs", "1")
    status, shown = _on_a_terminal([*command, "--channels-last"])
    print(shown.replace("\r", "\n")[-1500:])
    assert status == 0
    etas = re.findall(
        r"\| Epoch: \[1\]\[(\d)/4\][^\r\n]*  \| ([\d.]+) images/s, epoch ETA (\d+:\d\d:\d\d)", shown
    )
    print(etas)
    assert [int(i) for i, _, _ in etas] == [1, 2, 3, 4]
    assert all(float(rate) > 0 for _, rate, _ in etas) and etas[-1][2] == "0:00:00"
    log = (run / "train.log").read_text()
    assert "images/s" not in log and "ETA" not in log
    stats = ParseStats()
    kinds = [r.kind for r in parse_lines(log.splitlines(keepends=True), stats=stats)]
    assert kinds.count("train") == 4 and stats.unknown == 0


def test_no_progress_note_off_a_terminal(capsys, tmp_path):
    log = TrainLog(tmp_path, enabled=True, tty=False)
    log.line(" | Epoch: [1][1/4]", progress=True, status="9.0 images/s, epoch ETA 0:00:03")
    log.close()
    assert capsys.readouterr().out == " | Epoch: [1][1/4]\n"
    assert (tmp_path / "train.log").read_text() == " | Epoch: [1][1/4]\n"


def test_compile_says_what_it_costs_before_compiling(tiny_pt, tmp_path, monkeypatch):
    """The note comes before torch.compile is called (here a stand-in that stops the run)."""
    from evaluate.cli import COMPILE_NOTE, main

    root = tmp_path / "val"
    for i in range(1000):
        (root / f"n{i:08d}").mkdir(parents=True)
    pixels = np.zeros((300, 300, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "n00000000" / "a.JPEG")

    def compile_(model):  # noqa: ANN001, ANN202
        raise UserError("compiling now")

    monkeypatch.setattr(torch, "compile", compile_)
    args = ["--data", root, "--weights", tiny_pt, "--device", "cpu", "--compile"]
    result = CliRunner().invoke(main, [*map(str, args), "--workers", "0"])
    print(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and lines == [COMPILE_NOTE, "error: compiling now"]
    assert "minutes" in COMPILE_NOTE and "pays off only on long runs" in COMPILE_NOTE


def test_class_count_mismatch_names_both_counts(tmp_path):
    """A 3-class model on a 1000-folder set: which has how many, and what to do."""
    from evaluate.data.datasets import open_images

    for i in range(1000):
        (tmp_path / f"n{i:08d}").mkdir()
    (tmp_path / "n00000000" / "a.JPEG").write_bytes(b"")
    with pytest.raises(UserError) as caught:
        open_images(tmp_path).check_num_classes(3)
    message = str(caught.value)
    print(message)
    assert "the data has 1000 classes (from class folders) but the model has 3 outputs" in message
    assert "a validation set of the model's 3 classes, or --weights of a model trained on" in (
        message
    )
    assert "full validation set" not in message
