"""What a training session prints and logs: fb.resnet.torch's text lines (stdout and train.log,
byte for byte the Lua format, readable by irv2-logs beside Lua logs) and the same numbers as
train.jsonl; on a terminal, a progress line redrawn in place with images/s and the epoch's ETA.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_WIDTH = 160  # of the redrawn terminal line


def epoch_status(images_per_s: float, iters_left: int, s_per_iter: float) -> str:
    """The terminal's progress note: throughput and the time left in the epoch."""
    eta = round(iters_left * s_per_iter)
    return (
        f"{images_per_s:.1f} images/s, epoch ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}"
    )


class TrainLog:
    """fb.resnet.torch text lines (stdout and train.log) plus the same numbers as JSONL.

    On a terminal the per-iteration lines become one progress line, with the epoch's images/s
    and ETA (`status`); files always get all lines, exactly as Lua wrote them. Only rank 0
    writes.
    """

    def __init__(
        self, run_dir: Path | None, enabled: bool, tty: bool | None = None, quiet: bool = False
    ):
        self.enabled = enabled
        self.quiet = quiet  # -q: the files only, nothing on the terminal
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.text = self.jsonl = None
        self.line_open = False  # a progress line drawn on the terminal without its newline
        if enabled and run_dir is not None:
            self.text = open(run_dir / "train.log", "a", buffering=1)  # noqa: SIM115
            self.jsonl = open(run_dir / "train.jsonl", "a", buffering=1)  # noqa: SIM115

    def line(
        self,
        text: str,
        record: dict[str, Any] | None = None,
        progress: bool = False,
        status: str = "",
    ) -> None:
        """`text` to the files and stdout; with `progress`, on a terminal, it is redrawn in
        place with `status` after it."""
        if not self.enabled:
            return
        if not self.quiet:
            self._show(text, progress, status)
        if self.text is not None:
            self.text.write(text + "\n")
        if self.jsonl is not None and record is not None:
            self.jsonl.write(json.dumps(record) + "\n")

    def _show(self, text: str, progress: bool, status: str) -> None:
        if progress and self.tty:
            shown = text.strip() + (f"  | {status}" if status else "")
            sys.stdout.write("\r" + shown[:_WIDTH].ljust(_WIDTH))
            sys.stdout.flush()
            self.line_open = True
            return
        if self.line_open:
            sys.stdout.write("\r" + " " * _WIDTH + "\r")
            self.line_open = False
        print(text, flush=True)

    def record(self, record: dict[str, Any]) -> None:
        """A JSONL-only record (the epoch summary has no Lua line of its own)."""
        if self.jsonl is not None:
            self.jsonl.write(json.dumps(record) + "\n")

    def close(self) -> None:
        if self.line_open:  # a message after an error or Ctrl-C starts on a line of its own
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.line_open = False
        for f in (self.text, self.jsonl):
            if f is not None:
                f.close()
