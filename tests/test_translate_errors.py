"""What the generic translator says about what it cannot run (issue 19 items 3, 5, 6): every
untranslatable class at once, also below a container that is itself unknown; Lua functions
stored on modules (refused where they replace the forward, left out with a warning
otherwise); a broken model failing with the Torch7 path of the module that raised.

The modules are Torch7's own (zoo cases), arranged here as such files hold them and written
with the project's Torch7 writer; where a translation runs, its output is compared with
Torch7's (1e-5·max|ref|).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_invoke import run
from t7build import module, zoo
from t7compare import tensor
from zoo2cases import compare, forward, with_fields

from converter import load_translated, translate
from converter.generic.translator import IgnoredFunctionWarning, UnsupportedModuleError
from converter.torch7.objects import LuaFunction, T7Object
from converter.torch7.reader import load_t7
from converter.torch7.writer import save_t7

FUNCTION = LuaFunction(b"\x1bLJ\x02", None)  # LuaJIT bytecode header: what Lua writes


def test_classes_below_an_unknown_container_are_reported_too(fixtures, tmp_path):
    """dpnn's RecurrentAttention (not translated) holding an unknown module in `modules` and
    another in a field, beside a module it holds in both (reported once)."""
    glimpse = module("nn.SpatialGlimpse", size=8, depth=3)
    reinforce = module("nn.ReinforceNormal", stdev=1)
    linear = zoo(fixtures, "linear")["module"]
    inner = module("nn.Sequential", modules=[linear, glimpse])
    attention = module("nn.RecurrentAttention", modules=[inner], rnn=inner, action=reinforce)
    save_t7(module("nn.Sequential", modules=[attention]), tmp_path / "ram.t7")
    with pytest.raises(UnsupportedModuleError) as err:
        translate(tmp_path / "ram.t7")
    print(err.value, *err.value.details, sep="\n")
    assert err.value.unsupported == [
        ("1", "nn.RecurrentAttention"), ("1.1.2", "nn.SpatialGlimpse"),
        ("1.action", "nn.ReinforceNormal"),
    ]  # fmt: skip
    assert [line.split(";")[0] for line in err.value.details] == [
        "nn.RecurrentAttention at 1", "nn.SpatialGlimpse at 1.1.2",
        "nn.ReinforceNormal at 1.action",
    ]  # fmt: skip
    assert "depth=3" in err.value.details[1]
    result = run(tmp_path / "ram.t7", tmp_path / "ram.safetensors", "--generic")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 4
    assert not (tmp_path / "ram.safetensors").exists()


@pytest.mark.parametrize("name", ["updateOutput", "forward"])
def test_a_function_replacing_the_forward_is_refused(fixtures, tmp_path, name):
    relu = with_fields(zoo(fixtures, "relu")["module"], **{name: FUNCTION})
    save_t7(module("nn.Sequential", modules=[relu]), tmp_path / "m.t7")
    with pytest.raises(UnsupportedModuleError, match=rf"nn.ReLU \(its own Lua function '{name}'"
                       r" replaces the class's computation.*\) at 1"):  # fmt: skip
        translate(tmp_path / "m.t7")
    result = run(tmp_path / "m.t7", tmp_path / "m.safetensors", "--generic")
    assert result.exit_code == 2 and not (tmp_path / "m.safetensors").exists()


def test_another_function_is_left_out_and_the_safe_file_written(fixtures, tmp_path):
    """A real file's misspelt `updateGradInpout`: Torch7 never calls it on the forward path."""
    case = zoo(fixtures, "relu")
    relu = with_fields(case["module"], updateGradInpout=FUNCTION)
    save_t7(module("nn.Sequential", modules=[relu]), tmp_path / "m.t7")
    with pytest.warns(IgnoredFunctionWarning, match=r"'updateGradInpout' on nn.ReLU at 1"):
        translated = translate(tmp_path / "m.t7")
    compare(forward(translated, tensor(case["input"])), tensor(case["output"]), "relu")
    out = tmp_path / "m.safetensors"
    result = run(tmp_path / "m.t7", out, "--generic")
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "'updateGradInpout' on nn.ReLU at 1" in result.output
    rebuilt = load_translated(out)
    compare(forward(rebuilt, tensor(case["input"])), tensor(case["output"]), "relu, rebuilt")


def broken_style_net(fixtures) -> T7Object:
    """texture_nets' published nets: a BatchNormalization with fewer running means than the
    convolution before it gives channels (Torch7's CPU nn refuses them too)."""
    conv = zoo(fixtures, "conv_bias")["module"]  # 3 -> 5 planes
    four = np.ones(4, np.float32)
    bn = with_fields(
        zoo(fixtures, "bn_affine")["module"],
        weight=four, bias=four, running_mean=four, running_var=four,
    )  # fmt: skip
    return module("nn.Sequential", modules=[conv, module("nn.Sequential", modules=[bn])])


def test_a_broken_model_fails_with_the_torch7_path(fixtures, tmp_path):
    save_t7(broken_style_net(fixtures), tmp_path / "style.t7")
    net = translate(tmp_path / "style.t7")
    with pytest.raises(RuntimeError, match=r"^nn.SpatialBatchNormalization at 2.1: "):
        forward(net, torch.zeros(1, 3, 6, 6))
    out = tmp_path / "style.pt2"
    result = run(tmp_path / "style.t7", out, "--generic", "--input-shape", "3,6,6")
    print(result.output)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "nn.SpatialBatchNormalization at 2.1: running_mean should contain" in result.output
    assert not out.exists()


def test_an_error_in_a_translated_class_names_its_path(fixtures):
    """The project's own module classes raise ValueError; the path is added the same way."""
    crop = load_t7(fixtures / "zoo3" / "spatialuniformcrop.t7")["module"]
    net = translate(module("nn.Sequential", modules=[module("nn.Identity"), crop]))
    with pytest.raises(ValueError, match=r"^nn.SpatialUniformCrop at 2: SpatialUniformCrop"):
        forward(net, torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"^nn.SpatialUniformCrop at 2: "):  # every time
        forward(net, torch.zeros(1, 3, 4, 4))
    assert not net._forward_hooks  # a Chain root names it from its own forward: no hook


def test_a_root_that_is_not_a_chain_names_the_path_through_a_hook(fixtures):
    crop = load_t7(fixtures / "zoo3" / "spatialuniformcrop.t7")["module"]
    net = translate(module("nn.ConcatTable", modules=[module("nn.Identity"), crop]))
    assert len(net._forward_hooks) == 1
    with pytest.raises(ValueError, match=r"^nn.SpatialUniformCrop at 2: SpatialUniformCrop"):
        forward(net, torch.zeros(1, 3, 4, 4))


def test_an_unknown_class_pointing_back_at_its_container_is_no_cycle(tmp_path):
    """A field of an unknown class that refers to a module above it (a parent) is not one of
    its children: the report stops there instead of calling the file corrupt."""
    outer = module("nn.Sequential")
    owner = module("nn.MyRecursor", parent=outer)
    outer.fields["modules"] = [owner]
    save_t7(outer, tmp_path / "m.t7")
    with pytest.raises(UnsupportedModuleError) as err:
        translate(tmp_path / "m.t7")
    assert err.value.unsupported == [("1", "nn.MyRecursor")]
