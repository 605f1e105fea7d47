"""The list of Torch7 classes the generic translator knows (docs/supported-classes.md),
generated from the registry.

    python scripts/supported_classes.py           # print the list
    python scripts/supported_classes.py --write   # rewrite it in the page, between the markers

Grouped by the layers/ module that translates each class (its family: a layer family of nn, or
a library built on it, dpnn, nnx, stn, ...); tests check that the page holds exactly this text,
so the list cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from converter.generic import layers, registry  # noqa: F401 - layers registers the built-ins

PAGE = Path(__file__).resolve().parent.parent / "docs" / "supported-classes.md"
START, END = "<!-- supported-classes:start -->", "<!-- supported-classes:end -->"


def families() -> dict[str, list[str]]:
    """Family (the layers/ module name) -> its registered class names, both sorted."""
    found: dict[str, list[str]] = {}
    for name in registry.supported():
        family = registry.lookup(name).build.__module__.rpartition(".")[2]
        found.setdefault(family, []).append(name)
    return dict(sorted(found.items()))


def render() -> str:
    names = registry.supported()
    lines = [
        START,
        f"{len(names)} classes; any other `cudnn.X` is translated as `nn.X`.",
        "",
        "| family (`converter/generic/layers/`) | Torch7 classes |",
        "|---|---|",
    ]
    lines += [
        f"| `{family}` | {', '.join(f'`{n}`' for n in classes)} |"
        for family, classes in families().items()
    ]
    return "\n".join([*lines, END])


def page_block(text: str) -> str:
    """The page's current list, markers included ('' when the markers are missing)."""
    if START not in text or END not in text:
        return ""
    return text[text.index(START) : text.index(END) + len(END)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"rewrite the list in {PAGE.name}")
    args = ap.parse_args()
    block = render()
    if not args.write:
        print(block)
        return
    text = PAGE.read_text()
    old = page_block(text)
    if not old:
        sys.exit(f"{PAGE}: no {START} ... {END} markers to write between")
    PAGE.write_text(text.replace(old, block))


if __name__ == "__main__":
    main()
