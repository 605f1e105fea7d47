"""Parametrised arithmetic of zoo2 (MANIFEST-zoo2 §3 item 7, semantics §30-32) against Torch7's
outputs: Mul, CMul, Add, CAdd (broadcast or per sample), AddConstant, LookupTable on Torch's
1-based indices, Euclidean, CosineDistance, Bilinear.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, tensor
from zoo2cases import check_case, check_one_sample, forward, load_case, with_fields

from converter.generic.translator import translate

ARITHMETIC_CASES = [
    "mul", "cmul", "add_scalar", "add_vector", "cadd", "addconstant", "lookuptable",
    "euclidean", "cosinedistance", "bilinear",
]  # fmt: skip


@pytest.mark.parametrize("name", ARITHMETIC_CASES)
def test_arithmetic_module_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


@pytest.mark.parametrize("name", ["cadd", "add_vector", "lookuptable", "euclidean"])
def test_single_sample_gives_the_batch_row(fixtures, name):
    """A sample without its batch dim gives the batch output's row (CAdd's 3x4 sample is its
    bias's size, added element by element; Add's 5-vector; 1-D indices; a 1-D Euclidean)."""
    check_one_sample(fixtures, name)


def test_lookuptable_reads_the_weight_rows_of_1_based_indices(fixtures):
    """§31: output[..] = weight[index] (1-based) for the LongTensor the Lua code fed it."""
    case, module, x, got = check_case(fixtures, "lookuptable")
    weight = tensor(case["module"]["weight"])
    assert torch.equal(got, weight[x - 1])
    assert int(x.min()) >= 1
    with pytest.raises(IndexError):
        forward(module, torch.zeros(1, dtype=torch.long))  # index 0 does not exist in Lua


def test_lookuptable_max_norm_renormalises_the_rows_it_reads(fixtures):
    """maxNorm set: THNN renormalises each looked-up row whose 2-norm exceeds it to maxNorm."""
    case = load_case(fixtures, "lookuptable")
    got = forward(translate(with_fields(case["module"], maxNorm=1.0)), tensor(case["input"]))
    norms = torch.linalg.vector_norm(tensor(case["output"]), dim=-1, keepdim=True)
    want = tensor(case["output"]) * torch.where(norms > 1, 1 / (norms + 1e-7), 1)
    assert_close(got, want, "lookuptable maxNorm=1")


def test_addconstant_inplace_writes_into_its_input(fixtures):
    case = load_case(fixtures, "addconstant")
    x = tensor(case["input"])
    got = forward(translate(with_fields(case["module"], inplace=True)), x)
    assert got is x
    assert_close(x, tensor(case["output"]), "addconstant(0.75, true) input after the forward")


def test_cosinedistance_of_vectors_is_a_1_element_tensor(fixtures):
    case = load_case(fixtures, "cosinedistance")
    a, b = tensor(case["input"])
    got = forward(translate(case["module"]), [a[2], b[2]])
    assert_close(got, tensor(case["output"])[2:3], "cosinedistance of the third rows")
