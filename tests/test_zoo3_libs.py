"""The classes of dpnn (and the dpnn classes nn took over), nnx, stnbhwd, texture_nets and
eyescream against Torch7's outputs (MANIFEST-zoo3 §3, semantics §5.7, §5.9-5.11): every case,
every stored forward in order on one instance.

Tolerance: max |Δ| <= 1e-5 * max |reference| (float32); every comparison prints what it measured.
"""

from __future__ import annotations

import pytest
import torch
from t7compare import assert_close, tensor
from zoo2cases import check_forwards, forward, load_case, with_fields

from converter import load_translated
from converter.generic import registry
from converter.generic.layers.texture_nets import circular_padding_2016
from converter.generic.translator import translate
from converter.outputs.translated import save_translated

DPNN = [
    "inception", "decorator", "serial", "collapse", "convert_bchw_bf", "convert_transpose",
    "constant", "onehot_nn", "ziptable", "reversetable", "clip", "spatialuniformcrop",
    "printsize", "dontcast", "firemodule", "argmax", "spatialfeatnormalization",
    "totaldropout_eval", "sadd", "eyescream_convupsample",
]  # fmt: skip
NNX = [
    "nnx_spatialresampling", "nnx_spatialdownsampling", "nnx_spatialupsampling",
    "nnx_spatialresamplingex_simple", "nnx_spatialresamplingex_average",
    "nnx_spatialresamplingex_bilinear", "nnx_spatialmaxsampling", "nnx_spatialpadding",
    "nnx_spatiallinear", "nnx_spatialclassifier", "nnx_spatialnormalization", "nnx_saturatedlu",
    "nnx_minus", "nnx_multisoftmax", "nnx_pixelsort",
]  # fmt: skip
STN = ["stn_affinegrid", "stn_bilinear", "stn_matrixgen", "stn_net"]
TEXTURE_NETS = [
    "tn2016_circularpad1", "tnhead_circularpad", "tnhead_noisefill_mult0", "tnhead_instancenorm",
]  # fmt: skip
# all-zero outputs (noise times 0): compared exactly, not relative to their (zero) size
ZERO_NOISE = ["tn2016_gennoise_zero", "tnhead_gennoise_mult0"]


@pytest.mark.parametrize("name", DPNN + NNX + STN + TEXTURE_NETS)
def test_library_module_reproduces_torch7(fixtures, name):
    check_forwards(fixtures, name)


@pytest.mark.parametrize("name", ZERO_NOISE)
def test_noise_times_zero_is_torch7s_zeros(fixtures, name):
    case = load_case(fixtures, name, "zoo3")
    x = tensor(case["input"])
    got = forward(translate(case["module"]), x)
    assert torch.equal(got, tensor(case["output"])) and got.count_nonzero() == 0
    if name == "tn2016_gennoise_zero":  # the 2016 class fills its input in place
        assert got is x


def test_2016_circular_padding_through_its_own_translation(fixtures, monkeypatch):
    """A file cannot tell the 2016 class from HEAD's (same fields); built in is HEAD's, which
    the 2016 one equals for pads of 1. For larger pads the 2016 translation is registered."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    case = load_case(fixtures, "tn2016_circularpad2", "zoo3")
    builtin = forward(translate(case["module"]), tensor(case["input"]))
    assert not torch.equal(builtin, tensor(case["output"]))  # HEAD wraps all pad rows
    registry.register_translation("nn.SpatialCircularPadding")(circular_padding_2016)
    check_forwards(fixtures, "tn2016_circularpad2")
    check_forwards(fixtures, "tn2016_circularpad1")


def test_texture_nets_noise_draws_noise_of_the_right_shape(fixtures):
    """GenNoise/NoiseFill draw from an RNG Torch7's files cannot reproduce: the distribution
    and shape are what the classes draw (2016: U[0,1) into the input; HEAD: N(0,1)·mult)."""
    case = load_case(fixtures, "tn2016_gennoise_zero", "zoo3")
    uniform = translate(with_fields(case["module"], action=None))
    x = torch.full((2, 3, 4, 4), 7.0)
    got = forward(uniform, x)
    assert got is x and 0 <= got.min() and got.max() < 1
    head = load_case(fixtures, "tnhead_gennoise_mult0", "zoo3")["module"]
    got = forward(translate(with_fields(head, mult=1)), x)
    assert got.shape == (2, 2, 4, 4) and got.std() > 0.1


def test_dontcast_runs_its_module_in_double(fixtures):
    """§28: the decorated Linear stays float64 (moduleType), the output comes back as float32."""
    _, module = check_forwards(fixtures, "dontcast")
    assert module.get_submodule("1").weight.dtype == torch.float64


@pytest.mark.parametrize("name", ["convert_bchw_bf", "convert_transpose", "collapse"])
def test_convert_and_collapse_take_one_sample(fixtures, name):
    """A sample without its batch dim gives that sample's row of the batch output."""
    case = load_case(fixtures, name, "zoo3")
    module = translate(case["module"])
    got = forward(module, tensor(case["input"])[1])
    want = tensor(case["output"])[1]
    assert_close(got.reshape(want.shape) if name == "collapse" else got, want, f"{name} sample 2")


def test_argmax_is_one_based_long(fixtures):
    _, module = check_forwards(fixtures, "argmax")
    got = forward(module, torch.tensor([[0.0, 3.0, 1.0]]))
    assert got.dtype == torch.int64 and got.tolist() == [2]


@pytest.mark.parametrize(
    "name, x, says",
    [
        ("spatialuniformcrop", torch.zeros(1, 3, 4, 4), "larger than the crop"),
        ("onehot_nn", torch.tensor([[0, 1]]), "takes indices 1..6"),
    ],
)
def test_bad_input_is_refused_with_the_reason(fixtures, name, x, says):
    module = translate(load_case(fixtures, name, "zoo3")["module"])
    with pytest.raises(ValueError, match=says):
        forward(module, x)


@pytest.mark.parametrize(
    "name",
    ["dontcast", "convert_transpose", "onehot_nn", "inception", "stn_net",
     "nnx_spatialresamplingex_average", "tnhead_circularpad", "eyescream_convupsample"],
)  # fmt: skip
def test_library_module_through_the_safe_file(fixtures, tmp_path, name):
    """t7convert --generic's .safetensors (the tree as data, translated again on load)."""

    def saved_and_reloaded(module):
        save_translated(module, tmp_path / "m.safetensors", False, f"{name}.t7")
        return load_translated(tmp_path / "m.safetensors")

    check_forwards(fixtures, name, build=saved_and_reloaded)
