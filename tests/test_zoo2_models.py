"""The zoo2 small models (MANIFEST-zoo2 item 9: fast-neural-style transformer, ResNeXt,
pre-activation ResNet and DenseNet blocks, AlexNet with LRN, NIN, ENet with unpooling) against
Torch7's outputs, and the check that every zoo2 file is run by some test.

Tolerance: t7compare (1e-5·max|ref| float32, 1e-10·max|ref| float64); every comparison
prints what it measured.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from t7compare import assert_close, tensor
from zoo2cases import check_case, forward

from converter.generic.layers.normalization import use_instance_statistics

MODEL_CASES = [
    "fns_transformer", "resnext_block", "preact_resnet_block", "densenet_block", "alexnet_lrn",
    "nin", "enet_pool_unpool",
]  # fmt: skip

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("name", MODEL_CASES)
def test_zoo2_model_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


def test_alexnet_view_drops_the_batch_of_one_as_torch7(fixtures):
    """§35: View(n) without setNumInputDims sees the 1x4x1x1 map as one sample: output 1-D."""
    _, _, _, got = check_case(fixtures, "alexnet_lrn")
    assert tuple(got.shape) == (5,)


def test_fns_transformer_with_pre_2017_instance_statistics(fixtures):
    """§10: output_instance_stats is the transformer as Torch7 before nn 919eeca ran it (and
    as PyTorch's InstanceNorm2d computes), each of its InstanceNormalizations switched."""
    case, module, x, _ = check_case(fixtures, "fns_transformer")
    assert use_instance_statistics(module) == 15  # after c9s1, d3, d3, u3, u2; 2 per R3 block
    assert_close(forward(module, x), tensor(case["output_instance_stats"]), "fns instance stats")


def _parametrized_case_lists(path: Path) -> dict[str, list[str]]:
    """The module-level *_CASES lists of a test module that a @pytest.mark.parametrize runs."""
    tree = ast.parse(path.read_text())
    lists = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.endswith("_CASES")
    }
    used = {
        arg.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.mark.parametrize"
        for arg in node.args[1:2]
        if isinstance(arg, ast.Name)
    }
    return {name: cases for name, cases in lists.items() if name in used}


def test_every_zoo2_file_is_run_by_a_test(fixtures):
    covered: dict[str, str] = {}
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name.startswith("test_zoo3_"):  # their *_CASES name zoo3 files
            continue
        for list_name, cases in _parametrized_case_lists(path).items():
            for case in cases:
                covered.setdefault(case, f"{path.name}:{list_name}")
    present = {p.stem for p in (fixtures / "zoo2").glob("*.t7")}
    assert len(present) == 114  # MANIFEST-zoo2 §1 totals
    assert sorted(present - set(covered)) == [], "zoo2 files no test runs"
    assert sorted(set(covered) - present) == [], "listed cases without a zoo2 file"
