"""Convolutions of zoo2 (MANIFEST-zoo2 §3 item 1, semantics §1-6) against Torch7's outputs: full
convolutions (adj, noBias, cudnn's), dilated and grouped ones, connection-table maps,
subsampling, temporal and volumetric convolution and pooling; plus the forms older files and
Torch7's input conventions bring (no geometry fields, flat weights, one unbatched sample), and
the torch/demos tracker, built of SpatialConvolutionMap and SpatialLPPooling.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from t7compare import assert_close, tensor
from zoo2cases import check_case, check_one_sample, forward, load_case, with_fields

from converter.generic.translator import translate
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7

CONVOLUTION_CASES = [
    "fullconv_adj", "fullconv_nobias", "dilatedconv", "cudnn_conv_groups", "cudnn_fullconv",
    "convmap_full", "convmap_onetoone", "convmap_random", "subsampling", "temporalconv",
    "temporalmaxpool", "volconv", "volfullconv", "volbn", "volmaxpool", "volavgpool",
]  # fmt: skip


@pytest.mark.parametrize("name", CONVOLUTION_CASES)
def test_convolution_reproduces_torch7(fixtures, name):
    check_case(fixtures, name)


@pytest.mark.parametrize("name", CONVOLUTION_CASES)
def test_one_unbatched_sample_is_the_batch_entry(fixtures, name):
    """Torch7 takes these modules' inputs without the batch dim too (C x H x W, T x F, ...)."""
    check_one_sample(fixtures, name)


def test_full_convolution_weight_is_nin_nout_and_adj_is_output_padding(fixtures):
    """§2: weight (nIn, nOut, kH, kW) as ConvTranspose2d's; adjW/adjH add to the output size."""
    case = load_case(fixtures, "fullconv_adj")
    m = case["module"]
    w, b = tensor(m["weight"]), tensor(m["bias"])
    ref = F.conv_transpose2d(tensor(case["input"]), w, b, 2, 1, output_padding=1)
    assert_close(ref, tensor(case["output"]), "fullconv_adj as F.conv_transpose2d")
    assert tuple(ref.shape[-2:]) == (10, 12)  # (in-1)*2 - 2 + 3 + 1


def test_full_convolution_takes_a_target_table(fixtures):
    """forward{input, target}: adj = (target + 2·pad - k) % d from the target's last two sizes
    (nn calculateAdj), so {x, a 10x12 tensor} runs the adjW=adjH=1 case without those fields."""
    case = load_case(fixtures, "fullconv_adj")
    module = translate(with_fields(case["module"], adjW=0, adjH=0))
    x = tensor(case["input"])
    got = forward(module, [x, torch.zeros(2, 4, 10, 12)])
    assert_close(got, tensor(case["output"]), "fullconv {input, target}")
    assert forward(module, x).shape[-2:] == (9, 11)


def test_full_convolution_refuses_adj_not_below_the_stride(fixtures):
    case = load_case(fixtures, "fullconv_adj")
    with pytest.raises(Exception, match="adj"):
        translate(with_fields(case["module"], adjW=2))


def test_spatial_convolution_mm_without_geometry_fields_gets_nn_defaults(fixtures):
    """A 2012 SpatialConvolutionMM stores neither dW/dH nor padW/padH: Torch7 ran it with
    stride 1 and no padding (its flat nOut x nIn·kH·kW weight reshaped as usual)."""
    case = load_t7(fixtures / "zoo" / "conv_mm.t7")
    fields = {
        k: v for k, v in case["module"].fields.items() if k not in ("dW", "dH", "padW", "padH")
    }
    old = T7Object("nn.SpatialConvolutionMM", 1, fields)
    x = tensor(case["input"])
    w = tensor(fields["weight"]).reshape(4, 3, 3, 3)
    ref = F.conv2d(x, w, tensor(fields["bias"]))
    assert_close(forward(translate(old), x), ref, "SpatialConvolutionMM, no geometry fields")


def test_connection_table_rows_are_one_based_input_output_pairs(fixtures):
    """§3: weight[k] convolves input plane connTable[k][1] into output plane connTable[k][2]."""
    case = load_case(fixtures, "convmap_random")
    m = case["module"]
    x, table = tensor(case["input"]), tensor(m["connTable"]).long()
    weight, bias = tensor(m["weight"]), tensor(m["bias"])
    ref = bias.view(1, -1, 1, 1).repeat(2, 1, 3, 3)
    for (i, o), k in zip(table.tolist(), weight):
        ref[:, o - 1] += F.conv2d(x[:, i - 1 : i], k[None, None])[:, 0]
    assert_close(ref, tensor(case["output"]), "convmap_random, by connection")


def test_connection_table_out_of_range_is_refused(fixtures):
    m = load_case(fixtures, "convmap_onetoone")["module"]
    bad = m["connTable"].numpy().copy()
    bad[0, 0] = 5  # only 4 input planes
    with pytest.raises(Exception, match="connTable"):
        translate(with_fields(m, nInputPlane=4, connTable=_as_t7(m["connTable"], bad)))


def _as_t7(like, values):
    """A T7Tensor-like field holding `values` (what a corrupt file would carry)."""
    from converter.torch7.objects import T7Storage, T7Tensor

    flat = values.reshape(-1)
    storage = T7Storage(like.storage.class_name, flat.dtype, flat.size, data=flat)
    return T7Tensor(like.class_name, flat.dtype, values.shape, (values.shape[1], 1), 0, storage)


def test_subsampling_is_a_scaled_window_sum(fixtures):
    """§4: y = weight[c]·(sum of the window) + bias[c]: a sum, not a mean."""
    case = load_case(fixtures, "subsampling")
    m = case["module"]
    sums = F.avg_pool2d(tensor(case["input"]), 2, 2, divisor_override=1)
    ref = sums * tensor(m["weight"]).view(-1, 1, 1) + tensor(m["bias"]).view(-1, 1, 1)
    assert_close(ref, tensor(case["output"]), "subsampling as window sums")


def test_temporal_convolution_weight_is_time_major(fixtures):
    """§5: element [o][t·inputFrameSize + i] of the 2-D weight, on a time x features input."""
    case = load_case(fixtures, "temporalconv")
    m = case["module"]
    x, w = tensor(case["input"]), tensor(m["weight"])
    windows = torch.stack([x[:, t : t + 3].reshape(2, -1) for t in range(7)], 1)
    ref = windows @ w.t() + tensor(m["bias"])
    assert_close(ref, tensor(case["output"]), "temporalconv as frame windows")


# --- a real model: torch/demos tracker/unsupervised.net (README of ../shared/realworld/models)


def test_tracker_encoder_matches_torch7_child_by_child(realworld):
    """SpatialConvolutionMap x2 (32 and 128 connections), Tanh, SpatialLPPooling (Square,
    2012 SpatialSubSampling with a 32x2x2 weight of 1/4, Sqrt); Torch7 ran it as float on one
    3x64x64 sample. acts[i] is top-level child i's output."""
    ref = load_t7(realworld / "models" / "torchdemos_tracker_unsupervised_ref.t7")
    model = translate(
        realworld / "models" / "torchdemos_tracker_unsupervised.net", dtype=torch.float32
    )
    x = tensor(ref["input"])
    with torch.no_grad():
        for i, (child, act) in enumerate(zip(model, ref["acts"]), start=1):
            x = child(x)
            assert_close(x, tensor(act), f"tracker child {i} ({type(child).__name__})")
    assert_close(x, tensor(ref["output"]), "tracker output")
