"""Every public entry point the README, docs/ and pyproject name imports from a fresh interpreter,
in either order relative to the modules behind it, and is what it claims (a function or class, never
a module that shadows it: `converter.translate` once was both)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_imports() -> list[tuple[str, str]]:
    """(module, name) for every `from X import a, b` line in the README's and docs' code."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    text = "\n".join(p.read_text() for p in pages)
    found = []
    for module, names in re.findall(
        r"^from ((?:converter|evaluate)[\w.]*) import (.+)$", text, re.M
    ):
        found += [(module, n.strip()) for n in names.split("#")[0].split(",") if n.strip()]
    return found


def console_scripts() -> list[tuple[str, str]]:
    """(module, function) of every [project.scripts] entry (a regex: tomllib is Python >= 3.11)."""
    text = (REPO / "pyproject.toml").read_text()
    section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    return re.findall(r'^[\w-]+ = "([\w.]+):(\w+)"', section, re.M)


ENTRY_POINTS = readme_imports() + console_scripts()


def test_the_readme_names_entry_points():
    assert ("converter", "translate") in ENTRY_POINTS
    assert len(ENTRY_POINTS) >= 10


def _check_in_fresh_interpreter(code: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize("order", ["name first", "submodules first"])
def test_entry_points_import_in_either_order(order):
    """All entry points in one interpreter; 'submodules first' imports every submodule of the
    packages before the names, which is what made `from converter import translate` a module."""
    targets = sorted(set(ENTRY_POINTS))
    code = f"""
import importlib, inspect, pkgutil, types
targets = {targets!r}
def load_all_submodules():
    for pkg in ("converter", "evaluate"):
        root = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(root.__path__, pkg + "."):
            importlib.import_module(info.name)
def check():
    for module, name in targets:
        obj = getattr(importlib.import_module(module), name)
        assert not isinstance(obj, types.ModuleType), f"{{module}}.{{name}} is a module"
        assert callable(obj), f"{{module}}.{{name}} is not callable"
if {order == "submodules first"!r}:
    load_all_submodules()
    check()
else:
    check()
    load_all_submodules()
    check()
"""
    _check_in_fresh_interpreter(code)
