"""Ctrl-C: irv2-eval and irv2-train, interrupted by a real SIGINT sent to the child process,
exit with status 130 (the shell's convention) and one line; training's last line names the
checkpoint to go on from with --resume, or says that none was written yet.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_train_loop import ENV, augment, cli, common, dataset, weights  # noqa: F401 - fixtures

from converter.errors import INTERRUPTED_STATUS


def _interrupt(command: list[str], ready: str, watch: str = "stdout") -> tuple[int, str]:
    """Start `command`, send SIGINT once `ready` appears on its `watch` stream, and return
    (exit status, stderr)."""
    proc = subprocess.Popen(
        command,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # as a shell starts a foreground job: a test run in the background (where SIGINT is
        # ignored, and so in its children) must not make the child deaf to it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    stream = getattr(proc, watch)
    os.set_blocking(stream.fileno(), False)
    seen = b""
    deadline = time.time() + 240
    try:
        while ready.encode() not in seen and time.time() < deadline:
            assert proc.poll() is None, f"ended before the interrupt: {seen.decode()[-2000:]}"
            seen += stream.read() or b""
            time.sleep(0.05)
        time.sleep(0.3)  # into the work that follows the line
        assert proc.poll() is None, "ended before the interrupt"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if watch == "stderr":
        err = seen + err
    err = err.decode()
    print(f"status {proc.returncode}\nstderr: {err[-800:]}")
    assert "Traceback" not in err and "Aborted" not in err
    return proc.returncode, err


@pytest.fixture(scope="module")
def thousand_images(tmp_path_factory) -> Path:
    """1000 class folders, one image each (links to one noise JPEG): an evaluation of the
    1000-class tiny model that lasts long enough to be interrupted."""
    root = tmp_path_factory.mktemp("val")
    pixels = np.random.default_rng(0).integers(0, 256, (320, 320, 3), dtype=np.uint8)
    source = root / "image.JPEG"
    Image.fromarray(pixels).save(source, quality=90)
    for i in range(1000):
        (root / "val" / f"n{i:08d}").mkdir(parents=True)
        os.symlink(source, root / "val" / f"n{i:08d}" / "img.JPEG")
    return root / "val"


def test_eval_exits_130(thousand_images, tiny_pt, tmp_path):
    out = tmp_path / "r.json"
    command = [sys.executable, "-m", "evaluate.cli", "--data", str(thousand_images)]
    command += ["--weights", str(tiny_pt), "--device", "cpu", "--workers", "0"]
    command += ["--batch-size", "2", "--output", str(out)]
    # said once the model and the images are set up, before the first batch
    status, err = _interrupt(command, "evaluating 1000 images", watch="stderr")
    assert status == INTERRUPTED_STATUS == 130
    assert err.strip().splitlines()[-1].startswith("interrupted; no summary, no file written")
    assert not list(tmp_path.iterdir())


def test_train_before_its_first_checkpoint(augment, dataset, weights, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    command = cli(*common(dataset, weights), "--save", str(run), "--epochs", "50")
    command += ["--batch-size", "1"]  # 8 steps before the first checkpoint
    status, err = _interrupt(command, "=> Training epoch # 1")
    assert status == 130
    last = err.strip().splitlines()[-1]
    assert last == "interrupted; no checkpoint was written yet, so there is nothing to resume"
    assert not (run / "checkpoint.pt").exists()


def test_train_names_the_checkpoint_to_resume_from(augment, dataset, weights, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    command = cli(*common(dataset, weights), "--save", str(run), "--epochs", "50")
    command += ["--save-every", "1"]
    status, err = _interrupt(command, " | Epoch: [1][2/4]")
    assert status == 130
    last = err.strip().splitlines()[-1]
    saved = torch.load(run / "checkpoint.pt", weights_only=True)["meta"]
    where = (
        f"epoch {saved['epoch']}, iteration {saved['batches_done']}"
        if saved["batches_done"]
        else f"the end of epoch {saved['epoch']}"
    )
    assert last == (
        f"interrupted; {run / 'checkpoint.pt'} holds the run up to {where}; "
        f"go on with --resume {run}"
    )


def test_ctrl_c_during_a_deferred_block_takes_effect_when_it_ends():
    """irv2-train writes a checkpoint and notes it in such a block: the Ctrl-C line then
    names the file on disk, never the one before it."""
    from evaluate.runtime.interrupts import interrupt_deferred

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    done = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupt_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler has run by now
                done.append("the block's work")
        assert done == ["the block's work"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with interrupt_deferred():
            done.append("no Ctrl-C: nothing raised")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(done) == 2
