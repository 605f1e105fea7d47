"""How the commands end when something goes wrong that the user can act on: memory running
out, a torchrun group's shared mistake, --amp on a CPU.

Out of memory is simulated: the work each command starts with is replaced by a stand-in that
fails as PyTorch's allocators do (the CPU's DefaultCPUAllocator, CUDA's OutOfMemoryError), so
no test needs a memory limit.
"""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from converter.errors import CollectiveUserError, UserError, exit_on_user_error

CPU_OOM = (
    "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 9663676416 bytes. Error code 12 (Cannot allocate memory)"
)


def _fail(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
    raise RuntimeError(CPU_OOM)


def _cuda_fail(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.mark.parametrize("failure", [_fail, _cuda_fail])
@pytest.mark.parametrize("command", ["irv2-eval", "irv2-features", "irv2-classify", "irv2-train"])
def test_out_of_memory_names_the_batch_size_and_what_to_lower(
    command, failure, tmp_path, monkeypatch, photos
):
    from evaluate.cli import main as irv2_eval
    from evaluate.data import datasets
    from evaluate.pretrained import features_cli, model
    from evaluate.pretrained.classify_cli import main as irv2_classify
    from evaluate.train import session
    from evaluate.train.cli import main as irv2_train

    args = {
        "irv2-eval": (irv2_eval, ["--data", tmp_path, "--weights", "w.pt"]),
        "irv2-features": (
            features_cli.main,
            ["--data", tmp_path, "--weights", "w.pt", "-o", tmp_path / "f.h5"],
        ),
        "irv2-classify": (irv2_classify, [photos[0], "--weights", "w.pt"]),
        "irv2-train": (irv2_train, ["--data", tmp_path, "--save", tmp_path / "run"]),
    }
    monkeypatch.setattr(datasets, "open_images", failure)
    monkeypatch.setattr(features_cli, "feature_images", failure)
    monkeypatch.setattr(model, "load_pretrained", failure)
    monkeypatch.setattr(session, "_build_model", failure)
    main, argv = args[command]
    result = CliRunner().invoke(main, [*map(str, argv), "--batch-size", "64", "--device", "cpu"])
    lines = result.stderr.strip().splitlines()
    print(result.stderr)
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: out of memory with --batch-size 64")
    assert "lower --batch-size (e.g. --batch-size 32)" in lines[0]


def test_out_of_memory_without_a_batch_is_one_line(bundled, tmp_path, monkeypatch):
    from converter.cli import main
    from converter.irv2 import convert

    monkeypatch.setattr(convert, "convert_checkpoint", _fail)
    result = CliRunner().invoke(main, [str(bundled / "irv2_tiny.t7"), str(tmp_path / "m.pt")])
    print(result.stderr)
    assert result.exit_code == 2 and result.stderr.startswith("error: out of memory; close")
    assert len(result.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_a_bug_is_still_a_traceback():
    """Only what the user can act on becomes one line: any other RuntimeError is not hidden."""

    @exit_on_user_error
    def body() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        body()


@pytest.mark.parametrize("rank, printed", [("0", True), ("1", False)])
def test_under_torchrun_a_shared_mistake_is_printed_by_rank_0_only(
    monkeypatch, capsys, rank, printed
):
    monkeypatch.setenv("RANK", rank)

    @exit_on_user_error
    def body() -> None:
        raise CollectiveUserError("--data x: no train/ folder")

    with pytest.raises(SystemExit) as ended:
        body()
    assert ended.value.code == 2
    assert capsys.readouterr().err == ("error: --data x: no train/ folder\n" if printed else "")


def test_a_ranks_own_mistake_names_its_rank(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "3")

    @exit_on_user_error
    def body() -> None:
        raise UserError("x.jpg: cannot read image")

    with pytest.raises(SystemExit):
        body()
    assert capsys.readouterr().err == "error: rank 3: x.jpg: cannot read image\n"


def test_torchrun_training_says_a_shared_mistake_once(bundled, tmp_path):
    """Two processes meet the same missing train/ folder: one line, from rank 0."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "evaluate.train.cli", "--data", str(tmp_path), "--weights",
        str(bundled / "irv2_tiny.t7"), "--save", str(tmp_path / "run"), "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    print(done.stderr[-3000:])
    errors = [line for line in done.stderr.splitlines() if "error: " in line]
    assert done.returncode != 0 and len(errors) == 1, errors
    assert errors[0].endswith(
        f"error: {tmp_path}: no train/ folder; --data must hold train/ and val/ class folders"
    )
