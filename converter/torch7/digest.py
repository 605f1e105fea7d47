"""sha256 of the source checkpoint, computed on a second thread while the conversion runs.

Converted files record the source's sha256 so a user can tell which .t7 they came from. Hashing a
large checkpoint costs as much as reading it; hashlib releases the GIL on large chunks, so a
thread started early (t7convert starts it before importing torch) hides that cost.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path


class BackgroundSha256:
    def __init__(self, path: str | Path, chunk: int = 1 << 22):
        self._path, self._chunk = Path(path), chunk
        self._digest: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        h = hashlib.sha256()
        try:
            with open(self._path, "rb") as f:
                while chunk := f.read(self._chunk):
                    h.update(chunk)
            self._digest = h.hexdigest()
        except OSError as e:  # reported by the reader with a better message; kept for result()
            self._error = e

    @property
    def path(self) -> Path:
        return self._path

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest
