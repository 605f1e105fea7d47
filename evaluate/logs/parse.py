"""Read fb.resnet.torch training logs (and their relatives) as a stream of records.

Real logs are `tee` captures: options and model printouts, warnings and debug lines between the
results, restarted runs appended to the same file, files split in parts, a last line cut when
the job died. `read_records` turns any of them into `Record`s without ever holding the log in
memory; `Run` (runs.py) folds records into per-epoch results (memory grows with epochs, not
lines), with the later run winning where a restart repeats epochs. Nothing unrecognised is
fatal: such lines are counted, and a few are kept as samples so a user can see what was skipped.
irv2-train's train.jsonl, the same results as JSON records, is recognised by its first line and
read into the same records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

from converter.errors import UserError

KINDS = ("train", "test", "epoch", "best")
_SAMPLES = 5
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


def read_records(paths: Sequence[Path], stats: ParseStats | None = None) -> Iterator[Record]:
    """Stream the records of one run written across `paths` (its parts, in order)."""
    stats = stats if stats is not None else ParseStats()
    for p in paths:
        if Path(p).is_dir():
            logs = sorted(q.name for q in Path(p).iterdir() if q.suffix in (".log", ".txt"))
            inside = f" (it holds {', '.join(logs[:3])})" if logs else ""
            raise UserError(f"{p}: a directory, not a log file; give the log file itself{inside}")
        if not Path(p).is_file():
            raise UserError(f"{p}: no such log file; give the path of a training log")
    context = [None]  # epoch of the latest record: where a "Best model" line belongs
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            parse = parse_jsonl if _is_jsonl(f) else parse_lines
            yield from parse(f, stats, str(p), context)


def _is_jsonl(f: TextIO) -> bool:
    """irv2-train's train.jsonl rather than a text log: its first non-blank line is one of
    its records (a Lua log may open with a printed options table, `{`, too). The file is left
    at its start."""
    for line in f:
        if line.strip():
            f.seek(0)
            return line.lstrip().startswith("{") and _jsonl_record(line) is not None
    f.seek(0)
    return False


# train.jsonl record fields -> the names the text log's columns are parsed to.
_JSONL_NAMES = {"data_time": "data", "test_top1": "top1", "test_top5": "top5"}


def parse_jsonl(
    lines: Iterable[str],
    stats: ParseStats,
    source: str = "<log>",
    context: list | None = None,
) -> Iterator[Record]:
    """Records from irv2-train's train.jsonl: `train` and `test` records are its Epoch and Test
    lines, an `epoch` record its Finished line (validation top1/top5, when it validated) with
    the epoch's train means beside. A line that is no such record is counted as unknown; a
    last line without a newline as cut."""
    context = context if context is not None else [None]
    stats.last_line_cut = False
    number = stats.lines
    start = number
    for line in lines:
        number += 1
        if not line.endswith("\n"):
            stats.last_line_cut = True
            stats.cut_lines += 1
            continue
        if line.isspace():
            continue
        rec = _jsonl_record(line)
        if rec is None:
            stats.unknown += 1
            if len(stats.unknown_samples) < _SAMPLES:
                stats.unknown_samples.append((source, number - start, line.rstrip()))
            continue
        context[0] = rec.epoch
        yield rec
    stats.lines = number


def _jsonl_record(line: str) -> Record | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    kind, epoch = (obj.get("type"), obj.get("epoch")) if isinstance(obj, dict) else (None, None)
    if kind not in ("train", "test", "epoch") or not isinstance(epoch, int):
        return None
    values = {
        _JSONL_NAMES.get(k, k): float(v)
        for k, v in obj.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
        and k not in ("epoch", "iter", "iters")
    }  # fmt: skip
    if kind == "epoch":
        return Record(kind, epoch, None, None, values)
    iters = obj.get("iters")
    if not isinstance(obj.get("iter"), int) or not isinstance(iters, int):
        return None
    return Record(kind, epoch, obj["iter"], iters, values)


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
