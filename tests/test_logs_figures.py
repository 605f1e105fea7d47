"""The figures irv2-logs plot draws, looked at as a reader would: a run with nothing to draw is
named and left out while the others are drawn, the error axis spans the data (not always
0-100), a single run carries its name as title, and the legend of several runs covers no curve.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from evaluate.logs import format as fmt
from evaluate.logs.cli import main
from evaluate.logs.runs import Run

matplotlib = pytest.importorskip("matplotlib")


def log(path, top1: float, epochs: int = 3) -> str:
    """Epochs of four train lines and a Finished line; errors at most `top1`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for e in range(1, epochs + 1):
        lines.append(fmt.format_epoch_header(e))
        lines += [
            fmt.format_train_line(e, n, 4, 0.5, 0.01, 2.0 / e, top1 - e, top1 / 2)
            for n in (1, 2, 3, 4)
        ]
        lines.append(fmt.format_finished_line(e, top1 - 5 * e, 10.0))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def best_lines_only(path) -> str:
    path.write_text(
        fmt.format_best_line(12.5, 3.25) + "\n" + fmt.format_best_line(11.0, 3.0) + "\n"
    )
    return str(path)


def test_a_run_with_nothing_to_draw_is_named_and_the_others_drawn(tmp_path):
    runs = [
        log(tmp_path / "a.log", 55.0),
        best_lines_only(tmp_path / "best.log"),
        log(tmp_path / "c.log", 40.0),
    ]
    out = tmp_path / "curves.svg"
    r = CliRunner().invoke(main, ["plot", *runs, "-o", str(out)])
    print(r.stderr)
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("note: best.log: nothing to plot") and "drawn without it" in r.stderr
    svg = out.read_text()
    assert 'id="run0-val-top1"' in svg and 'id="run1-val-top1"' in svg and 'id="run2' not in svg


def test_the_error_axis_spans_the_data(tmp_path):
    from evaluate.logs.plot import runs_figure

    low = Run.from_files([log(tmp_path / "low.log", 55.0)])  # errors 0-54
    high = Run.from_files([log(tmp_path / "high.log", 99.0)])
    small = Run.from_files([log(tmp_path / "small.log", 16.0)])  # errors 0-15
    tops = [runs_figure([r]).axes[0].get_ylim() for r in (low, high, small)]
    print(tops)
    assert tops == [(0.0, 60.0), (0.0, 100.0), (0.0, 20.0)]


def test_a_single_run_is_titled_with_its_name_unless_given_one(tmp_path):
    from evaluate.logs.plot import runs_figure

    run = Run.from_files([log(tmp_path / "irv2" / "train.log", 50.0)])
    assert runs_figure([run]).axes[0].get_title() == "train.log"
    assert runs_figure([run], title="mine").axes[0].get_title() == "mine"


def test_the_legend_of_several_runs_covers_no_axes(tmp_path):
    from evaluate.logs.plot import runs_figure

    runs = [Run.from_files([log(tmp_path / f"{k}.log", 50.0 - k)]) for k in range(4)]
    fig = runs_figure(runs, loss_panel=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:
        print(box, ax.get_window_extent(renderer))
        assert not box.overlaps(ax.get_window_extent(renderer))
    assert not any(ax.get_legend() for ax in fig.axes)  # nothing left inside an axes
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:4] == [f"{k}.log: best {35.0 - k:.2f} / 10.00 @ 3" for k in range(4)]
