"""Table modules and containers of zoo2 (MANIFEST-zoo2 §3 item 6, semantics §26-29) against
Torch7's outputs: Lua tables are lists (nested ones too), indices 1-based and negative from the
end, element-wise table arithmetic, Parallel, DepthConcat's centring, MapTable, Bottle.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, tensor
from zoo2cases import check_case, check_one_sample, compare, forward, load_case, with_fields

from converter.generic.translator import UnsupportedModuleError, translate
from converter.torch7.reader import load_t7

TABLE_CASES = [
    "selecttable", "selecttable_negative", "narrowtable", "flattentable", "splittable",
    "cmultable", "csubtable", "cdivtable", "cmaxtable", "cmintable", "parallel", "depthconcat",
    "maptable", "bottle",
]  # fmt: skip


@pytest.mark.parametrize("name", TABLE_CASES)
def test_table_module_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


@pytest.mark.parametrize("name", ["selecttable", "selecttable_negative"])
def test_selecttable_returns_the_entry_itself(fixtures, name):
    _, _, xs, got = check_case(fixtures, name)
    assert got is xs[1 if name == "selecttable" else -1]


def test_splittable_slices_are_views_and_follow_the_batch_rule(fixtures):
    """§26: views of the input; dim 1 of a 4x5 sample is dim 2 of the 3x4x5 batch."""
    case, module, x, got = check_case(fixtures, "splittable")
    assert all(t.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() for t in got)
    single = forward(module, x[0])
    compare(single, [t[0] for t in tensor(case["output"])], "splittable first sample alone")


def test_narrowtable_with_the_default_length_is_one_entry(fixtures):
    case = load_case(fixtures, "narrowtable")
    module = translate(with_fields(case["module"], length=1))
    compare(forward(module, tensor(case["input"])), tensor(case["output"])[:1], "narrowtable(2)")


def test_cadd_table_inplace_writes_into_its_first_input(fixtures):
    """CAddTable(true) (fb.resnet's blocks, §36): nn's output is input[1], summed into."""
    case = load_t7(fixtures / "zoo" / "caddtable.t7")
    xs = tensor(case["input"])
    got = forward(translate(with_fields(case["module"], inplace=True)), xs)
    assert got is xs[0]
    assert_close(xs[0], tensor(case["output"]), "caddtable(true) first input after the forward")


def test_parallel_feeds_module_i_the_ith_slice(fixtures):
    """§27: module i gets input:select(inputDimension, i); with the slices swapped the two
    outputs cannot be told apart from module order, so swap the modules with them."""
    case = load_case(fixtures, "parallel")
    m = case["module"]
    swapped = with_fields(m, modules=list(reversed(m["modules"])))
    x = tensor(case["input"]).flip(1)
    got = forward(translate(swapped), x)
    ref = tensor(case["output"])
    assert_close(
        got, torch.cat([ref[:, 4:], ref[:, :4]], 1), "parallel, modules and slices swapped"
    )


def test_depthconcat_centres_smaller_maps_in_zeros(fixtures):
    """§28: the 4x4 branches sit at rows/columns 2..5 (1-based) of the 6x6 output, zeros around."""
    _, _, _, got = check_case(fixtures, "depthconcat")
    small = got[:, 4:]
    assert torch.count_nonzero(small[..., 1:5, 1:5]) > 0
    small[..., 1:5, 1:5] = 0
    assert torch.count_nonzero(small) == 0


def test_bottle_passes_an_unfolded_input_through(fixtures):
    """nInputDim=2: a 4x5 input needs no folding and is the Linear's own batch."""
    check_one_sample(fixtures, "bottle")


def test_selecttable_of_a_string_key_is_refused_in_one_line(fixtures):
    """SelectTable('key') selects from a Lua hash table, which has no list form here."""
    case = load_case(fixtures, "selecttable")
    with pytest.raises(UnsupportedModuleError, match=r"nn.SelectTable\(index='h'\)") as err:
        translate(with_fields(case["module"], index="h"))
    assert "\n" not in str(err.value)
