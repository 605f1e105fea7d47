"""The clock and the timing rounds the benchmarks share (bench_translate.py, bench_recurrent.py,
bench_pysource.py, bench_peer.py): calls are timed in rounds that each last long enough to
average out jitter, and the least disturbed round counts.

On a machine others share, --clock cpu (one thread, this process's CPU time) is steadier than
wall time; `use_clock` switches every timing here at once.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

CLOCK = time.perf_counter  # --clock cpu: time.process_time (this process's CPU seconds)


def timed(fn: Callable):  # noqa: ANN201 - (seconds, whatever fn returns)
    start = CLOCK()
    result = fn()
    return CLOCK() - start, result


def per_call(fn: Callable, calls: int) -> float:
    """Seconds per call of `fn`, averaged over `calls` calls (one timing round)."""
    start = CLOCK()
    for _ in range(calls):
        fn()
    return (CLOCK() - start) / calls


def calls_per_round(seconds_per_call: float, round_seconds: float) -> int:
    """How many calls of that length make a round of at least about `round_seconds`."""
    return max(1, round(round_seconds / seconds_per_call))


def best_per_call(fn: Callable, round_seconds: float, rounds: int) -> float:
    """Seconds per call of `fn`: the least over `rounds` rounds, sized by a first call that
    does not count (it also warms up)."""
    return best_alternating({"fn": fn}, round_seconds, rounds)["fn"]


def best_alternating(
    contestants: dict[str, Callable], round_seconds: float, rounds: int
) -> dict[str, float]:
    """`best_per_call` of each contestant, their rounds alternating, so that a slow spell of
    the machine falls on all of them alike."""
    calls = {name: calls_per_round(timed(fn)[0], round_seconds) for name, fn in contestants.items()}
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(rounds):
        for name, fn in contestants.items():
            times[name].append(per_call(fn, calls[name]))
    return {name: min(t) for name, t in times.items()}


def timing_options(ap: argparse.ArgumentParser, forwards: int = 15) -> None:
    """--forwards, --round and --clock: the rounds of forwards, their length, the clock."""
    ap.add_argument("--forwards", type=int, default=forwards, help="rounds of forwards")
    ap.add_argument("--round", type=float, default=0.3, help="seconds a round lasts at least")
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: this process's CPU time on one thread, steadier where others share the CPUs",
    )


def use_clock(clock: str) -> None:
    """--clock cpu: time with this process's CPU seconds, on one thread."""
    if clock == "cpu":
        global CLOCK
        CLOCK = time.process_time
        torch.set_num_threads(1)


def clock_name() -> str:
    """The clock in use, in words."""
    return "CPU" if CLOCK is time.process_time else "wall"
