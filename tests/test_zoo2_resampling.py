"""Padding and resampling of zoo2 (MANIFEST-zoo2 §3 item 4, semantics §18-21) against Torch7's
outputs: zero (negative = crop), reflection and replication padding, nn.Padding's insertion
point rules, nearest and align-corners bilinear upsampling, and max-unpooling bound to the
same SpatialMaxPooling object elsewhere in the tree.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from t7compare import assert_close, tensor
from zoo2cases import check_case, check_one_sample, forward, load_case, with_fields

from converter.generic.translator import UnsupportedModuleError, translate
from converter.torch7.modules import children
from converter.torch7.objects import T7Object

RESAMPLING_CASES = [
    "zeropad", "zeropad_negative", "reflpad", "replpad", "padding_after", "padding_before",
    "upnearest", "upbilinear", "upbilinear_size", "maxunpool_seq",
]  # fmt: skip

SPATIAL = ["zeropad", "zeropad_negative", "reflpad", "replpad", "upnearest", "upbilinear"]


@pytest.mark.parametrize("name", RESAMPLING_CASES)
def test_resampling_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


@pytest.mark.parametrize("name", SPATIAL + ["upbilinear_size", "maxunpool_seq"])
def test_one_unbatched_sample_is_the_batch_entry(fixtures, name):
    """Torch7 takes a C x H x W sample as well as a batch."""
    check_one_sample(fixtures, name)


def test_padding_without_batch_dim_pads_the_stored_dim(fixtures):
    """§19: nInputDim 2 on a 2-D input: dim is not shifted (2 is the columns here)."""
    check_one_sample(fixtures, "padding_after")


@pytest.mark.parametrize(
    ("pad", "index", "at"),
    [(2, 1, 5), (2, 2, 4), (2, 5, 1), (2, 6, 0), (-2, 1, 0), (-2, 2, 1), (-2, 6, 5)],
)
def test_padding_index_counts_from_the_end_for_positive_pads(fixtures, pad, index, at):
    """Padding.lua: pad > 0 puts the entries before position size - index + 2 (index 1 =
    after the last), pad < 0 before position index (index 1 = before the first)."""
    case = load_case(fixtures, "padding_after")
    m = with_fields(case["module"], pad=pad, index=index, value=9.0)
    x = tensor(case["input"])  # 2x4x5, dim 2 + 1 (batch) = the 5 columns
    got = forward(translate(m), x)
    fill = torch.full((2, 4, abs(pad)), 9.0)
    assert torch.equal(got, torch.cat([x[..., :at], fill, x[..., at:]], -1))


def test_padding_index_outside_the_dim_is_an_error(fixtures):
    case = load_case(fixtures, "padding_after")
    with pytest.raises(ValueError, match="outside"):
        forward(translate(with_fields(case["module"], index=7)), tensor(case["input"]))


def test_reflection_padding_as_large_as_the_input_is_refused(fixtures):
    """THNN reads outside the tensor there (MANIFEST-zoo2 §4); PyTorch cannot reproduce it."""
    case = load_case(fixtures, "reflpad")
    module = translate(with_fields(case["module"], pad_l=6))
    with pytest.raises(ValueError, match="larger than the pads"):
        forward(module, tensor(case["input"]))


def test_bilinear_upsampling_aligns_corners(fixtures):
    """§20: src = dst·(in-1)/(out-1): the corners of the output are the input's corners."""
    case = load_case(fixtures, "upbilinear_size")
    x, ref = tensor(case["input"]), tensor(case["output"])
    assert torch.equal(ref[..., 0, 0], x[..., 0, 0])
    assert torch.allclose(ref[..., -1, -1], x[..., -1, -1])
    expect = F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True)
    assert_close(expect, ref, "upbilinear_size as F.interpolate(align_corners=True)")


# --- max-unpooling bound to its pooling module --------------------------------------------


def test_unpooling_shares_the_pooling_module_it_is_bound_to(fixtures):
    """§21: `pooling` is the same Torch7 object as child 1, so both get one module."""
    case = load_case(fixtures, "maxunpool_seq")
    seq = case["module"]
    pool, unpool = children(seq)[0], children(seq)[2]
    assert unpool["pooling"] is pool
    module = translate(seq)
    assert module[2].pool is module[0]
    assert "pool" not in dict(module[2].named_children())  # runs once, where the tree has it


def test_unpooling_scatters_to_the_argmax_positions(fixtures):
    """Every value lands where the pool found its window's maximum, zeros elsewhere, and the
    output has the pool's input size (here from this forward, which Torch7's stored
    iheight/iwidth = 6x8 equal)."""
    case = load_case(fixtures, "maxunpool_seq")
    module = translate(case["module"])
    x = tensor(case["input"])
    pooled, where = F.max_pool2d(x, 2, 2, return_indices=True)
    mid = forward(module[1], pooled)
    ref = F.max_unpool2d(mid, where, 2, 2, output_size=(6, 8))
    assert_close(forward(module, x), ref, "maxunpool as F.max_unpool2d")
    assert_close(ref, tensor(case["output"]), "F.max_unpool2d vs Torch7")


def test_unpooling_with_ceil_mode_pool_indexes_the_unpadded_input(fixtures):
    """A ceil-mode pool pads with -inf for THNN's last window; its recorded indices still
    refer to the input's own planes (odd 5x7 input, 2x2 windows: outputs 3x4)."""
    case = load_case(fixtures, "maxunpool_seq")
    seq = case["module"]
    pool = with_fields(children(seq)[0], ceil_mode=True)
    unpool = with_fields(children(seq)[2], pooling=pool)
    module = translate(T7Object("nn.Sequential", 1, {"modules": [pool, unpool]}))
    x = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(5))
    got = forward(module, x)
    pooled, where = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
    assert pooled.shape[-2:] == (3, 4)
    assert torch.equal(got, F.max_unpool2d(pooled, where, 2, 2, output_size=(5, 7)))


def test_unpooling_survives_export_and_deepcopy(fixtures):
    """The pool hands its indices over in a plain dict, taken by the unpooling: torch.export
    captures the pair, and a copy of the module keeps pool and unpooling bound."""
    case = load_case(fixtures, "maxunpool_seq")
    module = translate(case["module"])
    x, ref = tensor(case["input"]), tensor(case["output"])
    program = torch.export.export(module, (x,))
    assert_close(program.module()(x), ref, "maxunpool exported")
    twin = copy.deepcopy(module)
    assert twin[2].pool is twin[0]
    assert_close(forward(twin, x), ref, "maxunpool deep copy")
    assert "indices" not in module[0].record  # nothing left over after a forward


def test_unpooling_needs_a_pool_with_kernel_equal_to_stride(fixtures):
    case = load_case(fixtures, "maxunpool_seq")
    seq = case["module"]
    pool = with_fields(children(seq)[0], kW=3)
    unpool = with_fields(children(seq)[2], pooling=pool)
    tree = T7Object("nn.Sequential", 1, {"modules": [pool, unpool]})
    with pytest.raises(UnsupportedModuleError, match="kernel is not its stride"):
        translate(tree)
