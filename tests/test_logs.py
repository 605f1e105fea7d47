"""The training-log tools against real logs from other projects and a synthetic classic log.

Facts about the real logs were read off the files with grep/awk (commands in comments), not
from this parser's output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat

import pytest
from click.testing import CliRunner

from converter.errors import UserError
from evaluate.logs import format as fmt
from evaluate.logs.cli import main
from evaluate.logs.parse import ParseStats, parse_lines
from evaluate.logs.runs import Run, group_parts

PCT = 5e-4  # %7.3f prints errors to 1e-3: a parsed value is within half of that


def _close(got, want, tol):
    print(f"got {got!r} want {want!r} |diff| {abs(got - want):.2e} tol {tol:.0e}")
    return abs(got - want) <= tol


# ---- the Lua print formats, byte for byte ------------------------------------------------


def test_formats_match_lua_bytes():
    # FACTS §5 and the real pelu log (`cat -A`): trailing TABs, TAB-joined Best model line.
    assert fmt.format_epoch_header(1) == "=> Training epoch # 1\t"
    assert fmt.format_train_line(1, 1, 20019, 1.234, 0.001, 6.9078, 99.9, 99.5) == (
        " | Epoch: [1][1/20019]    Time 1.234  Data 0.001  Err 6.9078  top1  99.900  top5  99.500\t"
    )
    assert fmt.format_test_line(1, 1, 782, 0.532, 0.01, 80, 80, 50, 50) == (
        " | Test: [1][1/782]    Time 0.532  Data 0.010  top1  80.000 ( 80.000)  top5  50.000 "
        "( 50.000)\t"
    )
    assert fmt.format_finished_line(5, 39.961, 3.584) + "\n" == (
        " * Finished epoch # 5     top1:  39.961  top5:   3.584\n\t\n"
    )
    assert fmt.format_best_line(54.072265625, 7.490234375) == (
        " * Best model \t54.072265625\t7.490234375\t"
    )
    assert fmt.format_best_line(25.973176129426, 5.0483312983313) == (
        " * Best model \t25.973176129426\t5.0483312983313\t"
    )
    assert fmt.format_final_line(10.009765625, 0.33203125) == (
        " * Finished top1: 10.010  top5:  0.332\t"
    )


# ---- a synthetic classic log: restarts, parts, cut lines, noise --------------------------


def _train(e, n, total, loss, top1):
    return fmt.format_train_line(e, n, total, 0.5 + n / 10, 0.01, loss, top1, top1 / 2)


def _write_classic_parts(tmp_path):
    """Part 1: epoch 1 complete, epoch 2 crashes (last line cut). Part 2: resumed at epoch 2,
    epoch 3 has Test lines only and its last Test line is cut."""
    p1 = [
        "{",
        "  LR : 0.045",
        "}",
        "nn.Sequential {",
        "  (1): nn.SpatialConvolution(3 -> 32)",
        "}",
        fmt.format_epoch_header(1),
        *[_train(1, n, 4, 7.0 - n, 100.0 - 10 * n) for n in range(1, 5)],
        "THCudaCheck FAIL file=generic/THCStorage.cu line=66 error=2 : out of memory",
        fmt.format_test_line(1, 1, 2, 0.3, 0.0, 70.0, 70.0, 40.0, 40.0),
        fmt.format_test_line(1, 2, 2, 0.3, 0.0, 60.0, 65.0, 30.0, 35.0),
        fmt.format_finished_line(1, 65.0, 35.0),
        fmt.format_best_line(65.0, 35.0),
        fmt.format_epoch_header(2),
        *[_train(2, n, 4, 3.0, 50.0) for n in range(1, 3)],
    ]
    part1 = "\n".join(p1) + "\n" + _train(2, 3, 4, 3.0, 50.0)[:40]  # the job died mid-line
    p2 = [
        "=> Resuming model from model_1.t7\t",
        fmt.format_epoch_header(2),
        *[_train(2, n, 4, 2.0, 40.0 + n) for n in range(1, 5)],
        fmt.format_test_line(2, 1, 2, 0.3, 0.0, 50.0, 50.0, 20.0, 20.0),
        fmt.format_finished_line(2, 55.0, 22.0),
        fmt.format_epoch_header(3),
        *[_train(3, n, 4, 1.5, 30.0) for n in range(1, 5)],
        "\t",
        fmt.format_test_line(3, 1, 2, 0.3, 0.0, 45.0, 45.0, 15.0, 15.0),
    ]
    part2 = "\n".join(p2) + "\n" + fmt.format_test_line(3, 2, 2, 0.3, 0.0, 1.0, 23.0, 1.0, 8.0)[:50]
    (tmp_path / "run.log.1").write_text(part1)
    (tmp_path / "run.log.2").write_text(part2)
    return [tmp_path / "run.log.1", tmp_path / "run.log.2"]


def test_synthetic_classic_log(tmp_path):
    parts = _write_classic_parts(tmp_path)
    assert group_parts(parts) == [parts]
    run = Run.from_files(parts)
    s = run.summary()
    print(json.dumps(s, indent=1))
    assert s["name"] == "run.log"
    assert run.epochs() == [1, 2, 3]
    assert (s["restarts"], s["overridden_epochs"]) == (1, 1)
    assert (s["cut_lines"], s["last_line_cut"]) == (2, True)
    # 6 option/model lines + the CUDA warning; "=> " status lines and TAB-only lines are known
    assert s["unknown_lines"] == 7
    # the first after training started: 6 noise lines, the header, 4 train lines, then it
    assert s["unknown_samples"][0][1] == 12
    assert s["unknown_samples"][0][2].startswith("THCudaCheck FAIL")
    assert s["records"] == {"train": 4 + 2 + 4 + 4, "test": 2 + 1 + 1, "epoch": 2, "best": 1}
    means1 = run.train_means(1)
    assert _close(means1["loss"], (6 + 5 + 4 + 3) / 4, 5e-5)
    assert _close(means1["top1"], (90 + 80 + 70 + 60) / 4, PCT)
    # epoch 2 comes from the resumed run only: top1 41..44, not the crashed run's 50s
    assert _close(run.train_means(2)["top1"], 42.5, PCT)
    assert run.val(1) == {"top1": 65.0, "top5": 35.0}
    assert run.val(2) == {"top1": 55.0, "top5": 22.0}
    assert run.val(3) == {"top1": 45.0, "top5": 15.0}  # last complete Test line's averages
    assert s["best"] == {"top1": 45.0, "top5": 15.0, "epoch": 3, "source": "val"}
    assert s["last_best_line"] == {"top1": 65.0, "top5": 35.0, "epoch": 1}
    assert s["last_train_loss"]["epoch"] == 3 and _close(s["last_train_loss"]["loss"], 1.5, 5e-5)


def test_mid_epoch_restart_keeps_the_iterations_before_it():
    """irv2-train resumes inside an epoch (after its last checkpoint): the iterations the killed
    run logged after that point appear twice and the later ones win; the earlier ones stay."""
    lines = [
        fmt.format_epoch_header(1),
        *[_train(1, n, 6, float(n), 10.0 * n) for n in range(1, 5)],  # killed after iteration 4
        "=> Resuming epoch # 1 after iteration 2",  # the last checkpoint was after iteration 2
        *[_train(1, n, 6, 10.0 * n, 20.0 * n) for n in range(3, 7)],
        fmt.format_epoch_header(2),
        *[_train(2, n, 6, 0.5, 5.0) for n in range(1, 7)],
    ]
    stats = ParseStats()
    run = Run("trainer.log")
    for rec in parse_lines((x + "\n" for x in lines), stats):
        run.add(rec)
    means = run.train_means(1)
    print(means, run.restarts, run.overridden_epochs, stats)
    assert _close(means["loss"], (1 + 2 + 30 + 40 + 50 + 60) / 6, 5e-5)
    assert _close(means["top1"], (10 + 20 + 60 + 80 + 100 + 120) / 6, PCT)
    assert [m["loss"] for _, m in run.train_bins(1)] == [1, 2, 30, 40, 50, 60]  # 6 bins of 1
    assert (run.restarts, run.overridden_epochs) == (1, 1)
    assert stats.unknown == 0  # the resume header is recognised
    assert _close(run.train_means(2)["loss"], 0.5, 5e-5)


def test_round_trip_values_and_precision():
    lines = [
        fmt.format_train_line(7, 3, 20019, 1.23456, 0.0004, 6.90775527, 99.94, 99.5049),
        fmt.format_test_line(7, 9, 782, 0.5, 0.01, 21.8751, 24.4071, 6.25, 7.40719),
        *fmt.format_finished_line(7, 24.407086, 7.407193).split("\n"),
        fmt.format_best_line(24.407086181640625, 7.4071931838989),
    ]
    stats = ParseStats()
    recs = list(parse_lines((x + "\n" for x in lines), stats))
    assert [r.kind for r in recs] == ["train", "test", "epoch", "best"]
    tr, te, fin, best = recs
    assert (tr.epoch, tr.iter, tr.iters) == (7, 3, 20019)
    assert _close(tr.values["loss"], 6.90775527, 5e-5) and _close(tr.values["top5"], 99.5049, PCT)
    assert _close(te.values["top1_avg"], 24.4071, PCT) and _close(te.values["top5"], 6.25, PCT)
    assert fin.epoch == 7 and _close(fin.values["top1"], 24.407086, PCT)
    assert best.epoch == 7  # a Best model line belongs to the epoch just finished
    assert _close(best.values["top1"], 24.407086181640625, 1e-12)  # %.14g keeps it all
    assert stats.unknown == 0 and not stats.last_line_cut
    # "(100.000)" has no space after the bracket: the fast path must still take it
    (full,) = parse_lines([fmt.format_test_line(1, 1, 2, 0.5, 0, 100, 100, 100, 100) + "\n"], stats)
    assert full.values["top1_avg"] == 100.0 and full.values["top5_avg"] == 100.0


def test_variant_columns_and_grep_prefix_and_nan():
    lines = [
        " | Epoch: [3][10/50]    Time 0.2  Data 0.1  Loss_G 1.5e-3  Loss_D nan  lr 0.01\t",
        "run7.log: | Epoch: [3][20/50]    Time 0.2  Data 0.1  Err 2.0000  top1  50.000"
        "  top5  20.000\t",
        " | Epoch: [3][30/50]    Time 0.2  Data 0.1  Err 1.0  Loss 9.0\t",
    ]
    stats = ParseStats()
    a, b, c = parse_lines((x + "\n" for x in lines), stats)
    assert a.values["loss_g"] == 1.5e-3 and math.isnan(a.values["loss_d"])
    assert a.values["lr"] == 0.01
    assert b.values == {"time": 0.2, "data": 0.1, "loss": 2.0, "top1": 50.0, "top5": 20.0}
    assert c.values == {"time": 0.2, "data": 0.1, "err": 1.0, "loss": 9.0}
    assert stats.unknown == 0


# ---- real logs from other projects ------------------------------------------------------


def test_pelu_per_epoch_lines_only(realworld):
    run = Run.from_files([realworld / "logs" / "pelu_resnet110_bn-elu_cifar10_try1.nohup.out"])
    s = run.summary()
    # grep -c 'Finished epoch' -> 200, awk '/Finished epoch/{print $5,$7,$9}' | sed -n '1p;$p'
    assert s["records"]["epoch"] == 200 and run.epochs() == list(range(1, 201))
    assert run.val(1) == {"top1": 54.072, "top5": 7.49}
    assert run.val(200) == {"top1": 11.016, "top5": 0.41}
    # ... | sort -k2 -g | head -1 -> "163 10.010 0.332"
    assert s["best"] == {"top1": 10.01, "top5": 0.332, "epoch": 163, "source": "val"}
    # grep -c 'Best model' -> 21, plus the final " * Finished top1: 10.010  top5:  0.332"
    assert s["records"]["best"] == 22
    assert s["last_best_line"] == {"top1": 10.01, "top5": 0.332, "epoch": None}
    assert s["records"]["train"] == s["records"]["test"] == 0
    # wc -l 1775, blank/TAB-only 200, recognised 423 (200 headers, 200+1 Finished, 21 Best,
    # grep -c '^=> Creating' -> 1 status line)
    assert (s["lines"], s["unknown_lines"]) == (1775, 1775 - 200 - 423)
    assert (s["restarts"], s["cut_lines"]) == (0, 0)


def test_pelu_best_model_lines_keep_full_precision(realworld):
    run = Run.from_files([realworld / "logs" / "pelu_resnet110_bn-elu_cifar10_try1.nohup.out"])
    # line 1157, right after "Finished epoch # 1": " * Best model \t54.072265625\t7.490234375\t"
    assert run._best_lines()[0] == (54.072265625, 7.490234375, 1)
    # line 1663, after "Finished epoch # 163"
    assert run._best_lines()[-2] == (10.009765625, 0.33203125, 163)


def test_srresnet_loss_column_only(realworld):
    run = Run.from_files([realworld / "logs" / "srresnet_resume_epoch61_head1900lines.txt"])
    s = run.summary()
    # grep -c 'Epoch:' -> 928; per epoch 311, 311, 306; the run resumes at epoch 61
    assert s["records"]["train"] == 928 and run.epochs() == [61, 62, 63]
    # awk mean of the last column over 'Epoch: \[63\]' lines -> 0.004268108856 (306 lines)
    assert _close(s["last_train_loss"]["loss"], 0.004268108856, 1e-11)
    assert s["best"] is None and s["last_val"] is None
    # 1900 lines, 933 recognised (928 Epoch + grep -c '^=> ' -> 5 status lines), no blank lines
    assert (s["lines"], s["unknown_lines"]) == (1900, 967)
    # the first unknown line after training started is a debug line (line 306)
    assert s["unknown_samples"][0][1] == 306
    assert s["unknown_samples"][0][2].startswith("Gradient min: -0.0025")


def test_srresnet_first_and_last_train_lines(realworld):
    stats = ParseStats()
    path = realworld / "logs" / "srresnet_resume_epoch61_head1900lines.txt"
    with open(path) as f:
        recs = list(parse_lines(f, stats))
    first, last = recs[0], recs[-1]
    # line 297: " | Epoch: [61][10/3118]    Time 0.241  Data 0.226  Loss 0.00195670\t"
    assert (first.epoch, first.iter, first.iters) == (61, 10, 3118)
    assert first.values == {"time": 0.241, "data": 0.226, "loss": 0.0019567}
    # line 1900: " | Epoch: [63][3060/3118]    Time 0.051  Data 0.035  Loss 0.00617116\t"
    assert (last.epoch, last.iter, last.values["loss"]) == (63, 3060, 0.00617116)


def test_3ddensenet_grep_output_best_lines_only(realworld):
    run = Run.from_files([realworld / "logs" / "3ddensenet_de20_gr12_bestmodel_grep.log"])
    s = run.summary()
    # 25 lines, each "<file>.log: * Best model \t<top1>\t<top5>\t"; no epochs anywhere
    assert s["records"] == {"train": 0, "test": 0, "epoch": 0, "best": 25}
    assert s["epochs"] == 0 and s["unknown_lines"] == 0
    lines = run._best_lines()
    assert lines[0] == (25.973176129426, 5.0483312983313, None)
    # cut -d: -f2- | sort -k4 -g | head -1: the last line is the lowest top1
    assert s["best"] == {
        "top1": 12.987605565731,
        "top5": 2.0380227411477,
        "epoch": None,
        "source": "best-model lines",
    }


def test_wrn_json_stats(realworld):
    run = Run.from_files([realworld / "logs" / "wrn_wide-resnet-40-4_cifar10_log.txt"])
    s = run.summary()
    # grep -c json_stats -> 200; epoch 1: "test_acc":58.57, "loss":1.3907951342754
    assert s["records"]["epoch"] == 200 and run.epochs() == list(range(1, 201))
    assert _close(run.val(1)["top1"], 100 - 58.57, 1e-9)
    assert run.epoch_loss(1) == 1.3907951342754
    # the highest "test_acc" is 95.08, on the line with "epoch":185
    assert s["best"]["epoch"] == 185 and _close(s["best"]["top1"], 4.92, 1e-9)
    assert s["last_train_loss"] == {"epoch": 200, "loss": 0.0016485370122469}
    # 790 lines, 400 recognised (200 "==> online epoch", 200 json_stats)
    assert (s["lines"], s["unknown_lines"]) == (790, 390)


# ---- command line -------------------------------------------------------------------------


def test_cli_summary_json_and_text(realworld):
    logs = realworld / "logs"
    files = [
        str(logs / "pelu_resnet110_bn-elu_cifar10_try1.nohup.out"),
        str(logs / "wrn_wide-resnet-40-4_cifar10_log.txt"),
    ]
    r = CliRunner().invoke(main, ["summary", "--json", *files])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [d["best"]["epoch"] for d in data] == [163, 185]
    r = CliRunner().invoke(main, ["summary", *files])
    assert r.exit_code == 0 and "10.010" in r.output and "4.920" in r.output


def test_cli_csv_rows(tmp_path):
    parts = _write_classic_parts(tmp_path)
    out = tmp_path / "run.csv"
    r = CliRunner().invoke(main, ["csv", *map(str, parts), "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0])[:7] == ["kind", "epoch", "iter", "iters", "loss", "top1", "top5"]
    assert len(rows) == 14 + 4 + 2 + 1  # raw records, restarted epochs included
    assert rows[0]["kind"] == "train" and float(rows[0]["loss"]) == 6.0
    assert rows[0]["top1_avg"] == ""
    kinds = [r["kind"] for r in rows if r["kind"] != "train"]
    assert kinds[:4] == ["test", "test", "epoch", "best"]


def test_cli_user_errors(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_text("hello\nworld\n")
    for args in (
        ["summary", str(tmp_path / "missing.log")],
        ["summary", str(empty)],
        ["csv", str(empty)],
        ["plot", str(empty), "-o", str(tmp_path / "x.pdf")],
    ):
        r = CliRunner().invoke(main, args)
        print(args[0], r.exit_code, r.output.strip())
        assert r.exit_code == 2 and r.output.startswith("error: ") and "Traceback" not in r.output
        assert len(r.output.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob(".*"))


def test_cli_plot_png_and_svg(realworld, tmp_path):
    pytest.importorskip("matplotlib")
    logs = realworld / "logs"
    png = tmp_path / "pelu.png"
    pelu = logs / "pelu_resnet110_bn-elu_cifar10_try1.nohup.out"
    r = CliRunner().invoke(main, ["plot", str(pelu), "-o", str(png), "--loss"])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "cmp.svg"
    r = CliRunner().invoke(
        main,
        [
            "plot",
            str(logs / "wrn_wide-resnet-40-4_cifar10_log.txt"),
            str(logs / "srresnet_resume_epoch61_head1900lines.txt"),
            "-o",
            str(svg),
            "--no-smooth",
            "--title",
            "t",
        ],
    )
    assert r.exit_code == 0, r.output
    assert b"<svg" in svg.read_bytes()[:400]


def test_plot_refuses_best_lines_only(realworld, tmp_path):
    from evaluate.logs.plot import plot_runs

    run = Run.from_files([realworld / "logs" / "3ddensenet_de20_gr12_bestmodel_grep.log"])
    with pytest.raises(UserError, match="no per-epoch"):
        plot_runs([run], tmp_path / "x.png")


def test_cli_outputs_get_the_umask_permissions_and_overwrite(tmp_path):
    """csv and plot outputs are 0644 under umask 022 (like every other tool's), not mkstemp's
    private 0600, and writing over last time's output works with --force."""
    pytest.importorskip("matplotlib")
    parts = [str(p) for p in _write_classic_parts(tmp_path)]
    old = os.umask(0o022)
    try:
        for name, command in (("x.csv", "csv"), ("x.png", "plot"), ("x.svg", "plot")):
            out = tmp_path / name
            for force in ([], ["--force"]):  # the second run overwrites the first one's file
                r = CliRunner().invoke(main, [command, *parts, "-o", str(out), *force])
                assert r.exit_code == 0, r.output
            mode = stat.S_IMODE(out.stat().st_mode)
            print(f"{name}: {oct(mode)}")
            assert mode == 0o644
    finally:
        os.umask(old)
    assert not list(tmp_path.glob(".x*"))  # no temp file left beside the outputs


def test_cli_csv_dash_is_standard_output(tmp_path, monkeypatch):
    parts = [str(p) for p in _write_classic_parts(tmp_path)]
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["csv", *parts, "-o", "-"])
    assert r.exit_code == 0, r.output
    print(r.output[:200])
    assert r.output.startswith("kind,epoch,iter,iters,loss,top1,top5")
    assert len(r.output.splitlines()) == 1 + 14 + 4 + 2 + 1  # header + the records
    assert not (tmp_path / "-").exists()


def _write_log(path, train: bool = True):
    """Two epochs of an irv2-train log; without train lines when `train` is False."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for e in (1, 2):
        lines.append(fmt.format_epoch_header(e))
        if train:
            lines += [_train(e, n, 2, 3.0 - e, 60.0 - 10 * e) for n in (1, 2)]
        lines.append(fmt.format_finished_line(e, 50.0 - 10 * e, 20.0 - e))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _svg_text(args, out, monkeypatch) -> str:
    """The plot as SVG with its text kept as text, so that legends can be read back."""
    matplotlib = pytest.importorskip("matplotlib")
    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")
    r = CliRunner().invoke(main, ["plot", *args, "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out.read_text()


def test_runs_with_the_same_file_name_are_told_apart(tmp_path, monkeypatch):
    """irv2-train always writes train.log: runs are named by their shortest unique path ending
    in the summary, the csv run column and the plot legend."""
    logs = [_write_log(tmp_path / "runs" / d / "train.log") for d in ("irv2", "ft3")]
    r = CliRunner().invoke(main, ["summary", "--json", *logs])
    assert r.exit_code == 0, r.output
    assert [s["name"] for s in json.loads(r.output)] == ["irv2/train.log", "ft3/train.log"]
    r = CliRunner().invoke(main, ["csv", *logs])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [r["run"] for r in rows[:1] + rows[-1:]] == ["irv2/train.log", "ft3/train.log"]
    svg = _svg_text(logs, tmp_path / "x.svg", monkeypatch)
    print([line for line in svg.splitlines() if "train.log" in line])
    assert "irv2/train.log: best" in svg and "ft3/train.log: best" in svg


def test_legend_explains_train_lines_only_when_drawn(tmp_path, monkeypatch):
    epoch_only = [_write_log(tmp_path / d / "a.log", train=False) for d in ("x", "y")]
    assert "train (thin)" not in _svg_text(epoch_only, tmp_path / "e.svg", monkeypatch)
    with_train = [_write_log(tmp_path / d / "b.log") for d in ("x", "y")]
    assert "train (thin)" in _svg_text(with_train, tmp_path / "t.svg", monkeypatch)
