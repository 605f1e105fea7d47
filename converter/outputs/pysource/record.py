"""Which arguments built each module: what a generated `.py` calls its constructors with.

A translated or mapped model is an ordinary module tree; its classes do not keep their
constructor arguments (Concat keeps `dimension - 1`, a pooling module its derived geometry). So
while the model is built for a `.py`, every `nn.Module` construction is recorded: each module
class's own `__init__` is wrapped for the duration, and the outermost call for an object (the
class it is an instance of, before `super().__init__`) is the call the generated code repeats.
The project's classes, torch's and a plugin's alike, without anything in them knowing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

# id(module) -> (the module, kept alive so ids stay unique; args; kwargs)
Calls = dict[int, tuple[nn.Module, tuple[Any, ...], dict[str, Any]]]


def _module_classes() -> list[type]:
    found, seen, todo = [], {nn.Module}, [nn.Module]
    while todo:
        cls = todo.pop()
        found.append(cls)
        more = [c for c in cls.__subclasses__() if c not in seen]
        seen.update(more)
        todo.extend(more)
    return found


def _recorder(init: Callable[..., None], calls: Calls) -> Callable[..., None]:
    @functools.wraps(init)
    def recorded(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        if id(self) not in calls:
            calls[id(self)] = (self, args, kwargs)
        init(self, *args, **kwargs)

    return recorded


@contextmanager
def recording() -> Iterator[Calls]:
    """Within the block, each module made is recorded with its constructor arguments."""
    calls: Calls = {}
    wrapped = [(c, vars(c)["__init__"]) for c in _module_classes() if "__init__" in vars(c)]
    for cls, init in wrapped:
        cls.__init__ = _recorder(init, calls)
    try:
        yield calls
    finally:
        for cls, init in wrapped:
            cls.__init__ = init
