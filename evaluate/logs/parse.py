"""Read fb.resnet.torch training logs (and their relatives) as a stream of records.

Real logs are `tee` captures: options and model printouts, warnings and debug lines between the
results, restarted runs appended to the same file, files split in parts, a last line cut when
the job died. `read_records` turns any of them into `Record`s without ever holding the log in
memory; `Run` folds records into per-epoch results (memory grows with epochs, not lines), with
the later run winning where a restart repeats epochs. Nothing unrecognised is fatal: such lines
are counted, and a few are kept as samples so a user can see what was skipped.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from converter.errors import UserError

KINDS = ("train", "test", "epoch", "best")
_BINS = 10  # train sub-epoch bins kept for unsmoothed curves: fixed, so memory is per epoch
_SAMPLES = 5
_PART = re.compile(r"^(.*)\.(\d+)$")
_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+|nan|inf)"

# The exact fb.resnet.torch train/test lines (almost every line of a real log): one anchored
# match and no dictionary-building loop, which keeps the parser near grep+awk speed. Numbers are
# any non-blank run here (float() checks them; a bad one falls back to the general path), and
# the newline is required, so a cut last line never takes this path.
_TRAIN_FAST = re.compile(
    r" \| Epoch: \[(\d+)\]\[(\d+)/(\d+)\] +Time ([^ ]+) +Data ([^ ]+) +Err ([^ ]+)"
    r" +top1 +([^ ]+) +top5 +([^ \t]+)[ \t\r]*\n"
).match
_TEST_FAST = re.compile(
    r" \| Test: \[(\d+)\]\[(\d+)/(\d+)\] +Time ([^ ]+) +Data ([^ ]+)"
    r" +top1 +([^ ]+) +\( *([^ )]+)\) +top5 +([^ ]+) +\( *([^ )]+)\)[ \t\r]*\n"
).match
# Everything else is found anywhere in the line, so grep output (`file.log: * Best model`) and
# other prefixes still parse.
_MARKER = re.compile(
    r"\| (?P<it>Epoch|Test): \[(?P<e>\d+)\]\[(?P<i>\d+)/(?P<n>\d+)\](?P<tail>.*)"
    r"|\* Finished epoch # (?P<fe>\d+)(?P<ftail>.*)"
    r"|\* Finished (?P<final>top1.*)"
    rf"|\* Best model\s+(?P<b1>{_NUM})\s+(?P<b5>{_NUM})"
    r"|=?=> (?:Training|online|Resuming) epoch # (?P<he>\d+)"
    r"|json_stats: (?P<json>\{.*\})"
).search
_PAIR = re.compile(rf"([A-Za-z_][\w.-]*):?\s+({_NUM})(?:\s*\(\s*({_NUM})\s*\))?").finditer
_ALIASES = {"err": "loss"}  # fb.resnet.torch calls the training criterion value "Err"


class Record(NamedTuple):
    """One result line: kind is one of KINDS; iter/iters only for train and test lines."""

    kind: str
    epoch: int | None
    iter: int | None
    iters: int | None
    values: dict


@dataclass
class ParseStats:
    """What the reader saw besides records; filled while `read_records` streams."""

    lines: int = 0
    unknown: int = 0
    # (file, line number, text) of the first unknown lines after the first record: the options
    # and model printed before training would otherwise fill every sample.
    unknown_samples: list = field(default_factory=list)
    cut_lines: int = 0  # files whose last line has no newline (the writer died mid-line)
    last_line_cut: bool = False


def group_parts(paths: Sequence[Path]) -> list[list[Path]]:
    """Group consecutive arguments `x.log.1 x.log.2 ...` (same name but for a numeric suffix)
    into one run, keeping the order given; any other file is a run of its own."""
    runs: list[list[Path]] = []
    last_key = None
    for p in map(Path, paths):
        m = _PART.match(str(p))
        key = m.group(1) if m else None
        if key is not None and key == last_key:
            runs[-1].append(p)
        else:
            runs.append([p])
        last_key = key
    return runs


def run_name(parts: Sequence[Path]) -> str:
    """The name a run is shown under: its file name without a part suffix."""
    m = _PART.match(parts[0].name)
    return m.group(1) if m and len(parts) > 1 else parts[0].name


def run_names(runs: Sequence[Sequence[Path]]) -> list[str]:
    """Names that tell runs apart: each run's shortest path ending no other run shares
    (`irv2/train.log`, `ft3/train.log`: irv2-train always writes train.log)."""
    endings = [[*Path(os.path.abspath(parts[0])).parent.parts, run_name(parts)] for parts in runs]
    names = []
    for k, words in enumerate(endings):
        others = [w for j, w in enumerate(endings) if j != k]
        for n in range(1, len(words) + 1):
            if all(w[-n:] != words[-n:] for w in others):
                names.append("/".join(words[-n:]))
                break
        else:  # the same file given twice: nothing tells the two apart
            names.append(str(runs[k][0]))
    return names


def read_records(paths: Sequence[Path], stats: ParseStats | None = None) -> Iterator[Record]:
    """Stream the records of one run written across `paths` (its parts, in order)."""
    stats = stats if stats is not None else ParseStats()
    for p in paths:
        if not Path(p).is_file():
            raise UserError(f"{p}: no such log file; give the path of a training log")
    context = [None]  # epoch of the latest record: where a "Best model" line belongs
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            yield from parse_lines(f, stats, str(p), context)


def parse_lines(
    lines: Iterable[str],
    stats: ParseStats,
    source: str = "<log>",
    context: list | None = None,
) -> Iterator[Record]:
    """Records from the lines of one file; a last line without a newline is counted as cut and
    skipped, since its last number may be truncated."""
    context = context if context is not None else [None]
    stats.last_line_cut = False
    number = stats.lines
    start = number
    preamble: list = []  # samples from before the first record, used only if there are no others
    train_fast, test_fast, slow = _TRAIN_FAST, _TEST_FAST, _parse_other
    new = tuple.__new__  # Record(...) goes through a Python-level __new__: too slow per line
    for line in lines:
        number += 1
        m = train_fast(line)
        if m:
            e, i, n, t, d, loss, t1, t5 = m.groups()
            try:
                values = {
                    "time": float(t),
                    "data": float(d),
                    "loss": float(loss),
                    "top1": float(t1),
                    "top5": float(t5),
                }
            except ValueError:
                pass
            else:
                context[0] = epoch = int(e)
                yield new(Record, ("train", epoch, int(i), int(n), values))
                continue
        if not line.endswith("\n"):
            stats.last_line_cut = True
            stats.cut_lines += 1
            continue
        m = test_fast(line)
        if m:
            e, i, n, t, d, t1, a1, t5, a5 = m.groups()
            try:
                values = {
                    "time": float(t),
                    "data": float(d),
                    "top1": float(t1),
                    "top1_avg": float(a1),
                    "top5": float(t5),
                    "top5_avg": float(a5),
                }
            except ValueError:
                pass
            else:
                context[0] = epoch = int(e)
                yield new(Record, ("test", epoch, int(i), int(n), values))
                continue
        if line.isspace():
            continue
        rec = slow(line, context)
        if rec is None:
            stats.unknown += 1
            samples = stats.unknown_samples if context[0] is not None else preamble
            if len(samples) < _SAMPLES:
                samples.append((source, number - start, line.rstrip()))
        elif rec is not _HEADER:
            yield rec
    stats.lines = number
    if not stats.unknown_samples:
        stats.unknown_samples.extend(preamble)


_HEADER = Record("header", None, None, None, {})  # recognised, but carries no result


def _parse_other(line: str, context: list) -> Record | None:
    m = _MARKER(line)
    if m is None:
        # fb.resnet.torch's convention (irv2-train keeps it): "=> " starts a status line, which
        # is known but carries no result.
        return _HEADER if line.startswith("=> ") else None
    g = m.group
    if g("it"):
        epoch = int(g("e"))
        context[0] = epoch
        kind = "train" if g("it") == "Epoch" else "test"
        return Record(kind, epoch, int(g("i")), int(g("n")), _named_numbers(g("tail")))
    if g("fe"):
        epoch = int(g("fe"))
        context[0] = epoch
        return Record("epoch", epoch, None, None, _named_numbers(g("ftail")))
    if g("final"):
        # The whole run's best, printed after the last epoch: it belongs to no one epoch.
        return Record("best", None, None, None, _named_numbers(g("final")))
    if g("b1"):
        return Record(
            "best", context[0], None, None, {"top1": float(g("b1")), "top5": float(g("b5"))}
        )
    if g("he"):
        context[0] = int(g("he"))
        return _HEADER
    return _json_stats(g("json"), context)


def _named_numbers(text: str) -> dict:
    """`Name value` pairs, names lower-cased; `name value (avg)` adds `name_avg`. `Err` is
    called `loss` unless the line has its own `Loss` column."""
    pairs = [(m.group(1).lower(), m.group(2), m.group(3)) for m in _PAIR(text)]
    names = {name for name, _, _ in pairs}
    values: dict = {}
    for name, value, avg in pairs:
        name = _ALIASES.get(name, name) if "loss" not in names else name
        values[name] = float(value)
        if avg is not None:
            values[name + "_avg"] = float(avg)
    return values


def _json_stats(text: str, context: list) -> Record | None:
    """wide-residual-networks: one JSON object per epoch. Its `test_acc` is an accuracy, so
    top1 error is derived from it; `loss` is that epoch's mean training loss."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    epoch = obj.get("epoch")
    if not isinstance(epoch, int):
        return None
    values = {
        k: float(v)
        for k, v in obj.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch"
    }
    if "test_acc" in values and "top1" not in values:
        values["top1"] = round(100.0 - values["test_acc"], 9)  # no 4.920000000000002
    context[0] = epoch
    return Record("epoch", epoch, None, None, values)


class _Mean:
    """Running sums per name: the only per-line state `Run` keeps."""

    __slots__ = ("sums", "counts")

    def __init__(self) -> None:
        self.sums: dict = {}
        self.counts: dict = {}

    def add(self, values: dict) -> None:
        sums, counts = self.sums, self.counts
        for k, v in values.items():
            if k in sums:
                sums[k] += v
                counts[k] += 1
            else:
                sums[k] = v
                counts[k] = 1

    def merge(self, other: _Mean) -> None:
        for k, v in other.sums.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + other.counts[k]

    def means(self) -> dict:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


class _Epoch:
    __slots__ = ("bins", "test", "finished", "best")

    def __init__(self) -> None:
        self.bins: dict = {}  # bin index -> _Mean of train lines in that part of the epoch
        self.test: dict | None = None  # the last Test line's values
        self.finished: dict | None = None  # Finished epoch / json_stats values
        self.best: dict | None = None  # a "Best model" line printed after this epoch


_STAGE = {"train": 1, "test": 2, "epoch": 3}


class Run:
    """Per-epoch results of one run, folded from records in log order.

    A record that does not move forward in (epoch, stage, iteration) order starts a restart:
    what the earlier run logged from that point on is dropped and refilled from the later run.
    Lua jobs restart at an epoch's first iteration; irv2-train restarts inside an epoch, after
    its last checkpoint, so the train lines of the epoch being read are kept per iteration
    (memory grows with one epoch's lines) and folded into bins once a later epoch begins.
    """

    def __init__(self, name: str, files: Sequence[Path] = ()) -> None:
        self.name = name
        self.files = [str(p) for p in files]
        self.stats = ParseStats()
        self.counts = dict.fromkeys(KINDS, 0)
        self.restarts = 0
        self.overridden_epochs = 0
        self._epochs: dict[int, _Epoch] = {}
        self._pos: tuple | None = None
        self._orphan_best: list = []  # best lines with no epoch: (top1, top5)
        self._open_epoch: int | None = None  # the epoch whose train lines are not binned yet
        self._open: dict[int, tuple] = {}  # its iteration -> (iters, values)

    @classmethod
    def from_files(cls, paths: Sequence[Path], name: str | None = None) -> Run:
        """Parse the parts of one run; a clear UserError when nothing in them is a log line."""
        paths = [Path(p) for p in paths]
        run = cls(name or run_name(paths), paths)
        for rec in read_records(paths, run.stats):
            run.add(rec)
        if not any(run.counts.values()):
            where = ", ".join(run.files)
            raise UserError(
                f"{where}: no fb.resnet.torch log lines found in {run.stats.lines} lines; "
                "give a log captured from training (lines like ' | Epoch: [1][1/100] ...')"
            )
        return run

    def add(self, rec: Record) -> None:
        kind, epoch = rec.kind, rec.epoch
        self.counts[kind] += 1
        if kind == "best":
            self._add_best(rec)
            return
        pos = (epoch, _STAGE[kind], rec.iter or 0)
        if self._pos is not None and pos <= self._pos:
            self._restart(epoch, rec.iter if kind == "train" else None)
        self._pos = pos
        ep = self._epochs.get(epoch)
        if ep is None:
            ep = self._epochs[epoch] = _Epoch()
        if kind == "train":
            if epoch != self._open_epoch:
                self._fold_open()
                self._open_epoch = epoch
            self._open[rec.iter] = (rec.iters, rec.values)
        elif kind == "test":
            ep.test = rec.values
        else:
            ep.finished = rec.values

    def _add_best(self, rec: Record) -> None:
        ep = self._epochs.get(rec.epoch) if rec.epoch is not None else None
        if ep is None:
            self._orphan_best.append((rec.values.get("top1"), rec.values.get("top5")))
        else:
            ep.best = rec.values

    def _restart(self, epoch: int, train_iter: int | None) -> None:
        """Forget what the earlier run logged from (epoch, train_iter) on; a restart inside the
        epoch being read keeps that epoch's earlier iterations."""
        replaced = [e for e in self._epochs if e >= epoch]
        inside = train_iter is not None and epoch == self._open_epoch and epoch in self._epochs
        if inside:
            self._open = {i: v for i, v in self._open.items() if i < train_iter}
            ep = self._epochs[epoch]
            ep.test = ep.finished = ep.best = None
        else:
            self._open_epoch, self._open = None, {}
        for e in replaced:
            if not (inside and e == epoch):
                del self._epochs[e]
        self.restarts += 1
        self.overridden_epochs += len(replaced)

    def _fold_open(self) -> None:
        """Bin the open epoch's train lines: from here on they can no longer be replaced."""
        ep = self._epochs.get(self._open_epoch)
        if ep is not None:
            for it, (iters, values) in self._open.items():  # in iteration order
                b = min(_BINS - 1, (it - 1) * _BINS // iters) if iters else 0
                acc = ep.bins.get(b)
                if acc is None:
                    acc = ep.bins[b] = _Mean()
                acc.add(values)
        self._open_epoch, self._open = None, {}

    # ---- results -------------------------------------------------------------------------

    def epochs(self) -> list[int]:
        return sorted(self._epochs)

    def train_means(self, epoch: int) -> dict:
        """Mean of every train column over the epoch (empty when it had no train lines)."""
        self._fold_open()
        total = _Mean()
        for acc in self._epochs[epoch].bins.values():
            total.merge(acc)
        return total.means()

    def train_bins(self, epoch: int) -> list[tuple[float, dict]]:
        """(fraction of the epoch at the bin's centre, means) for the unsmoothed curve."""
        self._fold_open()
        bins = self._epochs[epoch].bins
        return [((b + 0.5) / _BINS, bins[b].means()) for b in sorted(bins)]

    def val(self, epoch: int) -> dict:
        """Validation errors of an epoch: its Finished line, else its last Test averages."""
        ep = self._epochs[epoch]
        if ep.finished is not None:
            return {k: v for k, v in ep.finished.items() if k in ("top1", "top5")}
        if ep.test is not None:
            return {k[:-4]: v for k, v in ep.test.items() if k in ("top1_avg", "top5_avg")}
        return {}

    def epoch_loss(self, epoch: int) -> float | None:
        """Mean training loss: from train lines, else from a per-epoch record (json_stats)."""
        loss = self.train_means(epoch).get("loss")
        if loss is None and self._epochs[epoch].finished is not None:
            loss = self._epochs[epoch].finished.get("loss")
        return loss

    def best(self) -> dict | None:
        """Lowest validation top1 over the surviving epochs (first one on ties); a log without
        per-epoch results falls back to its "Best model" lines."""
        found = None
        for e in self.epochs():
            v = self.val(e)
            if "top1" in v and not math.isnan(v["top1"]):
                if found is None or v["top1"] < found["top1"]:
                    found = {"top1": v["top1"], "top5": v.get("top5"), "epoch": e, "source": "val"}
        if found is not None:
            return found
        lines = self._best_lines()
        if not lines:
            return None
        top1, top5, epoch = min(lines, key=lambda b: b[0])
        return {"top1": top1, "top5": top5, "epoch": epoch, "source": "best-model lines"}

    def last_best_line(self) -> dict | None:
        """The log's own last claim ("Best model" or final "Finished" line) that survives."""
        lines = self._best_lines()
        if not lines:
            return None
        top1, top5, epoch = lines[-1]
        return {"top1": top1, "top5": top5, "epoch": epoch}

    def _best_lines(self) -> list[tuple]:
        lines = [
            (ep.best["top1"], ep.best["top5"], e)
            for e, ep in sorted(self._epochs.items())
            if ep.best is not None
        ]
        return lines + [(t1, t5, None) for t1, t5 in self._orphan_best if t1 is not None]

    def summary(self) -> dict:
        """Everything `irv2-logs summary` prints, as plain data (JSON-ready)."""
        epochs = self.epochs()
        last_loss = None
        for e in reversed(epochs):
            loss = self.epoch_loss(e)
            if loss is not None:
                last_loss = {"epoch": e, "loss": loss}
                break
        last_val = None
        for e in reversed(epochs):
            v = self.val(e)
            if v:
                last_val = {"epoch": e, **v}
                break
        s = self.stats
        return {
            "name": self.name,
            "files": self.files,
            "lines": s.lines,
            "records": dict(self.counts),
            "epochs": len(epochs),
            "first_epoch": epochs[0] if epochs else None,
            "last_epoch": epochs[-1] if epochs else None,
            "best": self.best(),
            "last_best_line": self.last_best_line(),
            "last_val": last_val,
            "last_train_loss": last_loss,
            "restarts": self.restarts,
            "overridden_epochs": self.overridden_epochs,
            "unknown_lines": s.unknown,
            "unknown_samples": [list(x) for x in s.unknown_samples],
            "cut_lines": s.cut_lines,
            "last_line_cut": s.last_line_cut,
        }
