"""Activations of zoo2 (MANIFEST-zoo2 §3 item 3, semantics §12-16) against Torch7's outputs:
rectifiers, squashing and element-wise math, the SoftMax family with each backend's dimension,
the cudnn stand-ins, and in-place flags.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
from t7compare import assert_close, tensor
from zoo2cases import check_case, check_one_sample, forward, load_case, with_fields

from converter.generic.translator import translate

ACTIVATION_CASES = [
    "leakyrelu", "prelu_shared", "prelu_channel", "elu", "hardtanh", "relu6", "clamp",
    "softplus", "softsign", "logsigmoid", "softmin", "abs", "square", "sqrt", "power", "exp",
    "log", "spatialsoftmax", "spatiallogsoftmax", "cudnn_tanh", "cudnn_sigmoid",
    "cudnn_softmax", "cudnn_logsoftmax", "cudnn_maxpool_ceil",
]  # fmt: skip


@pytest.mark.parametrize("name", ACTIVATION_CASES)
def test_activation_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


def test_inplace_leakyrelu_overwrites_its_input(fixtures):
    """LeakyReLU(0.2, true): Torch7's output IS the input tensor, overwritten (§12, §34)."""
    case, _, x, got = check_case(fixtures, "leakyrelu")
    assert got is x
    assert_close(x, tensor(case["output"]), "leakyrelu input after the forward")


@pytest.mark.parametrize("name", ["cudnn_tanh", "cudnn_sigmoid"])
def test_inplace_cudnn_pointwise_overwrites_its_input(fixtures, name):
    """cudnn._Pointwise with inplace=true sets its output to the input (cudnn.torch)."""
    case = load_case(fixtures, name)
    x = tensor(case["input"])
    got = forward(translate(with_fields(case["module"], inplace=True)), x)
    assert got is x
    assert_close(x, tensor(case["output"]), f"{name} inplace, input after the forward")


@pytest.mark.parametrize("name", ["spatialsoftmax", "spatiallogsoftmax", "softmin"])
def test_softmax_family_normalises_the_same_dim_of_a_single_sample(fixtures, name):
    """§16: dim 2 of a batch, dim 1 of one sample; so sample 1 alone gives output[1]."""
    check_one_sample(fixtures, name)


@pytest.mark.parametrize("name", ["cudnn_softmax", "cudnn_logsoftmax"])
def test_cudnn_instance_softmax_spans_the_whole_sample(fixtures, name):
    """INSTANCE mode (§2): one distribution over C*H*W per sample, so the 3x6 rows read as
    3x2x3x1 samples give the same values; a per-channel softmax would not."""
    case = load_case(fixtures, name)
    module = translate(case["module"])
    got = forward(module, tensor(case["input"]).view(3, 2, 3, 1))
    assert_close(got, tensor(case["output"]).view(3, 2, 3, 1), f"{name} as 3x2x3x1")
    got = forward(module, tensor(case["input"])[1])
    assert_close(got, tensor(case["output"])[1], f"{name} row 2 alone (1-D)")


def test_prelu_planes_are_dim_2_even_for_a_single_sample(fixtures):
    """§13: THNN reads dim 2 as the planes whenever the input has more than one dim, so a
    3x4x4 sample for PReLU(3) has 4 "planes" and is refused, as Torch7 refuses it."""
    case = load_case(fixtures, "prelu_channel")
    with pytest.raises(ValueError, match="3 planes got 4"):
        forward(translate(case["module"]), tensor(case["input"])[0])


def test_sqrt_ignores_its_eps_field(fixtures):
    """§15: nn.Sqrt(b) stores eps = b but THNN computes sqrt(x)."""
    case = load_case(fixtures, "sqrt")
    got = forward(translate(with_fields(case["module"], eps=0.5)), tensor(case["input"]))
    assert_close(got, tensor(case["output"]), "sqrt with eps=0.5")
