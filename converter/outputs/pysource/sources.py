"""The source of the classes a generated `.py` needs, taken from the code the translator runs.

One source of truth: a helper class (Torch7's padding rules, ceil-mode pooling, ...) is copied
into the generated file with `inspect.getsource` from the module that defines it, together with
what it uses from that module (functions, classes, constants, by their own source text) and the
imports it needs (as that module wrote them). What can be copied: code of this project, of a
user's plugin, or of `__main__`; imports of the standard library and torch. Anything else (a
class defined inside a function, numpy, another package's class, an import the generated file
could not make without this project) is refused in one line naming it.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from converter.errors import UserError

# module-name prefixes whose code may be copied: this project's and --plugin files'
COPYABLE = ("converter", "t7convert_plugin_", "__main__")
IMPORTABLE_THIRD_PARTY = ("torch",)


class NotWritableError(UserError):
    """The model holds something that cannot be written as self-contained source."""


def torch_nn_name(cls: type) -> str | None:
    """`nn.Conv2d` for a class torch.nn exports under its own name; None for the others."""
    return f"nn.{cls.__name__}" if getattr(nn, cls.__name__, None) is cls else None


def _copyable(module_name: str) -> bool:
    return any(module_name == p or module_name.startswith(p) for p in COPYABLE)


def _importable(module_name: str) -> bool:
    top = module_name.partition(".")[0]
    return top in sys.stdlib_module_names or top in IMPORTABLE_THIRD_PARTY


@dataclass
class _ModuleSource:
    """One defining module's parsed source: its top-level statements by the names they bind."""

    module: types.ModuleType
    imports: dict[str, ast.stmt] = field(default_factory=dict)  # bound name -> import statement
    assignments: dict[str, ast.stmt] = field(default_factory=dict)  # NAME = ... at top level
    text: str = ""


@dataclass
class SourceSet:
    """What the generated file defines (in dependency order) and imports.

    `require(cls)` adds a class with everything it uses; `imports` maps an import line's module
    to the names it binds ("torch.nn.functional as F" style lines are kept in `plain`)."""

    definitions: dict[str, str] = field(default_factory=dict)  # name -> its source, in order
    origins: dict[str, object] = field(default_factory=dict)  # name -> the object it defines
    from_imports: dict[str, set[str]] = field(default_factory=dict)  # module -> names
    plain_imports: set[str] = field(default_factory=set)  # "import torch", "import x as y"
    # name -> what binds it in the file: one name, one meaning (the file's own functions too)
    bound: dict[str, str] = field(
        default_factory=lambda: {"build": "the generated build()", "load": "the generated load()"}
    )

    def bind(self, name: str, meaning: str, what: str) -> None:
        """Claim `name` at the generated file's top level for `meaning`."""
        if self.bound.setdefault(name, meaning) != meaning:
            raise NotWritableError(
                f"{what}: the .py would need the name {name} for both {self.bound[name]} and "
                f"{meaning}; rename one"
            )

    def reference(self, cls: type, what: str) -> str:
        """The name the generated code calls `cls` by, its source copied in where needed."""
        name = torch_nn_name(cls)
        if name is not None:
            self.add_from_import("torch", "nn")
            return name
        self.require(cls, what)
        return cls.__name__

    def add_from_import(self, module: str, name: str, what: str = "the model") -> None:
        self.bind(name, f"from {module} import {name}", what)
        self.from_imports.setdefault(module, set()).add(name)

    def add_import(self, module: str, alias: str | None = None, what: str = "the model") -> None:
        line = f"import {module}" + (f" as {alias}" if alias and alias != module else "")
        self.bind(alias or module, line, what)
        self.plain_imports.add(line)

    def require(self, obj: object, what: str) -> None:
        """Copy `obj` (a class or function) and what it uses; `what` names it in a refusal."""
        name = getattr(obj, "__name__", "")
        if self.origins.get(name) is obj:
            return
        if name in self.origins:
            raise NotWritableError(
                f"{what}: two different definitions are both called {name} "
                f"({_where(self.origins[name])} and {_where(obj)}); rename one"
            )
        self.bind(name, _where(obj), what)
        module_name = getattr(obj, "__module__", "") or ""
        if not _copyable(module_name):
            raise NotWritableError(
                f"{what}: {_where(obj)} is neither this project's nor a --plugin file's code, so "
                "the .py cannot copy it"
            )
        if "<locals>" in getattr(obj, "__qualname__", ""):
            raise NotWritableError(
                f"{what}: {_where(obj)} is defined inside a function; only top-level classes "
                "and functions can be copied into the .py"
            )
        parsed = self._parse(module_name, what)
        text = _source(obj)
        if text is None:
            raise NotWritableError(f"{what}: no source for {_where(obj)}")
        self.origins[name] = obj  # before its dependencies: recursion ends here
        for used in sorted(_free_names(text) - {name}):
            self._resolve(used, parsed, f"{what} (through {name})")
        self.definitions[name] = text

    def _resolve(self, name: str, parsed: _ModuleSource, what: str) -> None:
        module = parsed.module
        if name in parsed.imports:
            value = getattr(module, name, None)
            if isinstance(value, types.ModuleType):
                self._import_module(parsed.imports[name], name, value, what)
            elif _importable(getattr(value, "__module__", "") or "") or _is_typing(value):
                self._import_name(parsed.imports[name], name, what)
            else:
                self.require(value, what)
        elif name in parsed.assignments:
            if name not in self.definitions:
                self.bind(name, f"{module.__name__}.{name}", what)
                text = ast.get_source_segment(parsed.text, parsed.assignments[name]) or ""
                self.origins[name] = parsed.assignments[name]
                for used in sorted(_free_names(text) - {name}):
                    self._resolve(used, parsed, what)
                self.definitions[name] = text
        elif name in vars(module) and not hasattr(builtins, name):
            self.require(vars(module)[name], what)

    def _import_module(self, stmt: ast.stmt, name: str, value: types.ModuleType, what: str):
        if not _importable(value.__name__):
            raise NotWritableError(
                f"{what}: uses the module {value.__name__}, which the generated file cannot "
                "import (it depends on torch and the standard library only)"
            )
        if isinstance(stmt, ast.ImportFrom):
            self.add_from_import(stmt.module or "", name, what)
        else:
            self.add_import(value.__name__, name, what)

    def _import_name(self, stmt: ast.stmt, name: str, what: str) -> None:
        if not isinstance(stmt, ast.ImportFrom) or not _importable(stmt.module or ""):
            raise NotWritableError(f"{what}: cannot import {name} in the generated file")
        original = next(a.name for a in stmt.names if (a.asname or a.name) == name)
        if original != name:
            raise NotWritableError(f"{what}: imports {original} as {name}; import it by its name")
        self.add_from_import(stmt.module or "", name, what)

    def _parse(self, module_name: str, what: str) -> _ModuleSource:
        parsed = _parsed(sys.modules.get(module_name))
        if parsed is None:
            raise NotWritableError(f"{what}: no source for {module_name}")
        return parsed

    def import_lines(self) -> list[str]:
        """The import block, sorted as ruff's isort sorts it (sections: __future__, standard
        library, third party; `import x` before `from x import y`; constants, classes, then the
        rest within a line)."""
        sections: list[list[str]] = [["from __future__ import annotations"], [], []]
        plain = sorted(self.plain_imports, key=lambda s: s.split()[1].lower())
        froms = sorted(self.from_imports.items(), key=lambda kv: kv[0].lower())
        for line in plain:
            sections[_section(line.split()[1])].append(line)
        for module, names in froms:
            if module != "__future__":
                joined = ", ".join(sorted(names, key=_member_key))
                sections[_section(module)].append(f"from {module} import {joined}")
        return ["\n".join(lines) for lines in sections if lines]


# Sources read once per process: a model's classes repeat across files and in the tests.
@functools.lru_cache(maxsize=1024)
def _source(obj: object) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return None


@functools.lru_cache(maxsize=256)
def _parsed(module: types.ModuleType | None) -> _ModuleSource | None:
    """`module`'s top-level imports and assignments by the names they bind (cached by the module
    object: a plugin file loaded again is a new module)."""
    try:
        text = inspect.getsource(module)
    except (OSError, TypeError):
        return None
    parsed = _ModuleSource(module, text=text)
    for stmt in ast.parse(text).body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                parsed.imports[alias.asname or alias.name.partition(".")[0]] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    parsed.assignments[t.id] = stmt
    return parsed


def _section(module: str) -> int:
    return 1 if module.partition(".")[0] in sys.stdlib_module_names else 2


def _member_key(name: str) -> tuple[int, str]:
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[:1].isupper() else 2), name.lower()


def _is_typing(value: object) -> bool:
    return getattr(value, "__module__", None) in ("typing", "collections.abc")


def _where(obj: object) -> str:
    """`qualname (file.py)` for a plugin's code, `module.qualname` for the rest."""
    if isinstance(obj, ast.AST):
        return "a module-level value"
    module = getattr(obj, "__module__", "?") or "?"
    name = getattr(obj, "__qualname__", repr(obj))
    if module.startswith("t7convert_plugin_"):
        return f"{name} ({Path(getattr(sys.modules.get(module), '__file__', module)).name})"
    return f"{module}.{name}"


@functools.lru_cache(maxsize=1024)
def _free_names(text: str) -> frozenset[str]:
    """Every name the code reads (annotations included: ruff checks them too)."""
    return frozenset(n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name))
