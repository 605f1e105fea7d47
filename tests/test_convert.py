"""Converted IRv2 models reproduce real Torch7 outputs, and the mapping table is trustworthy."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from converter.errors import MappingError
from converter.irv2.convert import convert_checkpoint, convert_tree
from converter.irv2.mapping import read_table
from converter.torch7 import checkpoint
from converter.torch7.reader import load_t7
from mappings import table_path

REL_TOL = 1e-5  # of max |reference|; a faithful float32 port measures ~1e-6, a missing BN eps 3e-5

# activation key in the Torch7 reference -> (submodule of our model, what to take)
ACTS = {
    "stem_conv1_out": "stem.conv1.conv",
    "stem_bn1_out": "stem.conv1",
    "stem_out": "stem",
    "irA_out": "blocks_a",
    "redA_out": "reduction_a",
    "irB_out": "blocks_b",
    "redB_out": "reduction_b",
    "irC_out": "blocks_c",
    "pool_out": "global_pool",
}


def run_with_activations(model: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, dict]:
    acts: dict[str, np.ndarray] = {}
    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, key=key: acts.__setitem__(key, out.detach().clone().numpy())
        )
        for key, name in ACTS.items()
    ]
    with torch.no_grad():
        out = model(x).numpy()
    for h in hooks:
        h.remove()
    acts["view_out"] = acts["pool_out"].reshape(len(x), -1)
    return out, acts


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def check_against_reference(model, ref: dict, acts_ref: dict, label: str) -> None:
    x = torch.from_numpy(ref["input"].numpy())
    out, acts = run_with_activations(model, x)
    err = rel_err(out, ref["output"].numpy())
    print(f"\n{label}: output max|diff|/max|ref| = {err:.2e} (tolerance {REL_TOL:g})")
    for key in [k for k in ACTS if k in acts_ref] + ["view_out"]:
        want = acts_ref[key].numpy()
        got = acts[key][: len(want)]  # the full model's acts cover sample 1 only
        e = rel_err(got, want)
        print(f"  {key:15s} {tuple(want.shape)} rel err {e:.2e}")
        assert e <= REL_TOL, f"{label}: {key} differs from Torch7 by {e:.2e}"
    assert err <= REL_TOL
    softmax = torch.softmax(torch.from_numpy(out), 1).numpy()
    np.testing.assert_allclose(softmax, ref["output_softmax"].numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def tiny(bundled):
    return convert_checkpoint(bundled / "irv2_tiny.t7")


def test_tiny_reproduces_torch7(tiny, bundled):
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    assert tiny.config.width_divisor == 8 and tiny.config.num_classes == 1000
    check_against_reference(tiny.build_model(), ref, ref["acts"], "tiny")


def test_load_model_fills_a_skeleton_with_the_converted_tensors(bundled):
    """load_model builds the network on the meta device and gives it the converted tensors
    themselves (no random init, no copy), and does not hash the file it returns no meta for;
    load_model_meta does."""
    from converter import load_model, load_model_meta

    path = bundled / "irv2_tiny.t7"
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    model = load_model(path)
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert all(p.requires_grad for p in model.parameters())
    check_against_reference(model, ref, ref["acts"], "tiny via load_model")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_model_meta(path)[1]["source_sha256"] == sha
    conversion = convert_tree(load_t7(path), checkpoint.resolve(path))  # no digest given
    assert conversion.meta["source_sha256"] is None
    built = conversion.build_model()
    assert built.fc.weight.data_ptr() == conversion.state_dict["fc.weight"].data_ptr()
    again = conversion.build_model()  # a second model: new modules, the same tensors
    assert again is not built and again.fc.weight.data_ptr() == built.fc.weight.data_ptr()


def test_full_reproduces_torch7(irv2_full_t7, fixtures):
    conversion = convert_checkpoint(irv2_full_t7)
    assert conversion.config.width_divisor == 1
    n_params = sum(
        t.numel()
        for k, t in conversion.state_dict.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert n_params == 31_574_440  # MANIFEST: every parameter of the 398 tensors
    ref = load_t7(fixtures / "full" / "irv2_full_ref.t7")
    acts = load_t7(fixtures / "full" / "irv2_full_acts.t7")
    check_against_reference(conversion.build_model(), ref, acts, "full")


def test_cuda_typed_checkpoint_converts_identically(tiny, fixtures):
    cuda = convert_checkpoint(fixtures / "tiny" / "irv2_tiny_cuda_emulated.t7")
    assert cuda.state_dict.keys() == tiny.state_dict.keys()
    for key, value in tiny.state_dict.items():
        assert torch.equal(cuda.state_dict[key], value), key


def test_channels_last_gives_the_same_output(tiny, bundled):
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    x = torch.from_numpy(ref["input"].numpy())
    model = tiny.build_model()
    with torch.no_grad():
        plain = model(x)
        cl = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    print(f"\nchannels_last max|diff| = {(plain - cl).abs().max():.2e}")
    torch.testing.assert_close(cl, plain, rtol=0, atol=1e-4)


def test_resnet_checkpoint_is_refused_as_another_architecture(resnet18_t7):
    with pytest.raises(MappingError) as info:
        convert_checkpoint(resnet18_t7)
    summary = str(info.value)
    print(summary)
    assert summary.startswith("not an Inception-ResNet-v2 checkpoint") and "\n" not in summary
    assert "662 missing" in summary and "unused" in summary  # nothing of IRv2's 662 tensors
    assert "--generic" in summary  # and what to use instead


def test_mapping_table_is_what_the_generator_makes():
    from scripts_loader import load_script

    rows = load_script("gen_mapping").generate()
    assert read_table(table_path("irv2")) == rows, "run python scripts/gen_mapping.py"


def test_mapping_covers_every_parameter_of_the_torch7_order(fixtures):
    """Table rows for weight/bias, in order, are exactly model:parameters() (param_order.tsv)."""
    lines = (fixtures / "tiny" / "irv2_tiny_param_order.tsv").read_text().splitlines()[1:]
    torch7_order = [line.split("\t")[1].removeprefix("model.") for line in lines]
    rows = [r for r in read_table(table_path("irv2")) if r.t7_field in ("weight", "bias")]
    assert [f"{r.t7_path}.{r.t7_field}" for r in rows] == torch7_order


def test_missing_and_unused_tensors_are_listed(bundled, tmp_path):
    from converter.torch7.reader import load_t7 as read
    from converter.torch7.writer import save_t7

    model = read(bundled / "irv2_tiny.t7")
    stem_bn = model["modules"][0]["modules"][0]["modules"][1]
    del stem_bn.fields["running_var"]
    model["modules"][26].fields["extra"] = None  # harmless bookkeeping field: ignored
    model["modules"][25].fields["weight"] = np.ones(3, dtype=np.float32)  # Dropout with a weight?
    conv2 = model["modules"][0]["modules"][1]["modules"][0]
    conv2.fields["weight"] = np.ones((4, 4, 5, 5), dtype=np.float32)  # 5x5 where IRv2 has 3x3
    save_t7(model, tmp_path / "broken.t7")
    with pytest.raises(MappingError) as info:
        convert_checkpoint(tmp_path / "broken.t7")
    message = "\n".join(info.value.details)
    assert "1.1.2 (nn.SpatialBatchNormalization).running_var" in message
    assert "26 (nn.Dropout).weight: tensor not used" in message
    assert (
        "1.2.1 (cudnn.SpatialConvolution).weight -> stem.conv2.conv.weight: shape (4, 4, 5, 5)"
        in message
    )
    assert str(info.value).count(",") == 2  # missing, wrong shape, unused


def _legacy_variant(bundled, path):
    """irv2_tiny as a 2015-era file: SpatialConvolutionMM with 2-D weights, BN with
    running_std (inverse std, eps inside, class version 1), the whole net in a
    DataParallelTable, CUDA tensor class names."""
    from converter.torch7 import modules as t7modules
    from converter.torch7.objects import T7Object
    from converter.torch7.writer import save_t7

    model = load_t7(bundled / "irv2_tiny.t7")
    for _, m in t7modules.walk(model):
        if m.class_name == "cudnn.SpatialConvolution":
            m.class_name = "nn.SpatialConvolutionMM"
            w = m["weight"].numpy()
            m.fields["weight"] = w.reshape(w.shape[0], -1)
        elif m.class_name == "nn.SpatialBatchNormalization":
            var = m.fields.pop("running_var").numpy()
            m.fields["running_std"] = (1 / np.sqrt(var + np.float32(m["eps"]))).astype(np.float32)
            m.version = 1
    wrapper = T7Object("nn.DataParallelTable", 1, {"modules": [model], "train": True})
    save_t7(wrapper, path)


def test_legacy_forms_convert_to_the_same_network(bundled, tmp_path):
    _legacy_variant(bundled, tmp_path / "legacy.t7")
    conversion = convert_checkpoint(tmp_path / "legacy.t7")
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    with torch.no_grad():
        out = conversion.build_model()(torch.from_numpy(ref["input"].numpy())).numpy()
    err = rel_err(out, ref["output"].numpy())
    print(f"\nlegacy forms (MM 2-D weights, running_std, DataParallelTable): rel err {err:.2e}")
    assert err <= REL_TOL


@pytest.mark.parametrize(
    "name, build",
    [
        (
            "cudnn_conv_1x7_nobias",
            lambda m: torch.nn.Conv2d(4, 5, (1, 7), padding=(0, 3), bias=False),
        ),
        ("conv_asym", lambda m: torch.nn.Conv2d(4, 6, (3, 5), stride=(1, 2), padding=(1, 2))),
        ("bn_affine", lambda m: torch.nn.BatchNorm2d(5, eps=1e-5)),
        ("bn_running_std", lambda m: torch.nn.BatchNorm2d(m["weight"].shape[0], eps=1e-5)),
        ("maxpool_floor_odd", lambda m: torch.nn.MaxPool2d(3, stride=2)),
        ("cudnn_avgpool_8x8", lambda m: torch.nn.AvgPool2d(8, stride=1)),
        ("linear", lambda m: torch.nn.Linear(7, 5)),
    ],
)
def test_irv2_building_blocks_reproduce_torch7_modules(fixtures, name, build):
    """The layers InceptionResNetV2 is made of, filled the way the mapping fills them, compute
    what the Torch7 modules computed (the zoo's single-module references)."""
    from converter.irv2.mapping import geometry_problem, read_field

    case = load_t7(fixtures / "zoo" / f"{name}.t7")
    t7m = case["module"]
    layer = build(t7m).eval()
    assert geometry_problem(t7m, layer, name) is None
    own = dict(layer.named_parameters()) | dict(layer.named_buffers())
    for field in ("weight", "bias", "running_mean", "running_var"):
        if field in own and own[field].dim() > 0:
            value = read_field(t7m, field, name)
            own[field].data.copy_(torch.from_numpy(value))
    with torch.no_grad():
        out = layer(torch.from_numpy(case["input"].numpy())).numpy()
    err = float(np.abs(out - case["output"].numpy()).max())
    print(f"\n{name}: max|diff| {err:.2e}")
    assert err <= REL_TOL * float(np.abs(case["output"].numpy()).max())
