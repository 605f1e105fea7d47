"""Training curves from parsed runs: the seed's figure for one run, overlays for several.

One run is drawn as the authors drew theirs (the seed's training-curves.png): train error in red,
validation error in blue, top-1 solid, top-5 dashed, error % from 0 to 100 over epochs. Several
runs get one colour each; validation is the thick line, training the thin faded one. matplotlib
is an optional extra, imported only when a plot is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from converter.errors import UserError
from converter.outputs.atomic import atomic_path
from evaluate.logs.runs import Run

FORMATS = (".png", ".svg")
_SEED_COLOURS = ("red", "blue")  # train, val: the seed figure's choice


def plot_runs(
    runs: Sequence[Run],
    out: Path,
    smooth: bool = True,
    loss_panel: bool = False,
    title: str | None = None,
) -> Path:
    """Draw `runs` into `out` (.png or .svg, written atomically) and return the path.

    smooth: one train point per epoch (its mean, at the epoch's middle); otherwise one point per
    tenth of an epoch. Validation points sit at the end of their epoch, where they were measured.
    """
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(
            f"{out}: unsupported plot format {out.suffix or '(none)'!r}; "
            "name the output .png or .svg"
        )
    if not out.parent.is_dir():
        raise UserError(f"{out}: folder {out.parent} does not exist; create it first")
    curves = [(run, _curves(run, smooth)) for run in runs]
    if not any(c["series"] for _, c in curves):
        names = ", ".join(r.name for r in runs)
        raise UserError(
            f"{names}: no per-epoch train or validation results to plot "
            "(only 'Best model' lines?); try 'irv2-logs summary'"
        )
    figure_cls = _matplotlib_figure()
    fig = figure_cls(figsize=(8, 8.5 if loss_panel else 6), dpi=100)
    if loss_panel:
        ax, ax_loss = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    else:
        ax, ax_loss = fig.subplots(1, 1), None
    single = len(runs) == 1
    palette = _palette(len(runs))
    for k, (run, c) in enumerate(curves):
        _draw_errors(ax, run, c, single, palette[k])
        if ax_loss is not None and c["loss"][0]:
            ax_loss.plot(
                *c["loss"], color=_SEED_COLOURS[0] if single else palette[k], lw=1.2, label=run.name
            )
    train_drawn = any(split == "train" for _, c in curves for split, _ in c["series"])
    _decorate(ax, ax_loss, single, title, train_drawn)
    fig.tight_layout()
    with atomic_path(out, force=True) as tmp:  # plotting again over an old figure is the norm
        fig.savefig(tmp, format=out.suffix[1:].lower())
    return out


def _curves(run: Run, smooth: bool) -> dict:
    """x/y lists per (split, metric); missing metrics (a log without top5) are left out."""
    series: dict = {}
    loss_x: list = []
    loss_y: list = []

    def put(key, x, y):
        xs, ys = series.setdefault(key, ([], []))
        xs.append(x)
        ys.append(y)

    for e in run.epochs():
        train = run.train_means(e)
        if not train:
            points = []
        elif smooth:
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


def _draw_errors(ax, run: Run, c: dict, single: bool, colour) -> None:
    best = run.best()
    for (split, metric), (xs, ys) in sorted(c["series"].items()):
        style = "-" if metric == "top1" else "--"
        if single:
            colour_here = _SEED_COLOURS[split == "val"]
            label = f"{split} ({metric})"
            if split == "val" and best is not None and best.get(metric) is not None:
                label += f", best {best[metric]:.2f}"
            ax.plot(xs, ys, style, color=colour_here, lw=1.3, label=label)
        else:
            faded = split == "train"
            ax.plot(
                xs, ys, style, color=colour, lw=0.9 if faded else 1.6, alpha=0.45 if faded else 1.0
            )
    if not single:
        ax.plot([], [], "-", color=colour, lw=1.6, label=_run_label(run, best, c))


def _run_label(run: Run, best: dict | None, c: dict) -> str:
    if best is None:
        return f"{run.name} (no validation)"
    where = f" @ {best['epoch']}" if best.get("epoch") is not None else ""
    top5 = f" / {best['top5']:.2f}" if best.get("top5") is not None else ""
    return f"{run.name}: best {best['top1']:.2f}{top5}{where}"


def _decorate(ax, ax_loss, single: bool, title: str | None, train_drawn: bool) -> None:
    ax.set_ylim(0, 100)
    ax.set_ylabel("error (%)", fontsize=13)
    ax.grid(True, linestyle=":", color="0.5")
    ax.set_xlim(left=0)
    if single:
        ax.legend(loc="upper right", fancybox=True, shadow=True)
    else:
        # Line styles are the same for every run: explain them once, below the run legend.
        first = ax.legend(
            loc="upper right",
            fancybox=True,
            shadow=True,
            fontsize=9,
            title="val top-1 / top-5 @ epoch",
        )
        ax.add_artist(first)
        keys = [
            ax.plot([], [], "-", color="0.2", lw=1.6)[0],
            ax.plot([], [], "--", color="0.2", lw=1.6)[0],
        ]
        names = ["top-1 (val)", "top-5 (val)"]
        if train_drawn:  # a key for a line that is not there would send readers looking for it
            keys.append(ax.plot([], [], "-", color="0.2", lw=0.9, alpha=0.45)[0])
            names.append("train (thin)")
        ax.legend(keys, names, loc="center right", fontsize=8)
    if title:
        ax.set_title(title)
    bottom = ax_loss if ax_loss is not None else ax
    bottom.set_xlabel("epochs", fontsize=13)
    if ax_loss is not None:
        ax_loss.set_yscale("log")
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
        elif not single:
            ax_loss.legend(fontsize=8, loc="upper right")


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
