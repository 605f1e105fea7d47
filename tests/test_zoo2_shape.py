"""Shape and reduction modules of zoo2 (MANIFEST-zoo2 §3 item 5, semantics §17, §22-25) against
Torch7's outputs: 1-based indices, negative ones from the end, dimensions resolved per input
(batch or single sample), views where nn makes views, nn.Copy's type change, and the channel
dropouts' evaluation scaling.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32), 1e-10 (float64: copy_float_double);
every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, tensor
from zoo2cases import check_case, check_one_sample, forward, load_case, with_fields

from converter.generic.translator import UnsupportedModuleError, translate

SHAPE_CASES = [
    "narrow", "select", "select_negative", "transpose", "squeeze", "unsqueeze", "replicate",
    "contiguous", "copy_float_double", "mean", "sum_sizeaverage", "max", "min", "mm",
    "spatialdropout_eval", "volumetricdropout_eval",
]  # fmt: skip

# cases whose module resolves its dim per input: their first sample alone (one dim fewer than
# nInputDims + 1) must give the first sample of Torch7's batch output (§23, §24)
SINGLE_SAMPLE_CASES = ["squeeze", "unsqueeze", "replicate", "mean", "sum_sizeaverage", "max", "min"]


@pytest.mark.parametrize("name", SHAPE_CASES)
def test_shape_module_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


@pytest.mark.parametrize("name", SINGLE_SAMPLE_CASES)
def test_dimension_is_resolved_per_input(fixtures, name):
    check_one_sample(fixtures, name)


@pytest.mark.parametrize(
    "name, fields",
    [
        ("narrow", {"dimension": -2, "length": -2}),  # 2x5x4: dim 2; length 5 - 2 - 2 + 2 = 3
        ("select", {"index": -2}),  # 4 entries along dim 2: -2 is the 3rd
        ("select_negative", {"dimension": -2, "index": 4}),  # dim 2 of 3, last of 4 entries
    ],
)
def test_negative_arguments_count_from_the_end(fixtures, name, fields):
    """§22: the same module written with negative arguments gives Torch7's output."""
    case = load_case(fixtures, name)
    got = forward(translate(with_fields(case["module"], **fields)), tensor(case["input"]))
    assert_close(got, tensor(case["output"]), f"{name} with {fields}")


def test_contiguous_copies_a_strided_input(fixtures):
    """The file's input is a 3x4 view with strides (1, 3): run it as that view, not a copy."""
    case = load_case(fixtures, "contiguous")
    t = case["input"]
    storage = torch.from_numpy(t.storage.read(0, t.storage.size))
    x = torch.as_strided(storage, t.shape, t.stride, t.offset)
    assert not x.is_contiguous()
    got = forward(translate(case["module"]), x)
    assert got.is_contiguous()
    assert_close(got, tensor(case["output"]), "contiguous of the strided input")


def test_copy_converts_to_its_outtype_and_follows_a_dtype_override(fixtures):
    """nn.Copy('torch.FloatTensor', 'torch.DoubleTensor') gives a DoubleTensor (§25); with
    translate(dtype=float32) the whole model, Copy included, computes in float32."""
    case = load_case(fixtures, "copy_float_double")
    x = tensor(case["input"])
    got = forward(translate(case["module"]), x)
    assert got.dtype == torch.float64 and got.data_ptr() != x.data_ptr()
    as_float = forward(translate(case["module"], torch.float32), x)
    assert_close(as_float, tensor(case["output"]).float(), "copy under dtype=float32")


def test_replicate_is_a_stride_0_view(fixtures):
    """§23: Replicate's output is an expand view of its input, as in Torch7."""
    case, _, x, got = check_case(fixtures, "replicate")
    assert got.stride(2) == 0 and got.data_ptr() == x.data_ptr()


def test_narrow_select_transpose_copy_their_output(fixtures):
    """nn copies these outputs, so an in-place module after them leaves their input alone."""
    for name in ("narrow", "select", "transpose"):
        case, _, x, got = check_case(fixtures, name)
        got.fill_(0)
        assert_close(x, tensor(case["input"]), f"{name} input after writing its output")


def test_mm_takes_single_matrices_too(fixtures):
    """§25: 3-D inputs are batched matrix products, 2-D ones a single product."""
    case = load_case(fixtures, "mm")
    a, b = tensor(case["input"])
    got = forward(translate(case["module"]), [a[1], b[1]])
    assert_close(got, tensor(case["output"])[1], "mm of the second matrices")
    got = forward(translate(with_fields(case["module"], transA=True)), [a[1].T, b[1]])
    assert_close(got, tensor(case["output"])[1], "mm transA of the transposed matrix")


@pytest.mark.parametrize("name", ["spatialdropout_eval", "volumetricdropout_eval"])
def test_channel_dropout_trains_with_unscaled_plane_masks(fixtures, name):
    """Training: whole (sample, channel) planes are zeroed or kept unscaled (nn's noise of size
    N x C x 1 x 1); only evaluation scales by 1 - p."""
    case = load_case(fixtures, name)
    x = torch.ones(8, 16, *tensor(case["input"]).shape[2:])
    y = forward(translate(case["module"]).train(), x)
    planes = y.flatten(2)
    assert set(y.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(planes.amin(2), planes.amax(2))


@pytest.mark.parametrize("name", ["spatialdropout_eval", "volumetricdropout_eval"])
def test_stochastic_inference_channel_dropout_is_refused(fixtures, name):
    """stochastic_inference=true keeps dropping at evaluation: nothing deterministic to give."""
    case = load_case(fixtures, name)
    with pytest.raises(UnsupportedModuleError, match="stochastic_inference"):
        translate(with_fields(case["module"], stochastic_inference=True))
