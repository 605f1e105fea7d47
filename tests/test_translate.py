"""The generic translator against Torch7-written outputs: zoo modules, ResNet-18, tiny and full
IRv2 (outputs and intermediate activations), real-world files, the exported form and --verify.

Tolerance everywhere: max |Δ| <= 1e-5 * max |reference| (float32 summation order); every
comparison prints what it measured.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from t7compare import assert_close, run_with_acts, tensor

from converter.errors import T7FormatError
from converter.generic.translator import UnsupportedModuleError, translate
from converter.irv2.convert import convert_checkpoint
from converter.irv2.verify import VerificationError, verify_against_generic
from converter.outputs.export import save_generic
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7

ZOO_MODULES = [
    "ascii_model", "avgpool_ceil_exclude", "avgpool_ceil_include", "avgpool_pad_exclude",
    "avgpool_pad_include", "bn1d", "bn1d_running_std", "bn_affine", "bn_noaffine",
    "bn_running_std", "caddtable", "concat", "concattable_jointable", "conv_asym", "conv_bias",
    "conv_mm", "cudnn_avgpool_8x8", "cudnn_conv_1x7_nobias", "cudnn_relu_inplace", "double",
    "dropout_eval", "dropout_v1_eval", "identity", "jointable", "linear", "maxpool_ceil",
    "maxpool_ceil_pad", "maxpool_floor_odd", "mulconstant", "relu", "reshape", "residual_block",
    "sequential_nested", "shared_storage", "view_numinputdims",
]  # fmt: skip

# acts key -> Lua path of the module whose output it is (MANIFEST §3.1, §3.5)
IRV2_ACTS = {
    "stem_conv1_out": "1.1.1", "stem_bn1_out": "1.1.3", "stem_out": "1", "irA_out": "6",
    "redA_out": "7", "irB_out": "17", "redB_out": "18", "irC_out": "23", "pool_out": "24",
    "view_out": "25",
}  # fmt: skip
RESNET18_ACTS = {
    "conv1_out": "1", "layer1_out": "5", "layer2_out": "6", "layer3_out": "7",
    "layer4_out": "8", "pool_out": "9",
}  # fmt: skip


# --- single modules (zoo) -------------------------------------------------------------------


def test_zoo_list_covers_every_module_fixture(fixtures):
    present = {p.stem for p in (fixtures / "zoo").glob("*.t7") if "module" in load_t7(p)}
    assert present == set(ZOO_MODULES)


@pytest.mark.parametrize("name", ZOO_MODULES)
def test_zoo_module_reproduces_torch7(fixtures, name):
    case = load_t7(fixtures / "zoo" / f"{name}.t7")
    assert case["mode"] == "evaluate"
    module = translate(case["module"])
    assert not module.training
    # extras like input_1d/output_1d and input_single/output_single run the same module
    for key in ["input"] + sorted(k for k in case if k.startswith("input_")):
        with torch.no_grad():
            got = module(tensor(case[key]))
        assert_close(got, tensor(case[key.replace("input", "output")]), f"{name} {key}")


def test_maxpool_floor_mode_gives_torch_floor_output(fixtures):
    case = load_t7(fixtures / "zoo" / "maxpool_ceil.t7")
    floor = T7Object(case["module"].class_name, 1, {**case["module"].fields, "ceil_mode": False})
    with torch.no_grad():
        got = translate(floor)(tensor(case["input"]))
    assert_close(got, tensor(case["output_floor"]), "maxpool floor")


@pytest.mark.parametrize("name", ["bn_affine", "bn_noaffine", "bn1d"])
def test_batchnorm_training_step_matches_torch7(fixtures, name):
    """Training mode: biased variance for normalising, unbiased for the running update."""
    case = load_t7(fixtures / "zoo" / f"{name}.t7")
    bn = translate(case["module"]).train()
    with torch.no_grad():
        got = bn(tensor(case["input"]))
    assert_close(got, tensor(case["output_train"]), f"{name} train output")
    assert_close(bn.running_mean, tensor(case["running_mean_after_train"]), f"{name} mean")
    assert_close(bn.running_var, tensor(case["running_var_after_train"]), f"{name} var")


def test_dropout_v1_training_masks_without_rescaling(fixtures):
    case = load_t7(fixtures / "zoo" / "dropout_v1_eval.t7")
    x = torch.ones(1000)
    y = translate(case["module"]).train()(x)
    assert set(y.unique().tolist()) == {0.0, 1.0}  # v2 would give 1/(1-p) = 1.25


def test_parallel_table_applies_module_i_to_input_i(fixtures):
    case = load_t7(fixtures / "zoo" / "linear.t7")
    identity = load_t7(fixtures / "zoo" / "identity.t7")
    tree = T7Object("nn.ParallelTable", 1, {"modules": [case["module"], identity["module"]]})
    with torch.no_grad():
        got = translate(tree)([tensor(case["input"]), tensor(identity["input"])])
    assert_close(got[0], tensor(case["output"]), "parallel table, linear")
    assert_close(got[1], tensor(identity["output"]), "parallel table, identity")


def test_softmax_matches_torch7(bundled):
    """irv2_tiny_ref.output_softmax is nn.SoftMax applied to the 2x1000 output by Torch7."""
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    softmax = translate(T7Object("nn.SoftMax", 1, {}))
    assert_close(softmax(tensor(ref["output"])), tensor(ref["output_softmax"]), "softmax")


@pytest.mark.parametrize("cls", ["nn.SoftMax", "nn.LogSoftMax"])
def test_softmax_dimension_follows_thnn(cls):
    """THNN SoftMax.c/LogSoftMax.c: a 3-D input is one C,H,W sample (classes along dim 0), a
    4-D one a batch of them (dim 1); other ranks are an error, as in Torch."""
    module = translate(T7Object(cls, 1, {}))
    x = torch.randn(2, 5, 3, 4, generator=torch.Generator().manual_seed(0))
    for sample, normalised in ((x[0], 0), (x, 1)):
        total = (
            module(sample).exp().sum(normalised) if "Log" in cls else module(sample).sum(normalised)
        )
        assert torch.allclose(total, torch.ones(()), atol=1e-6), (cls, sample.dim())
    with pytest.raises(ValueError, match="not 5D"):
        module(x[None])


def test_threshold_fields_are_honoured(fixtures):
    """nn.ReLU is Threshold(0, 0); other values give y = x > th ? x : val (Threshold.c)."""
    relu = load_t7(fixtures / "zoo" / "relu.t7")
    module = T7Object("nn.Threshold", 1, {**relu["module"].fields, "threshold": 0.5, "val": -1.0})
    x = tensor(relu["input"])
    assert torch.equal(translate(module)(x), torch.where(x > 0.5, x, torch.tensor(-1.0)))


def test_stochastic_inference_dropout_is_refused(fixtures):
    dropout = load_t7(fixtures / "zoo" / "dropout_eval.t7")["module"]
    tree = T7Object("nn.Sequential", 1, {"modules": [
        T7Object("nn.Dropout", 1, {**dropout.fields, "stochastic_inference": True}),
    ]})  # fmt: skip
    with pytest.raises(UnsupportedModuleError, match=r"stochastic_inference=true\) at 1"):
        translate(tree)


def test_checkpoint_directory_translates_its_latest_model(fixtures):
    module = translate(fixtures / "tiny" / "ckpt")
    assert len(list(module.parameters())) == 398  # MANIFEST §3.2


# --- whole networks -------------------------------------------------------------------------


def test_resnet18_output_activations_and_parameter_names(fixtures, resnet18_t7):
    module = translate(resnet18_t7)
    ref = load_t7(fixtures / "resnet18" / "resnet18_ref.t7")
    out, acts = run_with_acts(module, tensor(ref["input"]), RESNET18_ACTS)
    assert_close(out, tensor(ref["output"]), "resnet18 output")
    for key in RESNET18_ACTS:
        want = tensor(ref["acts"][key])
        assert_close(acts[key][: want.shape[0]], want, f"resnet18 {key}")
    # state_dict names are the Torch7 paths, in model:parameters() order
    rows = (fixtures / "resnet18" / "resnet18_param_order.tsv").read_text().splitlines()[1:]
    lua_names = [row.split("\t")[1].removeprefix("model.") for row in rows]
    assert [name for name, _ in module.named_parameters()] == lua_names


def test_tiny_irv2_output_and_activations(bundled):
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    out, acts = run_with_acts(translate(bundled / "irv2_tiny.t7"), tensor(ref["input"]), IRV2_ACTS)
    assert_close(out, tensor(ref["output"]), "tiny irv2 output")
    for key in IRV2_ACTS:
        assert_close(acts[key], tensor(ref["acts"][key]), f"tiny irv2 {key}")


@pytest.fixture(scope="module")
def full_generic(irv2_full_t7):
    return translate(irv2_full_t7)


def test_full_irv2_output_and_activations(fixtures, full_generic):
    ref = load_t7(fixtures / "full" / "irv2_full_ref.t7")
    ref_acts = load_t7(fixtures / "full" / "irv2_full_acts.t7")
    paths = {k: p for k, p in IRV2_ACTS.items() if k in ref_acts}
    out, acts = run_with_acts(full_generic, tensor(ref["input"]), paths)
    assert_close(out, tensor(ref["output"]), "full irv2 output")
    for key in paths:  # sample 1 only
        assert_close(acts[key][:1], tensor(ref_acts[key]), f"full irv2 {key}")


def test_verify_passes_on_full_irv2(irv2_full_t7, full_generic):
    delta = verify_against_generic(convert_checkpoint(irv2_full_t7), full_generic)
    print(f"full irv2 --verify: max|Δ| = {delta:.3g}")


def test_verify_passes_on_tiny_irv2_from_file(bundled):
    conversion = convert_checkpoint(bundled / "irv2_tiny.t7")
    delta = verify_against_generic(conversion)  # translates conversion.source itself
    print(f"tiny irv2 --verify: max|Δ| = {delta:.3g}")


def test_verify_catches_a_wrong_mapping(bundled):
    """Two branch convolutions swapped by a (hypothetical) wrong table row must fail."""
    conversion = convert_checkpoint(bundled / "irv2_tiny.t7")
    state = dict(conversion.state_dict)
    keys = sorted(k for k in state if k.endswith("conv.weight") and state[k].shape[2:] == (3, 3))
    a, b = next((a, b) for a in keys for b in keys if a < b and state[a].shape == state[b].shape)
    state[a], state[b] = state[b], state[a]
    model = conversion.build_model()
    model.load_state_dict(state)
    with pytest.raises(VerificationError, match="mapping table is wrong"):
        verify_against_generic(model, bundled / "irv2_tiny.t7")


# --- the portable form ----------------------------------------------------------------------

PLAIN_TORCH_LOAD = textwrap.dedent(
    """
    import sys
    sys.modules["converter"] = None  # any import of this project would now fail
    import torch
    program = torch.export.load(sys.argv[1]).module()
    x = torch.load(sys.argv[2])
    for batch in (x[:1], x):
        torch.save(program(batch), sys.argv[3] + f".{len(batch)}")
    """
)


def test_saved_generic_loads_with_plain_torch_and_reproduces(bundled, tmp_path):
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    x, want = tensor(ref["input"]), tensor(ref["output"])
    target = tmp_path / "tiny.pt2"
    save_generic(translate(bundled / "irv2_tiny.t7"), target, x)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.pt2"]  # no temporary left behind
    torch.save(x, tmp_path / "x.pt")
    subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_TORCH_LOAD, target, tmp_path / "x.pt", tmp_path / "y"],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    assert_close(torch.load(tmp_path / "y.1"), want[:1], "exported tiny irv2, batch 1")
    assert_close(torch.load(tmp_path / "y.2"), want, "exported tiny irv2, batch 2")


def test_failed_save_leaves_no_file(fixtures, tmp_path):
    case = load_t7(fixtures / "zoo" / "conv_bias.t7")
    with pytest.raises(RuntimeError):
        save_generic(translate(case["module"]), tmp_path / "m.pt2", torch.zeros(1, 4, 7, 9))
    assert list(tmp_path.iterdir()) == []


def test_translated_module_holds_no_meta_tensors(bundled):
    """Every tensor is real, so the module moves to any device or dtype (BatchNorm's
    num_batches_tracked was once created under the meta device and stopped `.to()`)."""
    module = translate(bundled / "irv2_tiny.t7")
    assert not [name for name, t in module.state_dict().items() if t.is_meta]
    module.to("cpu", torch.float64)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_translated_module_runs_on_cuda(bundled):
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    module = translate(bundled / "irv2_tiny.t7").cuda()
    with torch.no_grad():
        got = module(tensor(ref["input"]).cuda()).cpu()
    # cuDNN convolutions round differently from THNN's; 1e-4 relative still catches any bug
    delta, scale = float((got - tensor(ref["output"])).abs().max()), float(got.abs().max())
    print(f"tiny irv2 on CUDA: max|Δ| = {delta:.3g} (max|out| = {scale:.3g})")
    assert delta <= 1e-4 * scale


# --- real-world files -----------------------------------------------------------------------


def test_realworld_mlp_translates_and_runs(realworld):
    """henlisp: a CudaTensor MLP saved with its 128-sample buffers; checked against numpy."""
    path = realworld / "t7" / "henlisp_hw1_model.t7"
    module = translate(path)
    x = torch.rand(3, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = module(x)
    h = x.double().numpy().reshape(3, 784)
    tree = load_t7(path)["modules"]
    for i in (1, 3, 5):
        h = h @ tree[i]["weight"].numpy().T + tree[i]["bias"].numpy()
        h = np.maximum(h, 0) if i < 5 else h - np.log(np.exp(h).sum(1, keepdims=True))
    assert_close(got, torch.from_numpy(h).float(), "henlisp mlp vs numpy (float64)")
    # Torch's View(784) without setNumInputDims drops the batch of a single sample
    assert module(x[0]).shape == (10,)


@pytest.mark.parametrize(
    "name, says",
    [
        ("hideandseek_meanstdCache.t7", "not an nn module"),
        ("fbresnet_latest_checkpoint.t7", "latest.t7"),
        ("jbr97_deepmask_model.t7", "truncated"),
    ],
)
def test_realworld_non_models_are_rejected_clearly(realworld, name, says):
    with pytest.raises(T7FormatError, match=says) as err:
        translate(realworld / "t7" / name)
    assert "\n" not in str(err.value)
