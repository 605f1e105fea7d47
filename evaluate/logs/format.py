"""The fb.resnet.torch log lines, written byte for byte as Lua Torch7 printed them.

The PyTorch trainer writes its log with these functions so that old and new logs read the same
way (by people, by grep, and by `evaluate.logs.parse`). Each function returns the text Lua passed
to `print`, including the TAB that Torch's REPL `print` appends after every argument; Python's
`print(line)` then adds the newline, as Lua did. top1/top5 are error percentages.
"""

from __future__ import annotations

_TAB = "\t"


def format_epoch_header(epoch: int) -> str:
    """main.lua: `print('=> Training epoch # ' .. epoch)`."""
    return f"=> Training epoch # {epoch}{_TAB}"


def format_train_line(
    epoch: int,
    n: int,
    n_total: int,
    time: float,
    data_time: float,
    loss: float,
    top1: float,
    top5: float,
) -> str:
    """train.lua, one line per training batch (n is 1-based, n_total batches per epoch)."""
    return (
        f" | Epoch: [{epoch:d}][{n:d}/{n_total:d}]    Time {time:.3f}  Data {data_time:.3f}"
        f"  Err {loss:1.4f}  top1 {top1:7.3f}  top5 {top5:7.3f}{_TAB}"
    )


def format_test_line(
    epoch: int,
    n: int,
    n_total: int,
    time: float,
    data_time: float,
    top1: float,
    top1_avg: float,
    top5: float,
    top5_avg: float,
) -> str:
    """train.lua test loop: this batch's errors, then in brackets the running averages."""
    return (
        f" | Test: [{epoch:d}][{n:d}/{n_total:d}]    Time {time:.3f}  Data {data_time:.3f}"
        f"  top1 {top1:7.3f} ({top1_avg:7.3f})  top5 {top5:7.3f} ({top5_avg:7.3f}){_TAB}"
    )


def format_finished_line(epoch: int, top1: float, top5: float) -> str:
    """train.lua after testing: the format string ends in a newline, so the REPL's TAB lands
    alone on the next line (the TAB-only lines of real logs)."""
    return f" * Finished epoch # {epoch:d}     top1: {top1:7.3f}  top5: {top5:7.3f}\n{_TAB}"


def format_best_line(top1: float, top5: float) -> str:
    """main.lua: `print(' * Best model ', testTop1, testTop5)`: TAB-joined, numbers as Lua's
    tostring writes them (%.14g)."""
    return f" * Best model {_TAB}{_lua_number(top1)}{_TAB}{_lua_number(top5)}{_TAB}"


def format_final_line(best_top1: float, best_top5: float) -> str:
    """main.lua after the last epoch: the best errors of the whole run."""
    return f" * Finished top1: {best_top1:6.3f}  top5: {best_top5:6.3f}{_TAB}"


def _lua_number(x: float) -> str:
    return format(x, ".14g")
