"""irv2-logs: summaries, CSV and training-curve plots from fb.resnet.torch training logs.

Thin layer over `evaluate.logs.parse`, `evaluate.logs.runs` and `evaluate.logs.plot`. Files
named `x.log.1 x.log.2 ...` given one after another are the parts of one run, read in the order
given.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from converter.command import command, quiet_option
from converter.errors import UserError, exit_on_user_error
from converter.outputs.atomic import atomic_path
from converter.outputs.declared import Output, check_outputs
from evaluate.logs.parse import read_records
from evaluate.logs.runs import Run, group_parts, run_names

_FIRST_COLUMNS = ("loss", "top1", "top5")


@command(group=True)
def main() -> None:
    """Read fb.resnet.torch training logs (restarts, split parts and noise included)."""


@main.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
@exit_on_user_error
def summary(logs: tuple[Path, ...], as_json: bool) -> None:
    """Per run: epochs, best validation top1/top5 (epoch), last train loss, oddities."""
    data = [r.summary() for r in _runs(logs)]
    click.echo(json.dumps(data, indent=2) if as_json else format_summaries(data))


@main.command("csv")
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV file to write; - or none: standard output.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@exit_on_user_error
def csv_command(logs: tuple[Path, ...], output: Path | None, force: bool) -> None:
    """One row per record: kind, epoch, iter, iters, then every named number (raw log order;
    a `run` column comes first when several runs are given)."""
    write_csv(group_parts(logs), output, force)


@main.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Image to write; its suffix picks the format (.png, .svg, .pdf, ...: any that "
    "matplotlib writes).",
)
@click.option(
    "--smooth/--no-smooth",
    default=True,
    show_default=True,
    help="Train curve as one mean per epoch, or ten points per epoch.",
)
@click.option("--loss", "loss_panel", is_flag=True, help="Add a log-scale train-loss panel.")
@click.option("--title", default=None, help="Figure title.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@quiet_option()
@exit_on_user_error
def plot(
    logs: tuple[Path, ...],
    output: Path,
    smooth: bool,
    loss_panel: bool,
    title: str | None,
    force: bool,
    quiet: bool,
) -> None:
    """Train/val top-1/top-5 error per epoch (a log with train loss only: its loss); several
    runs are overlaid."""
    from evaluate.logs.plot import check_plot_output, plot_runs

    fmt = check_plot_output(output, force)  # a typo or an old figure costs no parsing
    runs = _runs(logs)
    out, left_out = plot_runs(
        runs, output, smooth=smooth, loss_panel=loss_panel, title=title, force=force, fmt=fmt
    )
    for name in left_out:
        click.echo(
            f"note: {name}: nothing to plot (no per-epoch results, no train loss; only "
            "'Best model' lines?), drawn without it; see 'irv2-logs summary'",
            err=True,
        )
    if not quiet:
        click.echo(f"wrote {out}")


def _runs(logs: Sequence[Path]) -> list[Run]:
    groups = group_parts(logs)
    return [Run.from_files(parts, name) for parts, name in zip(groups, run_names(groups))]


def format_summaries(data: Sequence[dict]) -> str:
    """The text table of `irv2-logs summary`, then one line per oddity worth knowing."""
    header = ("run", "epochs", "best top1", "best top5", "best @", "last loss", "unknown")
    rows = [header]
    notes = []
    for s in data:
        best = s["best"] or {}
        loss = s["last_train_loss"]
        span = f"{s['first_epoch']}-{s['last_epoch']}" if s["epochs"] else "0"
        rows.append(
            (
                s["name"],
                f"{s['epochs']} ({span})" if s["epochs"] else "0",
                _num(best.get("top1")),
                _num(best.get("top5")),
                "-" if best.get("epoch") is None else str(best["epoch"]),
                "-" if loss is None else f"{loss['loss']:.4g} (ep {loss['epoch']})",
                str(s["unknown_lines"]),
            )
        )
        if s["restarts"]:
            notes.append(
                f"{s['name']}: {s['restarts']} restart(s); {s['overridden_epochs']} "
                "repeated epoch(s) taken from the later run"
            )
        if best.get("source") == "best-model lines":
            notes.append(f"{s['name']}: no per-epoch validation; best is from 'Best model' lines")
        if s["cut_lines"]:
            where = "the last line" if s["last_line_cut"] else "a line"
            notes.append(f"{s['name']}: {where} was cut at the end of a file and was skipped")
        if s["unknown_samples"]:
            src, lineno, text = s["unknown_samples"][0]
            notes.append(
                f"{s['name']}: {s['unknown_lines']} unknown line(s) skipped, e.g. "
                f"{Path(src).name}:{lineno}: {text[:60]}"
            )
    widths = [max(len(r[k]) for r in rows) for k in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in rows
    ]
    return "\n".join(lines + notes)


def write_csv(runs: Sequence[Sequence[Path]], output: Path | None, force: bool = False) -> None:
    """Two streaming passes: the first finds every column name, the second writes rows. An
    existing `output` is refused without `force`, before the logs are read."""
    to_stdout = output is None or str(output) == "-"
    check_outputs([Output("--output", output, ("csv",), stdout=True)], force)
    names: dict = {}  # an ordered set
    count = 0
    for parts in runs:
        for rec in read_records(parts):
            count += 1
            for k in rec.values:
                names.setdefault(k, None)
    if not count:
        where = ", ".join(str(p) for parts in runs for p in parts)
        raise UserError(f"{where}: no fb.resnet.torch log lines found; nothing to write")
    columns = [c for c in _FIRST_COLUMNS if c in names] + [
        c for c in names if c not in _FIRST_COLUMNS
    ]
    lead = ["run"] if len(runs) > 1 else []
    if to_stdout:
        _write_rows(sys.stdout, runs, lead, columns)
        return
    with atomic_path(output, force) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            _write_rows(f, runs, lead, columns)


def _write_rows(f, runs, lead: list, columns: list) -> None:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(lead + ["kind", "epoch", "iter", "iters"] + columns)
    for parts, run in zip(runs, run_names(runs)):
        name = [run] if lead else []
        for rec in read_records(parts):
            v = rec.values
            w.writerow(
                name
                + [rec.kind, _blank(rec.epoch), _blank(rec.iter), _blank(rec.iters)]
                + [_blank(v.get(c)) for c in columns]
            )


def _blank(x) -> str:
    if x is None:
        return ""
    return repr(x) if isinstance(x, float) else str(x)


def _num(x) -> str:
    return "-" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
