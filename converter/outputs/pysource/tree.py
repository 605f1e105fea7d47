"""A module tree as the constructor calls that build it again: the body of the generated
`build()`.

Each module is written as the call that made it (converter.outputs.pysource.record), with the
modules among its arguments written the same way, so containers nest as the Torch7 tree does
and a module its class builds itself (an IRv2 block's convolutions) needs nothing. A module
passed in two places (nngraph's shared modules, the pooling a SpatialMaxUnpooling reads) and a
container nested too deep to read inline get a variable of their own, named after their path.
An fx graph (nngraph's gModule) becomes a class of its own (converter.outputs.pysource.graphs).
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import torch
from torch import fx, nn

from converter.outputs.pysource import graphs
from converter.outputs.pysource.layout import INDENT, Atom, Bracket, Expr, call, lines, literal
from converter.outputs.pysource.record import Calls
from converter.outputs.pysource.sources import NotWritableError, SourceSet

# a container this far in gets a variable of its own, so its layers still fit on one line each
HOIST_INDENT = 5 * INDENT


class TreeWriter:
    """The statements of `build()` for one model, and the sources they need."""

    def __init__(self, root: nn.Module, calls: Calls, sources: SourceSet):
        self.calls, self.sources = calls, sources
        self.paths = {id(m): p for p, m in root.named_modules(remove_duplicate=True)}
        self.uses: dict[int, int] = {}
        self._count(root)
        self.variables: dict[int, str] = {}
        self.statements: list[str] = []  # the hoisted assignments, in the order they run
        self.classes: list[str] = []  # generated classes (written-out graphs)
        self.root = self.module(root, INDENT)

    def build_body(self) -> list[str]:
        return self.statements + lines(self.root, INDENT, "return ")

    def _where(self, m: nn.Module) -> str:
        path = self.paths.get(id(m))
        return type(m).__name__ + ("" if path is None else f" at {path or 'the root'}")

    def _arguments(self, m: nn.Module) -> Iterator[Any]:
        if isinstance(m, fx.GraphModule):  # every slot: a module two nodes share is in two
            yield from m._modules.values()
            return
        _, args, kwargs = self._recorded(m)
        yield from args
        yield from kwargs.values()

    def _count(self, value: Any) -> None:
        """How many times each module is passed to a constructor (or is the root)."""
        if isinstance(value, nn.Module):
            self.uses[id(value)] = self.uses.get(id(value), 0) + 1
            if self.uses[id(value)] == 1:
                for arg in self._arguments(value):
                    self._count(arg)
        elif isinstance(value, (list, tuple)):
            for v in value:
                self._count(v)
        elif isinstance(value, dict):
            for v in value.values():
                self._count(v)

    def _recorded(self, m: nn.Module) -> tuple[nn.Module, tuple, dict]:
        found = self.calls.get(id(m))
        if found is None:
            raise NotWritableError(
                f"{self._where(m)}: made without a constructor call (copied or unpickled), so it "
                "cannot be written as source"
            )
        return found

    def module(self, m: nn.Module, indent: int) -> Expr:
        """`m` as an expression at `indent`, or the variable it was put in."""
        if id(m) in self.variables:
            return Atom(self.variables[id(m)])
        shared = self.uses.get(id(m), 0) > 1
        deep = indent >= HOIST_INDENT and any(_holds_module(a) for a in self._arguments(m))
        if not (shared or deep):
            return self._construct(m, indent)
        name = self._variable(m)
        self.statements += lines(self._construct(m, INDENT), INDENT, f"{name} = ")
        self.variables[id(m)] = name
        return Atom(name)

    def _variable(self, m: nn.Module) -> str:
        path = self.paths.get(id(m)) or f"shared{len(self.variables)}"
        name = "m" + re.sub(r"\W", "_", path.replace(".", "_"))
        taken = set(self.variables.values()) | set(self.sources.bound)
        while name in taken:
            name += "_"
        return name

    def _construct(self, m: nn.Module, indent: int) -> Expr:
        where = self._where(m)
        if isinstance(m, fx.GraphModule):
            name, source = graphs.graph_class(m, self.paths.get(id(m), ""), self.sources)
            if source not in self.classes:
                self.classes.append(source)
            children = [
                (f"{literal(k).flat()}: ", self.module(c, indent + 2 * INDENT))
                for k, c in m._modules.items()
            ]
            return call(name, [Bracket("", "{", "}", children)])
        _, args, kwargs = self._recorded(m)
        head = self.sources.reference(type(m), where)
        inner = indent + INDENT
        return call(
            head,
            [self.value(a, inner, where) for a in args],
            {k: self.value(v, inner, where) for k, v in kwargs.items()},
        )

    def value(self, v: Any, indent: int, where: str) -> Expr:
        """A constructor argument as source."""
        if isinstance(v, nn.Module):
            return self.module(v, indent)
        plain = literal(v)
        if plain is not None:
            return plain
        inner = indent + INDENT
        if isinstance(v, OrderedDict):
            self.sources.add_from_import("collections", "OrderedDict", where)
            return call("OrderedDict", [self.value(dict(v), inner, where)])
        if isinstance(v, dict):
            items = [
                (f"{self.value(k, inner, where).flat()}: ", self.value(x, inner, where))
                for k, x in v.items()
            ]
            return Bracket("", "{", "}", items)
        if isinstance(v, (list, tuple)):
            open_, close = ("[", "]") if isinstance(v, list) else ("(", ")")
            return Bracket("", open_, close, [("", self.value(x, inner, where)) for x in v])
        if isinstance(v, (set, frozenset)):  # sorted: the same model, the same text
            items = [("", self.value(x, inner, where)) for x in sorted(v, key=repr)]
            if not items or isinstance(v, frozenset):
                return call(type(v).__name__, [Bracket("", "{", "}", items)] if items else [])
            return Bracket("", "{", "}", items)
        if isinstance(v, (torch.dtype, torch.device)):
            self.sources.add_import("torch", what=where)
            return Atom(f"torch.{v}" if isinstance(v, torch.dtype) else f'torch.device("{v}")')
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            fields = [f for f in dataclasses.fields(v) if f.init]
            head = self.sources.reference(type(v), where)
            return call(
                head, [], {f.name: self.value(getattr(v, f.name), inner, where) for f in fields}
            )
        raise NotWritableError(
            f"{where}: built with a {type(v).__name__} argument, which cannot be written as source"
        )


def _holds_module(value: Any) -> bool:
    if isinstance(value, nn.Module):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and any(_holds_module(v) for v in value)
