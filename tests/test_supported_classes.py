"""docs/supported-classes.md's list of supported Torch7 classes is the registry's
(scripts/supported_classes.py writes it; this fails when a class is added or removed without
regenerating it)."""

from __future__ import annotations

from scripts_loader import load_script

from converter.generic import registry


def test_page_lists_exactly_the_registered_classes():
    script = load_script("supported_classes")
    block = script.page_block(script.PAGE.read_text())
    assert block, "docs/supported-classes.md has no supported-classes markers"
    listed = {cell.strip("`") for line in block.splitlines()[5:-1] for cell in
              line.split(" | ")[1].rstrip(" |").split(", ")}  # fmt: skip
    assert listed == set(registry.supported()), "run: python scripts/supported_classes.py --write"
    assert block == script.render()


def test_every_family_is_a_layers_module():
    script = load_script("supported_classes")
    for family, classes in script.families().items():
        assert classes, family
        assert all(registry.lookup(c).build.__module__ == f"converter.generic.layers.{family}"
                   for c in classes)  # fmt: skip
