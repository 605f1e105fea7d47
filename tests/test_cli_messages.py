"""What the commands say, in one style: `error: ...` naming the real problem and the command
the user ran, warnings as one line (none under -q), Lua's words in --inspect, a closed pipe
ended quietly, --topk beyond the classes refused."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from converter.command import command, quiet_option
from converter.errors import PIPE_CLOSED_STATUS

REPO = Path(__file__).resolve().parent.parent


def _one_line(result) -> str:  # noqa: ANN001
    lines = result.stderr.strip().splitlines()
    print(result.output)
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("name", ["irv2-classify", "t7convert"])
def test_an_image_given_as_the_model_is_called_an_image(photos, tmp_path, name):
    from converter.cli import main as t7convert
    from evaluate.pretrained.classify_cli import main as irv2_classify

    jpeg = str(photos[0])
    main, args = {
        "irv2-classify": (irv2_classify, [jpeg, "--weights", jpeg]),
        "t7convert": (t7convert, [jpeg, str(tmp_path / "m.pt")]),
    }[name]
    line = _one_line(CliRunner().invoke(main, args, prog_name=name))
    assert "this is a JPEG image, not a model" in line and f"give {name} a model here" in line
    assert list(tmp_path.iterdir()) == []


def test_inspect_speaks_lua(fixtures):
    from converter.cli import main

    result = CliRunner().invoke(main, ["--inspect", str(fixtures / "zoo" / "misc_types.t7")])
    print(result.output)
    assert result.exit_code == 0
    assert "  boolean_true: true\n  boolean_false: false\n" in result.output
    assert "  number: 3.25\n" in result.output and "True" not in result.output


def test_directory_and_file_mistakes_name_the_real_problem(bundled, tmp_path):
    from converter.cli import main as t7convert
    from evaluate.logs.cli import main as irv2_logs

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "train.log").write_text("")
    line = _one_line(CliRunner().invoke(irv2_logs, ["summary", str(tmp_path / "run")]))
    assert line.endswith(
        "a directory, not a log file; give the log file itself (it holds train.log)"
    )
    tiny = str(bundled / "irv2_tiny.t7")
    line = _one_line(CliRunner().invoke(t7convert, [tiny, f"{tmp_path}/ds/"]))
    assert line == f"error: {tmp_path}/ds/: names a folder; OUTPUT is a file: give its name, " + (
        f"e.g. {tmp_path}/ds/model.safetensors"
    )
    line = _one_line(CliRunner().invoke(t7convert, [tiny, f"{tiny}/x.pt"]))
    assert line.endswith(f"{tiny} is a file, not a folder; choose another output")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@command()
@quiet_option()
def _warns(quiet: bool) -> None:
    warnings.warn("x.pt2: loading it unpickles", UserWarning, stacklevel=1)
    click.echo("done")


@pytest.mark.parametrize("quiet", [False, True])
def test_a_warning_is_one_line_and_quiet_silences_it(quiet):
    result = CliRunner().invoke(_warns, ["-q"] if quiet else [])
    assert result.exit_code == 0 and result.stdout == "done\n"
    assert result.stderr == ("" if quiet else "warning: x.pt2: loading it unpickles\n")


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`irv2-logs csv LOG | head -1`: no traceback, no error line, status 141 (SIGPIPE's)."""
    line = " | Epoch: [1][{}/9000]    Time 0.2  Data 0.0  Err 6.9078  top1  99.900  top5  99.500\n"
    log = tmp_path / "train.log"
    log.write_text("".join(line.format(i) for i in range(1, 9001)))  # far beyond a pipe's 64 kB
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "evaluate.logs.cli", "csv", str(log)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout.readline().startswith(b"kind,epoch")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == PIPE_CLOSED_STATUS and err == "", err


def test_topk_beyond_the_classes_is_one_line(tiny_pt, photos, tmp_path):
    from evaluate.pretrained.classify_cli import main

    out = tmp_path / "p.json"
    args = [str(photos[0]), "--weights", str(tiny_pt), "--topk", "5000", "--json", str(out)]
    line = _one_line(CliRunner().invoke(main, [*args, "--workers", "0", "-q"]))
    assert line == "error: --topk 5000: the model has 1000 classes; give --topk 1000 or less"
    assert not out.exists()
