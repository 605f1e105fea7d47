"""irv2-logs plot and csv as a new user meets them: every run given is visible in the written
figure, logs with loss only plot their loss, every matplotlib format, plain log-axis labels, one
naming rule, and no output overwritten without --force.

Visibility is read back from the written SVG: each curve carries the gid `run<k>-...`, and a
curve is drawn when its group holds a path with a segment (`L`) or a marker (`<use>`).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from evaluate.logs import format as fmt
from evaluate.logs.cli import main
from evaluate.logs.runs import Run

matplotlib = pytest.importorskip("matplotlib")
_SVG = "{http://www.w3.org/2000/svg}"
_HREF = "{http://www.w3.org/1999/xlink}href"


def _log(path, epochs: int, iters: int = 4, finished: bool = True) -> str:
    """An irv2-train log: `epochs` epochs of `iters` train lines, each with its Finished line
    unless `finished` is False (the run is still in its last epoch)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for e in range(1, epochs + 1):
        lines.append(fmt.format_epoch_header(e))
        lines += [
            fmt.format_train_line(e, n, iters, 0.5, 0.01, 4.0 - e - n / 10, 70.0 - e, 40.0 - e)
            for n in range(1, iters + 1)
        ]
        if finished or e < epochs:
            lines.append(fmt.format_finished_line(e, 60.0 - 5 * e, 30.0 - e))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _points(svg_path) -> dict[str, int]:
    """gid -> how many points of that curve are drawn in the written SVG: the vertices of its
    line segments, or its markers; 0 is an invisible curve."""
    root = ET.parse(svg_path).getroot()
    seen = {}
    for g in root.iter(f"{_SVG}g"):
        gid = g.get("id", "")
        if gid.startswith("run"):
            parts = list(g.iter())
            segments = sum(
                p.get("d", "").split().count("L") for p in parts if p.tag == f"{_SVG}path"
            )
            markers = sum(1 for p in parts if p.tag == f"{_SVG}use" and p.get(_HREF))
            seen[gid] = segments + 1 if segments else markers
    return seen


def _drawn(svg_path) -> dict[str, bool]:
    """gid -> whether that curve is visible (a segment or a marker) in the written SVG."""
    return {gid: n > 0 for gid, n in _points(svg_path).items()}


def _plot(*args) -> None:
    r = CliRunner().invoke(main, ["plot", *map(str, args)])
    assert r.exit_code == 0, r.output


def test_one_epoch_runs_are_drawn(tmp_path):
    """A first trial run (one epoch) alone, and overlaid with a two-epoch run with --loss: each
    run's error and loss curves are in the file, as lines or markers."""
    one = _log(tmp_path / "one" / "train.log", epochs=1)
    two = _log(tmp_path / "two" / "train.log", epochs=2)
    alone = tmp_path / "alone.svg"
    _plot(one, "-o", alone)
    drawn = _drawn(alone)
    print(drawn)
    assert set(drawn) == {f"run0-{s}-{m}" for s in ("train", "val") for m in ("top1", "top5")}
    assert all(drawn.values())
    both = tmp_path / "both.svg"
    _plot(one, two, "--loss", "-o", both)
    drawn = _drawn(both)
    print(drawn)
    for k in (0, 1):
        assert drawn[f"run{k}-loss"] and drawn[f"run{k}-val-top1"] and drawn[f"run{k}-train-top1"]
    assert all(drawn.values())


def test_an_epoch_in_progress_is_drawn_per_iteration(tmp_path):
    """No per-epoch summary yet: the train curve is the epoch's iterations, not one point."""
    log = _log(tmp_path / "train.log", epochs=1, iters=20, finished=False)
    fig_svg = tmp_path / "p.svg"
    _plot(log, "--loss", "-o", fig_svg)
    points = _points(fig_svg)
    print(points)
    # ten sub-epoch points per curve (two iterations each), not one mean
    assert points == {"run0-train-top1": 10, "run0-train-top5": 10, "run0-loss": 10}


def test_a_log_with_loss_only_plots_its_loss(realworld, tmp_path):
    """srresnet's log has loss columns only (no top-1/top-5); with or without --loss its loss
    is drawn, over the epochs it covers (61-63, not squeezed against epoch 0)."""
    log = realworld / "logs" / "srresnet_resume_epoch61_head1900lines.txt"
    for extra in ([], ["--loss"]):
        out = tmp_path / f"sr{len(extra)}.svg"
        _plot(log, *extra, "-o", out)
        assert _drawn(out) == {"run0-loss": True}
    from evaluate.logs.plot import runs_figure

    fig = runs_figure([Run.from_files([log])])
    (ax,) = fig.axes
    print("x range", ax.get_xlim())
    assert ax.get_yscale() == "log" and 59.5 < ax.get_xlim()[0] <= 60.5


def test_every_matplotlib_format_and_the_list_when_unknown(tmp_path):
    from evaluate.logs.plot import plot_formats

    log = _log(tmp_path / "train.log", epochs=2)
    pdf = tmp_path / "curves.pdf"
    _plot(log, "-o", pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    r = CliRunner().invoke(main, ["plot", log, "-o", str(tmp_path / "curves.xyz")])
    print(r.output)
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "'.xyz'" in r.output
    assert all(f".{k}" in r.output for k in plot_formats())
    assert {"pdf", "png", "svg", "eps"} <= set(plot_formats())
    assert not list(tmp_path.glob("curves.xyz*")) and not list(tmp_path.glob(".*"))


def test_log_scale_loss_labels_are_plain_numbers(tmp_path):
    """A loss between 3 and 7 spans less than a decade: matplotlib then labels minor ticks
    (`6x10^0` by default); every label must read as a plain number."""
    from evaluate.logs.plot import runs_figure

    log = _log(tmp_path / "train.log", epochs=3)
    fig = runs_figure([Run.from_files([tmp_path / "train.log"])], loss_panel=True)
    fig.draw_without_rendering()
    ax_loss = fig.axes[1]
    labels = [t.get_text() for t in ax_loss.yaxis.get_ticklabels(which="both") if t.get_text()]
    print(log, labels)
    assert len(labels) >= 2
    for text in labels:
        float(text)  # "6", "0.5": no "$\\mathdefault{6\\times10^{0}}$"


def test_csv_summary_and_plot_name_runs_alike(tmp_path, monkeypatch):
    """One naming rule: a run split in parts and runs sharing a file name get the same names in
    summary, the csv run column and the plot legend."""
    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")
    monkeypatch.chdir(tmp_path)
    a = _log(tmp_path / "irv2" / "train.log", epochs=2)
    part1 = _log(tmp_path / "ft" / "train.log.1", epochs=1)
    part2 = _log(tmp_path / "ft" / "train.log.2", epochs=2)
    args = ["irv2/train.log", "ft/train.log.1", "ft/train.log.2"]
    print(a, part1, part2)
    r = CliRunner().invoke(main, ["summary", "--json", *args])
    assert r.exit_code == 0, r.output
    names = [s["name"] for s in json.loads(r.output)]
    assert names == ["irv2/train.log", "ft/train.log"]
    r = CliRunner().invoke(main, ["csv", *args])
    assert r.exit_code == 0, r.output
    rows = csv.DictReader(io.StringIO(r.output))
    assert list(dict.fromkeys(row["run"] for row in rows)) == names
    _plot(*args, "-o", tmp_path / "x.svg")
    text = (tmp_path / "x.svg").read_text()
    assert all(f"{name}: best" in text for name in names)


@pytest.mark.parametrize("command, name", [("plot", "x.svg"), ("csv", "x.csv")])
def test_an_existing_output_is_refused_without_force(tmp_path, command, name):
    log = _log(tmp_path / "train.log", epochs=2)
    out = tmp_path / name
    out.write_text("my own file")
    r = CliRunner().invoke(main, [command, log, "-o", str(out)])
    print(r.output)
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert str(out) in r.output and "--force" in r.output
    assert out.read_text() == "my own file"
    r = CliRunner().invoke(main, [command, log, "-o", str(out), "--force"])
    assert r.exit_code == 0, r.output
    assert out.read_text() != "my own file"
