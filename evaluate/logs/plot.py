"""Training curves from parsed runs: the seed's figure for one run, overlays for several.

One run is drawn as the authors drew theirs (the seed's training-curves.png): train error in red,
validation error in blue, top-1 solid, top-5 dashed, error % from 0 to 100 over epochs. Several
runs get one colour each; validation is the thick line, training the thin faded one. A curve of
one point is drawn as a marker, so a first one-epoch trial shows up; a log with train loss only
(no top-1/top-5 columns) is drawn as its loss; a log with nothing to draw (only 'Best model'
lines) is left out and named, the others are drawn. The error axis spans 0 to a little above
the highest error drawn, so curves in 0-55 % use the height; a single run is titled with its
name; the legend of several runs sits below the axes, where it covers no curve. matplotlib is
an optional extra, imported only when a plot is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from converter.errors import UserError
from converter.outputs.atomic import atomic_path
from evaluate.logs.runs import Run

_SEED_COLOURS = ("red", "blue")  # train, val: the seed figure's choice


def plot_runs(
    runs: Sequence[Run],
    out: Path,
    smooth: bool = True,
    loss_panel: bool = False,
    title: str | None = None,
    force: bool = False,
    fmt: str | None = None,
) -> tuple[Path, list[str]]:
    """Draw `runs` into `out` (any format matplotlib writes, by its suffix; written atomically,
    an existing file only with `force`); the path and the names of the runs left out, which
    had nothing to draw. `fmt`: what `check_plot_output(out, force)` already said, if the
    caller asked it first."""
    out = Path(out)
    fmt = fmt or check_plot_output(out, force)
    drawn, left_out = drawable(runs, [_curves(run, smooth) for run in runs])
    fig = _figure(drawn, loss_panel=loss_panel, title=title)
    with atomic_path(out, force=force) as tmp:
        try:
            fig.savefig(tmp, format=fmt)
        except (RuntimeError, ValueError) as e:  # e.g. pgf without a LaTeX installation
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UserError(f"{out}: matplotlib cannot write {fmt} here ({reason})") from None
    return out, left_out


def drawable(
    runs: Sequence[Run], curves: Sequence[dict]
) -> tuple[list[tuple[Run, dict]], list[str]]:
    """The runs with something to draw, each with its `curves`, and the names of those
    without; a UserError when no run has anything."""
    empty = [run.name for run, c in zip(runs, curves) if _nothing_to_draw(c)]
    if len(empty) == len(runs):
        raise UserError(
            f"{', '.join(empty)}: no per-epoch train or validation results and no train loss "
            "to plot (only 'Best model' lines?); try 'irv2-logs summary'"
        )
    return [(run, c) for run, c in zip(runs, curves) if not _nothing_to_draw(c)], empty


def _nothing_to_draw(curves: dict) -> bool:
    return not curves["series"] and not curves["loss"][0]


def plot_formats() -> dict[str, str]:
    """Suffix (without the dot) -> description, for every format the installed matplotlib
    writes."""
    return dict(_matplotlib_figure()().canvas.get_supported_filetypes())


def check_plot_output(out: Path, force: bool) -> str:
    """The format named by `out`'s suffix, one that matplotlib writes; a UserError listing the
    formats when it is unknown, or when `out` cannot be written (checked before any log is
    read)."""
    from converter.outputs.declared import Output, check_outputs

    declared = Output("--output", out, tuple(sorted(plot_formats())))
    return check_outputs([declared], force)["--output"]


def runs_figure(
    runs: Sequence[Run], smooth: bool = True, loss_panel: bool = False, title: str | None = None
):  # noqa: ANN201 - a matplotlib Figure; matplotlib is imported only here
    """The figure `plot_runs` writes. Each run's curves carry the gid `run<k>-<split>-<metric>`
    (`run<k>-loss` for the loss), so that tests find every run's lines in an SVG."""
    return _figure([(run, _curves(run, smooth)) for run in runs], loss_panel, title)


def _figure(drawn: Sequence[tuple[Run, dict]], loss_panel: bool, title: str | None):
    """runs_figure's matplotlib Figure, of runs whose curves are already worked out (plot_runs
    needs them first, to leave out the runs with nothing to draw)."""
    runs = [run for run, _ in drawn]
    curves = [c for _, c in drawn]
    errors_panel = any(c["series"] for c in curves)
    # a run with loss only would be invisible without its loss: the panel is then drawn anyway
    loss_panel = loss_panel or any(not c["series"] for c in curves)
    single = len(runs) == 1
    legend_rows = 0 if single else len(runs) + 3  # below the axes: runs, then the line keys
    height = (8.5 if loss_panel and errors_panel else 6) + 0.2 * legend_rows
    fig = _matplotlib_figure()(figsize=(8, height), dpi=100, layout="constrained")
    if loss_panel and errors_panel:
        ax, ax_loss = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    elif errors_panel:
        ax, ax_loss = fig.subplots(1, 1), None
    else:
        ax, ax_loss = None, fig.subplots(1, 1)
    palette = _palette(len(runs))
    for k, (run, c) in enumerate(zip(runs, curves)):
        if ax is not None:
            _draw_errors(ax, run, c, single, palette[k], f"run{k}")
        if ax_loss is not None and c["loss"][0]:
            colour = _SEED_COLOURS[0] if single else palette[k]
            _line(ax_loss, *c["loss"], "-", f"run{k}-loss", color=colour, lw=1.2, label=run.name)
    train_drawn = any(split == "train" for c in curves for split, _ in c["series"])
    if ax is not None:
        _decorate_errors(ax, single, train_drawn, _error_top(curves))
    if ax_loss is not None:
        _decorate_loss(ax_loss, single)
    if not single:
        _legend_below(fig, ax if ax is not None else ax_loss, ax is not None, train_drawn)
    # from epoch 0 as the seed figure, but a resumed log (epochs 61-63) is not squeezed right
    first = min(run.epochs()[0] for run in runs)
    (ax if ax is not None else ax_loss).set_xlim(left=first - 1)
    if title or single:
        (ax if ax is not None else ax_loss).set_title(title or runs[0].name)
    (ax_loss if ax_loss is not None else ax).set_xlabel("epochs", fontsize=13)
    return fig


def _error_top(curves: list[dict]) -> float:
    """The error axis' top: 5 % above the highest error drawn, rounded up to a multiple of 10
    (of 5 below 20 %), at most 100."""
    highest = max(
        (y for c in curves for _, ys in c["series"].values() for y in ys if y == y), default=100
    )
    step = 5 if highest < 20 else 10
    return min(100.0, max(step, step * math.ceil(highest * 1.05 / step)))


def _curves(run: Run, smooth: bool) -> dict:
    """x/y lists per (split, metric); missing metrics (a log without top5) are left out.

    An epoch still in progress (the last one, with no validation yet) is drawn from its
    sub-epoch train values even when smoothing: its mean so far would be one misleading point.
    """
    series: dict = {}
    loss_x: list = []
    loss_y: list = []

    def put(key, x, y):
        xs, ys = series.setdefault(key, ([], []))
        xs.append(x)
        ys.append(y)

    epochs = run.epochs()
    for e in epochs:
        train = run.train_means(e)
        in_progress = e == epochs[-1] and not run.val(e)
        if not train:
            points = []
        elif smooth and not in_progress:
            points = [(e - 0.5, train)]
        else:
            points = [(e - 1 + frac, means) for frac, means in run.train_bins(e)]
        for x, means in points:
            for metric in ("top1", "top5"):
                if metric in means:
                    put(("train", metric), x, means[metric])
            if "loss" in means:
                loss_x.append(x)
                loss_y.append(means["loss"])
        if not train and run.epoch_loss(e) is not None:  # per-epoch logs (json_stats)
            loss_x.append(e)
            loss_y.append(run.epoch_loss(e))
        for metric, v in run.val(e).items():
            put(("val", metric), e, v)
    return {"series": series, "loss": (loss_x, loss_y)}


def _line(ax, xs: list, ys: list, style: str, gid: str, **kw) -> None:  # noqa: ANN001
    """One curve; a single point gets a marker, since a line through one point draws nothing."""
    if len(xs) == 1:
        kw.setdefault("marker", "o")
        kw.setdefault("markersize", 5)
    ax.plot(xs, ys, style, gid=gid, **kw)


def _draw_errors(ax, run: Run, c: dict, single: bool, colour, gid: str) -> None:  # noqa: ANN001
    best = run.best()
    for (split, metric), (xs, ys) in sorted(c["series"].items()):
        style = "-" if metric == "top1" else "--"
        here = f"{gid}-{split}-{metric}"
        if single:
            label = f"{split} ({metric})"
            if split == "val" and best is not None and best.get(metric) is not None:
                label += f", best {best[metric]:.2f}"
            _line(ax, xs, ys, style, here, color=_SEED_COLOURS[split == "val"], lw=1.3, label=label)
        else:
            faded = split == "train"
            _line(
                ax,
                xs,
                ys,
                style,
                here,
                color=colour,
                lw=0.9 if faded else 1.6,
                alpha=0.45 if faded else 1.0,
            )
    if not single:
        ax.plot([], [], "-", color=colour, lw=1.6, label=_run_label(run, best))


def _run_label(run: Run, best: dict | None) -> str:
    if best is None:
        return f"{run.name} (no validation)"
    where = f" @ {best['epoch']}" if best.get("epoch") is not None else ""
    top5 = f" / {best['top5']:.2f}" if best.get("top5") is not None else ""
    return f"{run.name}: best {best['top1']:.2f}{top5}{where}"


def _decorate_errors(ax, single: bool, train_drawn: bool, top: float) -> None:  # noqa: ANN001
    ax.set_ylim(0, top)
    ax.set_ylabel("error (%)", fontsize=13)
    ax.grid(True, linestyle=":", color="0.5")
    if single:
        ax.legend(loc="best", fancybox=True, shadow=True)


def _legend_below(fig, ax, errors: bool, train_drawn: bool) -> None:  # noqa: ANN001
    """One legend under the axes: each run (colour, best val top-1 / top-5 @ epoch), then the
    line styles of the error panel, which are the same for every run, explained once."""
    handles, labels = ax.get_legend_handles_labels()
    styles = [("-", 1.6, 1.0, "top-1 (val)"), ("--", 1.6, 1.0, "top-5 (val)")] if errors else []
    if train_drawn:  # a key for a line that is not there would send readers looking for it
        styles.append(("-", 0.9, 0.45, "train (thin)"))
    for style, lw, alpha, name in styles:
        handles.append(ax.plot([], [], style, color="0.2", lw=lw, alpha=alpha)[0])
        labels.append(name)
    fig.legend(
        handles, labels, loc="outside lower center", fontsize=9,
        title="run: best val top-1 / top-5 @ epoch", title_fontsize=9,
    )  # fmt: skip


def _decorate_loss(ax_loss, single: bool) -> None:  # noqa: ANN001
    ax_loss.set_yscale("log")
    ax_loss.yaxis.set_major_formatter(_plain_log_formatter())
    ax_loss.yaxis.set_minor_formatter(_plain_log_formatter(labelOnlyBase=False))
    ax_loss.set_ylabel("train loss")
    ax_loss.grid(True, which="both", linestyle=":", color="0.7")
    if not ax_loss.lines:
        ax_loss.text(
            0.5,
            0.5,
            "no train loss in this log",
            transform=ax_loss.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )


def _plain_log_formatter(**kw):  # noqa: ANN003, ANN202 - a matplotlib Formatter
    """Log-axis labels as plain numbers (6, 0.004) where matplotlib writes 6x10^0; which ticks
    get a label stays matplotlib's LogFormatter's choice."""
    import numpy as np
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x, pos=None):  # noqa: ANN001, ANN204
            if not super().__call__(x, pos):
                return ""
            return np.format_float_positional(float(f"{x:.3g}"), trim="-")

    return PlainLogFormatter(**kw)


def _palette(n: int) -> list:
    base = [
        "tab:blue",
        "tab:red",
        "tab:green",
        "tab:orange",
        "tab:purple",
        "tab:brown",
        "tab:pink",
        "tab:gray",
        "tab:olive",
        "tab:cyan",
    ]
    return [base[k % len(base)] for k in range(n)]


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError(
            "plotting needs matplotlib, which is not installed; "
            "run: pip install 'irv2-torch7[plot]'"
        ) from None
    return Figure
