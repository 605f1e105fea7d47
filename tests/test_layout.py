"""docs/layout.md is the map a newcomer reads first: it must name every package of the tree (and
nothing that is gone), and no module may outgrow one job (~400 lines). The README stays a front
page that links every docs/ page."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def layout_packages() -> set[str]:
    text = (REPO / "docs" / "layout.md").read_text()
    block = text.split("```", 2)[1]
    return {m for m in re.findall(r"^([\w/]+/)\s+\S", block, re.M)}


def tree_packages() -> set[str]:
    found = {f"{p.parent.relative_to(REPO)}/" for p in REPO.glob("*/**/__init__.py")}
    return {p for p in found if not p.startswith(("tests/", "build/", "."))}  # .venv/ too


def test_layout_section_lists_every_package_and_only_those():
    listed = layout_packages()
    packages = tree_packages()
    assert packages <= listed, f"packages missing from docs/layout.md: {sorted(packages - listed)}"
    others = {p for p in listed - packages if not (REPO / p).is_dir()}
    assert not others, f"docs/layout.md names what is not in the tree: {sorted(others)}"
    assert {"converter/generic/layers/", "evaluate/train/", "tests/"} <= listed


def test_no_module_over_the_size_of_one_job():
    sources = [p for d in ("converter", "evaluate", "mappings") for p in (REPO / d).rglob("*.py")]
    assert len(sources) > 40
    long = {
        str(p.relative_to(REPO)): n
        for p in sources
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these along a seam (over {MAX_LINES} lines): {long}"


def test_the_readme_is_a_front_page_linking_every_docs_page():
    readme = (REPO / "README.md").read_text()
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md"))
    missing = [name for name in pages if f"(docs/{name})" not in readme]
    assert not missing, f"README's 'More documentation' does not link: {missing}"
    assert len(readme.splitlines()) <= 150, "README is the front page; move details to docs/"
    cpu_torch = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert readme.index(cpu_torch) < readme.index("pip install . && t7convert")
    assert 'pip install -e ".[test]" && python -m pytest -q' in readme  # what .ci/run runs
