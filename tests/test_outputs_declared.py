"""Every command's outputs are checked before any work (converter/outputs/declared.py): the
suffix is the format, a folder that cannot take the file is refused at once, and an error
names the user's path, never the temporary file.

Each command is given inputs that do not exist: had it started work, the error would be about
them; the output's error comes first. A read-only folder is simulated (the tests may run as
root, whom permission bits do not stop) by a `tempfile.mkstemp` that fails there as a read-only
mount does.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from converter.cli import main as t7convert
from converter.errors import UserError
from converter.outputs.atomic import atomic_path
from evaluate.cli import main as irv2_eval
from evaluate.figure.cli import main as irv2_draw
from evaluate.logs.cli import main as irv2_logs
from evaluate.pretrained.classify_cli import main as irv2_classify
from evaluate.pretrained.features_cli import main as irv2_features
from evaluate.train.cli import main as irv2_train

# command, its arguments (OUT: the output's path, IN: a missing input), what the output is
COMMANDS = {
    "t7convert": (t7convert, ["IN/m.t7", "OUT.safetensors"]),
    "t7convert --generic": (t7convert, ["IN/m.t7", "OUT.safetensors", "--generic"]),
    "irv2-eval --output": (
        irv2_eval,
        ["--data", "IN", "--weights", "IN.pt", "--output", "OUT.json"],
    ),
    "irv2-eval --predictions": (
        irv2_eval,
        ["--data", "IN", "--weights", "IN.pt", "--predictions", "OUT.h5"],
    ),
    "irv2-classify --json": (irv2_classify, ["IN.jpg", "--weights", "IN.pt", "--json", "OUT.json"]),
    "irv2-classify --csv": (irv2_classify, ["IN.jpg", "--weights", "IN.pt", "--csv", "OUT.csv"]),
    "irv2-features": (irv2_features, ["--data", "IN", "--weights", "IN.pt", "-o", "OUT.h5"]),
    "irv2-logs csv": (irv2_logs, ["csv", "IN.log", "-o", "OUT.csv"]),
    "irv2-logs plot": (irv2_logs, ["plot", "IN.log", "-o", "OUT.png"]),
    "irv2-draw": (irv2_draw, ["-o", "OUT.svg"]),
    "irv2-train --save": (irv2_train, ["--data", "IN", "--save", "OUT", "--device", "cpu"]),
}

# what each output cannot be: a suffix it does not write (the cases among them)
WRONG_SUFFIX = {
    "t7convert": (t7convert, ["IN/m.t7", "OUT.bin", "--format", "pt"]),
    "t7convert --generic": (t7convert, ["IN/m.t7", "OUT.pt", "--generic"]),
    "irv2-eval --output": (irv2_eval, ["--data", "IN", "--weights", "IN.pt", "--output", "OUT.h5"]),
    "irv2-eval --predictions": (
        irv2_eval,
        ["--data", "IN", "--weights", "IN.pt", "--predictions", "OUT.json"],
    ),
    "irv2-classify --json": (irv2_classify, ["IN.jpg", "--weights", "IN.pt", "--json", "OUT.csv"]),
    "irv2-classify --csv": (irv2_classify, ["IN.jpg", "--weights", "IN.pt", "--csv", "OUT.json"]),
    "irv2-features": (irv2_features, ["--data", "IN", "--weights", "IN.pt", "-o", "OUT.npy"]),
    "irv2-logs csv": (irv2_logs, ["csv", "IN.log", "-o", "OUT.tsv"]),
    "irv2-logs plot": (irv2_logs, ["plot", "IN.log", "-o", "OUT.xyz"]),
    "irv2-draw": (irv2_draw, ["-o", "OUT.jpg"]),
}


def _invoke(command, args: list[str], inputs: Path, out: Path):  # noqa: ANN001, ANN202
    args = [a.replace("IN", str(inputs)).replace("OUT", str(out)) for a in args]
    result = CliRunner().invoke(command, args)
    print(result.output)
    return result


@pytest.fixture
def read_only(tmp_path, monkeypatch) -> Path:
    """A folder where creating a file fails with EPERM, as on the issue's read-only mount."""
    folder = tmp_path / "ro"
    folder.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202, A002
        if dir is not None and Path(dir) == folder:
            raise PermissionError(errno.EPERM, "Operation not permitted", f"{dir}/.x.tmp")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return folder


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unwritable_folder_is_refused_before_any_work(name, read_only, tmp_path):
    command, args = COMMANDS[name]
    result = _invoke(command, args, tmp_path / "missing", read_only / "out")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and result.stdout == ""
    assert lines[0].startswith(f"error: {read_only / 'out'}") and ".tmp" not in lines[0]
    assert "cannot write in" in lines[0] and "Operation not permitted" in lines[0]
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("name", WRONG_SUFFIX)
def test_a_suffix_the_command_cannot_write_is_refused_before_any_work(name, tmp_path):
    command, args = WRONG_SUFFIX[name]
    result = _invoke(command, args, tmp_path / "missing", tmp_path / "out")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and result.stdout == ""
    assert " writes ." in lines[0] and "missing" not in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_names_the_users_path_not_the_temporary(tmp_path):
    out = tmp_path / "ev.json"
    with pytest.raises(UserError) as caught, atomic_path(out, force=False) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    print(caught.value)
    assert str(caught.value) == f"{out}: cannot write it (No space left on device)"
    assert list(tmp_path.iterdir()) == []
