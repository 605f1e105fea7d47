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


# --- the command-line conventions (docs/cli.md), checked on every entry point -------------

COMMANDS = {
    "t7convert": "converter.cli",
    "irv2-eval": "evaluate.cli",
    "irv2-train": "evaluate.train.cli",
    "irv2-logs": "evaluate.logs.cli",
    "irv2-draw": "evaluate.figure.cli",
    "irv2-classify": "evaluate.pretrained.classify_cli",
    "irv2-features": "evaluate.pretrained.features_cli",
}


def _commands() -> dict[str, object]:
    import importlib

    return {name: importlib.import_module(module).main for name, module in COMMANDS.items()}


def _params(command) -> dict[str, object]:  # noqa: ANN001
    """Every option of a command (of each sub-command, for a group), by its name."""
    import click

    found = {p.name: p for p in command.params}
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= {p.name: p for p in sub.params}
    return found


def test_the_conventions_cover_every_installed_command():
    from importlib.metadata import distribution

    scripts = distribution("irv2-torch7").entry_points
    assert {e.name: e.value.split(":")[0] for e in scripts if e.group == "console_scripts"} == (
        COMMANDS
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_answers_h_and_version(name):
    command = _commands()[name]
    for flag in ("-h", "--help"):
        result = CliRunner().invoke(command, [flag])
        assert result.exit_code == 0 and result.output.startswith("Usage: "), flag
    result = CliRunner().invoke(command, ["--version"], prog_name=name)
    assert result.exit_code == 0 and re.fullmatch(rf"{name} \(irv2-torch7\) \S+\n", result.output)


def test_shared_options_have_one_spelling_and_one_default():
    """-q/--quiet wherever a note is printed; --batch-size and --workers with the same
    defaults; --crops 1|10 for every choice of crops; -o/--output for a command's one file."""
    from evaluate.data.options import BATCH_SIZE

    params = {name: _params(command) for name, command in _commands().items()}
    for name, options in params.items():
        if name != "irv2-logs":  # its summary and csv print the result only; plot: below
            assert options["quiet"].opts == ["-q", "--quiet"], name
        if "workers" in options:
            assert options["workers"].default is None, name  # min(8, CPUs), at run time
            assert "min(8, CPUs)" in options["workers"].help, name
        if "batch_size" in options and name != "irv2-train":
            assert options["batch_size"].default == BATCH_SIZE, name
        if "crops" in options:
            assert list(options["crops"].type.choices) == ["1", "10"], name
        if "output" in options and name != "t7convert":  # t7convert SOURCE OUTPUT, as cp
            assert options["output"].opts == ["-o", "--output"], name
    assert params["irv2-logs"]["quiet"].opts == ["-q", "--quiet"]  # plot's "wrote ..."
    # the published recipe: a global batch of 64, 32 per process on the authors' 2 GPUs
    assert params["irv2-train"]["batch_size"].default == 2 * BATCH_SIZE
    assert params["irv2-train"]["ten_crop"].hidden  # the old name of --crops 10 still works
    assert all("batch_size" in params[n] for n in ("irv2-eval", "irv2-classify", "irv2-features"))


@pytest.fixture
def train_options(monkeypatch):
    """What irv2-train hands its session, the session itself replaced by a recorder."""
    from evaluate.train import cli as train_cli

    seen = {}
    monkeypatch.setattr(train_cli, "train", lambda options, given: seen.update(options))
    return seen


def test_reset_classifier_counts_the_class_folders(tmp_path, train_options):
    from evaluate.train.cli import main

    for name in ("cat", "dog", "fox"):
        (tmp_path / "train" / name).mkdir(parents=True)
    args = ["--data", str(tmp_path), "--weights", "w.pt", "--reset-classifier", "--ten-crop"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert train_options["num_classes"] == 3 and train_options["crops"] == "10"


def test_quiet_training_writes_its_log_and_prints_nothing(capsys, tmp_path):
    log = TrainLog(tmp_path, enabled=True, tty=False, quiet=True)
    log.line(" | Epoch: [1][1/4]", progress=True, status="9.0 images/s, epoch ETA 0:00:03")
    log.close()
    assert capsys.readouterr().out == ""
    assert (tmp_path / "train.log").read_text() == " | Epoch: [1][1/4]\n"


def test_amp_on_a_cpu_is_bf16_autocast(tiny_pt, photos, monkeypatch):
    """--amp on a CPU runs (it was refused): autocast is entered with bfloat16."""
    from evaluate.pretrained.classify_cli import main

    entered = []
    real = torch.autocast

    def autocast(device_type, dtype=None, **kwargs):  # noqa: ANN001, ANN003, ANN202
        entered.append((device_type, dtype))
        return real(device_type, dtype=dtype, **kwargs)

    monkeypatch.setattr(torch, "autocast", autocast)
    args = [str(photos[0]), "--weights", str(tiny_pt), "--device", "cpu", "--amp", "--workers", "0"]
    result = CliRunner().invoke(main, args)
    print(result.output)
    assert result.exit_code == 0 and entered == [("cpu", torch.bfloat16)]


def test_the_readme_set_up_conversion_leaves_no_untracked_file():
    """`t7convert tests/data/irv2_tiny.t7 irv2_tiny.safetensors` in a clone: ignored by git."""
    import shutil

    from conftest import REPO

    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", "check-ignore", "-q", "irv2_tiny.safetensors"], cwd=REPO)
    assert done.returncode == 0
