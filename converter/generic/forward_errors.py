"""An error in a translated network's forward names the Torch7 module it happened in.

A shape mismatch deep inside a translated network ("running_mean should contain 16 elements
not 8") says nothing about which of the file's modules is at fault. On an exception the root
finds the innermost frame of the traceback whose `self` is one of the network's modules, and
the message gains that module's Torch7 class and path. A root whose class catches its own
forward's errors (a `Chain`: an `_on_error` attribute) is given the handler, which costs nothing
until something raises; any other root gets one forward hook that PyTorch also calls when the
forward raises (always_call), which costs a few microseconds per call (nn.Module's hook path).
Nothing is added per module.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from torch import nn

from converter.torch7.modules import show


class Torch7Paths:
    """Names the Torch7 module that raised an exception in the root's forward. `classes` maps
    a Torch7 path (a state_dict prefix) to its Torch7 class name."""

    def __init__(self, classes: dict[str, str]):
        self.classes = classes

    def hook(self, root: nn.Module, args: Any, output: Any) -> None:
        """A forward hook (always_call): PyTorch calls it with the exception being raised."""
        self(root, sys.exc_info()[1])

    def __call__(self, root: nn.Module, error: BaseException | None) -> None:
        if not isinstance(error, Exception) or getattr(error, "_torch7_path", False):
            return
        where = self.where(root, error.__traceback__)
        if where is None:
            return
        error._torch7_path = True  # an outer translated network does not add its own
        if len(error.args) == 1 and isinstance(error.args[0], str):
            error.args = (f"{where}: {error.args[0]}",)
        elif hasattr(error, "add_note"):  # Python 3.11+; before, such an error stays as it was
            error.add_note(where)

    def where(self, root: nn.Module, tb: TracebackType | None) -> str | None:
        """'nn.X at path' of the innermost module of this network in the traceback."""
        paths = {id(m): p for p, m in root.named_modules(remove_duplicate=False)}
        found = None
        while tb is not None:
            owner = tb.tb_frame.f_locals.get("self")
            if isinstance(owner, nn.Module) and id(owner) in paths:
                found = paths[id(owner)]
            tb = tb.tb_next
        if found is None:
            return None
        cls = self.classes.get(found, type(root.get_submodule(found)).__name__)
        return f"{cls} at {show(found)}"


def name_forward_errors(root: nn.Module, classes: dict[str, str]) -> nn.Module:
    """`root`, its forward's exceptions naming the Torch7 module that raised them."""
    if hasattr(type(root), "_on_error"):  # the class catches its forward's errors itself
        root._on_error = Torch7Paths(classes)
    else:
        root.register_forward_hook(Torch7Paths(classes).hook, always_call=True)
    return root
