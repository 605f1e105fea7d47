"""One training run: which files form it and what it is called, and its records folded into
per-epoch results, the later run winning where a restart repeats epochs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from converter.errors import UserError
from evaluate.logs.parse import KINDS, ParseStats, Record, read_records

_BINS = 10  # train sub-epoch bins kept for unsmoothed curves: fixed, so memory is per epoch
_PART = re.compile(r"^(.*)\.(\d+)$")


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
