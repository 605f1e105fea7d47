"""Python expressions as small trees, printed the way `ruff format` prints them.

A generated file must pass `ruff format --check` without ruff installed where it is written, so
the printer keeps to the two shapes ruff leaves alone: an expression on one line where the whole
line fits in LINE_LENGTH, otherwise one item per line with a trailing comma (a "magic trailing
comma", which ruff keeps exploded at any line length).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Union

LINE_LENGTH = 100
INDENT = 4


@dataclass
class Atom:
    text: str

    def flat(self) -> str:
        return self.text


@dataclass
class Bracket:
    """`head(items)`, `[items]`, `(items)` or `{items}`; items are (prefix, value) pairs, the
    prefix being `name=` for a keyword argument or `"key": ` for a dict entry."""

    head: str
    open: str
    close: str
    items: list[tuple[str, Expr]] = field(default_factory=list)

    def flat(self) -> str:
        inner = ", ".join(prefix + value.flat() for prefix, value in self.items)
        if self.open == "(" and not self.head and len(self.items) == 1:
            inner += ","  # a one-element tuple
        return f"{self.head}{self.open}{inner}{self.close}"


Expr = Union[Atom, Bracket]


def call(head: str, args: list[Expr], kwargs: dict[str, Expr] | None = None) -> Bracket:
    items = [("", a) for a in args] + [(f"{k}=", v) for k, v in (kwargs or {}).items()]
    return Bracket(head, "(", ")", items)


def literal(value: object) -> Atom | None:
    """A plain Python value as source, or None for a value that is not one."""
    if value is None or isinstance(value, bool):
        return Atom(repr(value))
    if isinstance(value, int):
        return Atom(str(int(value)))
    if isinstance(value, float):
        return Atom(repr(value) if math.isfinite(value) else f'float("{value}")')
    if isinstance(value, str):
        return Atom(json.dumps(value))  # double quotes, as ruff writes them
    return None


def lines(expr: Expr, indent: int, lead: str = "", trail: str = "") -> list[str]:
    """`expr` printed at `indent`, after `lead` ("x = ", "return ") and before `trail` (",")."""
    pad = " " * indent
    one = f"{pad}{lead}{expr.flat()}{trail}"
    if isinstance(expr, Atom) or len(one) <= LINE_LENGTH or not expr.items:
        return [one]
    out = [f"{pad}{lead}{expr.head}{expr.open}"]
    for prefix, value in expr.items:
        out += lines(value, indent + INDENT, prefix, ",")
    return out + [f"{pad}{expr.close}{trail}"]
