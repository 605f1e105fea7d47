"""Ctrl-C held back while a block that must finish runs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interrupt_deferred() -> Iterator[None]:
    """Ctrl-C inside the block takes effect when the block ends: what it writes and records (a
    checkpoint, and the note of which one the interrupted run should resume from) is all done
    or not begun. Where Python's own Ctrl-C handler is not the one in place (another thread,
    SIGINT ignored, a program's own handler), the block runs as it is."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt
