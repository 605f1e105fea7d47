"""The forms irv2-classify gives its results in: classify.lua's printed lines, JSON and CSV.

classify.lua prints through trepl's `print`, which writes each argument as `tostring(arg)` and
a tab, so every line ends in a tab: `Classes for\t<file>\t`, then `<prob>\t<name>\t` per rank,
then `print('')`'s lone tab. The lines here are those without the trailing tab, with the WNID
after the name where the class has one. Lua's `tostring` of a number is `%.14g` of the double,
and the probability is a float32 widened to a double, so `'%.14g' % prob` prints Lua's digits.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from evaluate.pretrained.classify import ImageResult

CSV_COLUMNS = ("file", "rank", "index", "wnid", "name", "prob", "logit", "preprocess", "error")


def lua_number(value: float) -> str:
    """Lua's `tostring` of a number (`%.14g`): 0.011160461232066, 2.0246767235221e-05, 1."""
    return f"{value:.14g}"


def lua_lines(result: ImageResult) -> list[str]:
    """classify.lua's lines for one image (trailing tabs dropped), the WNID after each name."""
    lines = [f"Classes for\t{result.file}"]
    for p in result.predictions:
        lines.append("\t".join([lua_number(p.prob), p.name] + ([p.wnid] if p.wnid else [])))
    return lines + [""]


def json_record(result: ImageResult, preprocess: dict[str, Any]) -> dict[str, Any]:
    """One image: `file`, `preprocess`, `predictions` in rank order (and `error` if unread)."""
    record: dict[str, Any] = {
        "file": result.file,
        "preprocess": preprocess,
        "predictions": [
            {
                "rank": p.rank,
                "index": p.index,
                "wnid": p.wnid,
                "name": p.name,
                "prob": p.prob,
                "logit": p.logit,
            }
            for p in result.predictions
        ],
    }
    if result.error is not None:
        record["error"] = result.error
    return record


def json_text(results: Iterable[ImageResult], preprocess: dict[str, Any]) -> str:
    return json.dumps([json_record(r, preprocess) for r in results], indent=2) + "\n"


def csv_text(results: Iterable[ImageResult], preprocess: str) -> str:
    """One row per prediction (an unreadable file: one row with its error), header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        if r.error is not None:
            writer.writerow([r.file, "", "", "", "", "", "", preprocess, r.error])
        for p in r.predictions:
            row = [r.file, p.rank, p.index, p.wnid or "", p.name, repr(p.prob), repr(p.logit)]
            writer.writerow(row + [preprocess, ""])
    return out.getvalue()
