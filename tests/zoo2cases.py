"""One zoo2 case (MANIFEST-zoo2 §1: a Lua table {module, input, output, mode, doc}) through the
generic translator, compared with the output Torch7 wrote; shared by the tests/test_zoo2_*.py
files, and by the zoo3 ones (same conventions, plus input2/output2, … for stateful cases:
consecutive forwards of one module). Tables (Lua) are lists on both sides and are compared
entry by entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from t7compare import assert_close, tensor

from converter.generic.translator import translate
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7


def load_case(fixtures: Path, name: str, zoo: str = "zoo2") -> dict:
    case = load_t7(fixtures / zoo / f"{name}.t7")
    assert case["mode"] == "evaluate", f"{name}: not an evaluate-mode case"
    return case


def compare(got: Any, ref: Any, what: str) -> None:
    """assert_close on tensors; a table must be a list of as many entries, each compared."""
    if isinstance(ref, list):
        assert isinstance(got, list), f"{what}: got {type(got).__name__}, Torch7 gave a table"
        assert len(got) == len(ref), f"{what}: {len(got)} entries, Torch7 gave {len(ref)}"
        for i, (g, r) in enumerate(zip(got, ref), start=1):
            compare(g, r, f"{what}[{i}]")
    else:
        assert_close(got, ref, what)


def forward(module: torch.nn.Module, x: Any) -> Any:
    with torch.no_grad():
        return module(x)


def check_case(fixtures: Path, name: str) -> tuple[dict, torch.nn.Module, Any, Any]:
    """Translate the case's module, run its input, compare with its output.
    Returns (case, translated module, the input as run, the output)."""
    case = load_case(fixtures, name)
    module = translate(case["module"])
    assert not module.training
    x = tensor(case["input"])
    got = forward(module, x)
    compare(got, tensor(case["output"]), name)
    return case, module, x, got


def check_forwards(
    fixtures: Path,
    name: str,
    zoo: str = "zoo3",
    build: Callable[[Any], torch.nn.Module] = translate,
) -> tuple[dict, torch.nn.Module]:
    """Build the case's module (translate it, or e.g. save and reload it) and run every forward
    the case stores, in order, on that one instance (the state it keeps between them is part of
    the case), each compared with Torch7's. Returns (case, built module)."""
    case = load_case(fixtures, name, zoo)
    module = build(case["module"])
    assert not module.training
    for k in stored_forwards(case):
        compare(forward(module, tensor(case[f"input{k}"])), tensor(case[f"output{k}"]), name + k)
    return case, module


def stored_forwards(case: dict) -> list[str]:
    """The suffixes of the case's consecutive forwards: "", "2", "3", …"""
    keys = [""]
    while f"input{len(keys) + 1}" in case:
        keys.append(str(len(keys) + 1))
    return keys


def check_one_sample(fixtures: Path, name: str, index: int = 0) -> None:
    """Sample `index` of the case's input alone, without its batch dim, must give entry `index`
    of Torch7's batch output: for modules Torch7 runs on one unbatched sample too."""
    case = load_case(fixtures, name)
    got = forward(translate(case["module"]), tensor(case["input"])[index])
    assert_close(got, tensor(case["output"])[index], f"{name} sample {index + 1} alone")


def with_fields(m: T7Object, **fields: Any) -> T7Object:
    """The Torch7 module with some fields changed (another constructor argument)."""
    return T7Object(m.class_name, m.version, {**m.fields, **fields})
