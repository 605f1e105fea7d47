"""Custom Torch7 classes: the message for a class nobody translates, a user's translation
registered from Python or loaded with --plugin (texture_nets' 2016 circular padding, built here
as Torch7 would write it, and a class without a package prefix, tests/plugins/scale.py), broken
plugins, and classes that predate Torch7's nn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_invoke import run
from t7build import module

from converter import load_plugin, register_translation, translate
from converter.errors import T7FormatError, UserError
from converter.generic import registry
from converter.generic.translator import UnsupportedModuleError
from converter.torch7.objects import T7Object
from converter.torch7.writer import save_t7

PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """What a test (or a plugin it loads) registers ends with the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def sequential(*mods: T7Object) -> T7Object:
    return module("nn.Sequential", modules=list(mods))


def circular(l, r, t, b) -> T7Object:  # noqa: E741 - texture_nets' own argument names
    return module("nn.SpatialCircularPadding", pad_l=l, pad_r=r, pad_t=t, pad_b=b)


def lua_circular(x: np.ndarray, l, r, t, b) -> np.ndarray:  # noqa: E741
    """texture_nets' SpatialCircularPadding:updateOutput step by step (narrow + copy, 1-based
    rows/columns translated to 0-based), for inputs without negative padding."""
    n, c, h0, w0 = x.shape
    h, w = h0 + t + b, w0 + l + r
    out = np.zeros((n, c, h, w), x.dtype)
    out[:, :, t : t + h0, l : l + w0] = x
    out[:, :, 0] = out[:, :, h - 2]
    out[:, :, h - 1] = out[:, :, 1]
    out[:, :, :, 0] = out[:, :, :, w - 2]
    out[:, :, :, w - 1] = out[:, :, :, 1]
    return out


def glimpse_tree() -> T7Object:
    """dpnn's stochastic classes, which no translation covers."""
    return sequential(
        module("nn.SpatialGlimpse", size=8, depth=3, scale=2),
        module("nn.ReinforceNormal", stdev=1),
        module("nn.Tanh"),
        module("nn.ReinforceNormal", stdev=0.5),
    )


# --- a class without a translation ----------------------------------------------------------


def written(tree: T7Object, tmp_path: Path) -> Path:
    save_t7(tree, tmp_path / "model.t7")
    return tmp_path / "model.t7"


def test_unknown_classes_get_one_line_each_with_paths_and_fields(tmp_path):
    with pytest.raises(UnsupportedModuleError) as err:
        translate(written(glimpse_tree(), tmp_path))
    e = err.value
    print(e, *e.details, sep="\n")
    assert e.unsupported == [
        ("1", "nn.SpatialGlimpse"), ("2", "nn.ReinforceNormal"), ("4", "nn.ReinforceNormal"),
    ]  # fmt: skip
    assert "\n" not in str(e) and "--plugin" in str(e) and "register_translation" in str(e)
    assert len(e.details) == 2  # one per class, not per module
    glimpse, noise = e.details
    assert glimpse.startswith("nn.SpatialGlimpse at 1; fields: ")
    assert "depth=3" in glimpse and "size=8" in glimpse and "output (FloatTensor 0)" in glimpse
    assert noise.startswith("nn.ReinforceNormal at 2, 4; fields: ")


def test_cli_lists_unknown_classes_and_points_to_plugins(tmp_path):
    model = written(glimpse_tree(), tmp_path)
    result = run(model, tmp_path / "s.pt2", "--generic", "--input-shape", "3,8,8")
    print(result.output)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("error: ") and "--plugin FILE.py" in lines[0]
    assert [line.split(" at ")[0].strip() for line in lines[1:]] == [
        "nn.SpatialGlimpse", "nn.ReinforceNormal",
    ]  # fmt: skip
    assert not (tmp_path / "s.pt2").exists()


def test_classes_that_predate_torch7_nn_are_named_as_such(tmp_path):
    old = module("nn.SpatialConvolutionSparse", weight=np.ones((2, 4), np.float32))
    with pytest.raises(UnsupportedModuleError) as err:
        translate(written(sequential(module("nn.Tanh"), old), tmp_path))
    assert err.value.unsupported == [("2", "nn.SpatialConvolutionSparse")]
    (line,) = err.value.details
    assert "predates Torch7's nn" in line and "weight (FloatTensor 2x4)" in line


# --- translations from Python ---------------------------------------------------------------


def test_register_translation_from_python_extends_and_overrides():
    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.factor = torch.nn.Parameter(torch.empty(()))

        def forward(self, x):
            return x * self.factor

    @register_translation("nn.MyScale")
    def scale(t7, ctx):
        ctx.put("factor", np.asarray(t7["factor"], np.float32))
        return Scale()

    @register_translation("nn.Tanh")  # a user's translation replaces the built-in one
    def not_tanh(t7, ctx):
        return torch.nn.Identity()

    net = translate(sequential(module("nn.MyScale", factor=2.5), module("nn.Tanh")))
    assert list(net.state_dict()) == ["1.factor"]  # the Torch7 path
    assert torch.equal(net(torch.ones(3)), torch.full((3,), 2.5))


def test_a_submodule_built_outside_its_context_is_refused_in_one_line():
    """Every tensor of a translated module comes from the file; a builder that makes a layer of
    its own, without `ctx`, leaves it without one (on the meta device): refused, named."""

    @register_translation("nn.MyBlock")
    def block(t7, ctx):
        return torch.nn.Sequential(torch.nn.Linear(2, 2))  # its weights come from nowhere

    with pytest.raises(T7FormatError, match=r"module tree: 1\.0\.weight was built without"):
        translate(sequential(module("nn.MyBlock")))


@pytest.mark.parametrize("name", ["OneHot", "onmt.MyClass", "cudnn.MyClass", "nn.A.B"])
def test_any_class_name_as_the_file_writes_it_can_be_registered(name):
    @register_translation(name)
    def ones(t7, ctx):
        return torch.nn.Identity()

    assert isinstance(translate(sequential(module(name))), torch.nn.Sequential)


@pytest.mark.parametrize("name", ["", "nn. X", 3])
def test_a_name_no_torch_class_can_give_is_refused(name):
    with pytest.raises(TypeError, match="class names as the file writes them"):
        register_translation(name)


def test_unprefixed_class_overridden_from_python_and_named_in_the_message(tmp_path):
    """char-rnn's OneHot is built in; a user's registration of 'OneHot' replaces it. A class
    nobody translates is named in the message exactly as the user must register it."""
    onehot = module("OneHot", outputSize=3)

    @register_translation("OneHot")
    def ids_as_floats(t7, ctx):
        return torch.nn.Flatten(0)

    assert torch.equal(translate(sequential(onehot))(torch.tensor([[2.0]])), torch.tensor([2.0]))
    with pytest.raises(UnsupportedModuleError) as err:
        translate(written(sequential(module("nn.Tanh"), module("Scale", factor=2.0)), tmp_path))
    assert err.value.unsupported == [("2", "Scale")]
    assert "@converter.register_translation('Scale')" in str(err.value)


# --- --plugin -------------------------------------------------------------------------------


def test_cli_plugin_registers_a_class_without_prefix(tmp_path):
    save_t7(sequential(module("Scale", factor=2.5), module("nn.Tanh")), tmp_path / "m.t7")
    out = tmp_path / "m.pt2"
    shape = ["--input-shape", "3,4"]
    refused = run(tmp_path / "m.t7", out, "--generic", *shape)
    assert refused.exit_code == 2 and "register_translation('Scale')" in refused.output
    result = run(tmp_path / "m.t7", out, "--generic", *shape, "--plugin", PLUGINS / "scale.py")
    assert result.exit_code == 0, result.output
    x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.export.load(out).module()(x), torch.tanh(x * 2.5))


def test_plugin_replaces_a_builtin_translation(tmp_path):
    """Built in is texture_nets HEAD's circular padding; the 2016 plugin overrides it, which
    differs once a pad is above 1 (the zoo3 files prove both against Torch7)."""
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    wide = sequential(circular(2, 1, 0, 3))
    head = translate(wide)(x)
    load_plugin(PLUGINS / "texture_nets_2016.py")
    for pads in [(1, 1, 1, 1), (2, 1, 0, 3)]:
        got = translate(sequential(circular(*pads)))(x)
        want = torch.from_numpy(lua_circular(x.numpy(), *pads))
        print(pads, "max|Δ| =", float((got - want).abs().max()))
        assert torch.equal(got, want), pads
    assert not torch.equal(head, translate(wide)(x))


def test_cli_plugin_writes_a_program_that_runs_the_plugin_code(tmp_path):
    save_t7(sequential(circular(2, 1, 0, 3), module("nn.Tanh")), tmp_path / "pad.t7")
    out = tmp_path / "pad.pt2"
    result = run(
        tmp_path / "pad.t7", out, "--generic", "--input-shape", "3,5,6",
        "--plugin", PLUGINS / "texture_nets_2016.py",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(1))
    got = torch.export.load(out).module()(x)
    assert torch.equal(got, torch.tanh(torch.from_numpy(lua_circular(x.numpy(), 2, 1, 0, 3))))


@pytest.mark.parametrize(
    "source, says",
    [
        (None, "no such file"),
        ("def f(:\n", "failed while loading (line 1): SyntaxError"),
        ("import math\nraise RuntimeError('needs CUDA')\n", "(line 2): RuntimeError: needs CUDA"),
        ("from converter import register_translation\n\n@register_translation\ndef f(t7, ctx):\n"
         "    pass\n", "(line 3): TypeError"),
    ],
)  # fmt: skip
def test_broken_plugin_is_one_line(tmp_path, source, says):
    plugin = tmp_path / "mine.py"
    if source is not None:
        plugin.write_text(source)
    with pytest.raises(UserError, match=r"--plugin .*mine\.py") as err:
        load_plugin(plugin)
    assert says in str(err.value) and "\n" not in str(err.value)
    save_t7(sequential(module("nn.Tanh")), tmp_path / "m.t7")
    result = run(tmp_path / "m.t7", tmp_path / "m.pt2", "--generic", "--input-shape", "3",
                 "--plugin", plugin)  # fmt: skip
    assert result.exit_code == 2 and says in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_plugin_and_dtype_need_generic(tmp_path):
    result = run(tmp_path / "m.t7", tmp_path / "m.pt", "--plugin", PLUGINS / "texture_nets_2016.py")
    assert result.exit_code == 2 and "add --generic" in result.output


BUGGY_BUILDERS = {
    "returns a number": ("    return 42\n", "my_layers.py returned int 42, not an nn.Module"),
    "reads a missing field": (
        "    return torch.nn.ReLU(inplace=t7.fields['no_such_field'])\n",
        "(line 8) raised KeyError: 'no_such_field'; fix the plugin",
    ),
    "raises": (
        "    raise ValueError('my bug')\n",
        "(line 8) raised ValueError: my bug; fix the plugin",
    ),
}


@pytest.mark.parametrize("case", BUGGY_BUILDERS)
def test_a_plugins_own_bug_names_its_file_and_line_not_a_damaged_file(tmp_path, case):
    """The plugin's builder is at fault, not the .t7 file: one line naming the plugin."""
    body, says = BUGGY_BUILDERS[case]
    plugin = tmp_path / "my_layers.py"
    plugin.write_text(
        "import torch\n\nfrom converter import register_translation\n\n\n"
        "@register_translation('nn.SpatialCircularPadding')\ndef build(t7, ctx):\n" + body
    )
    save_t7(sequential(circular(1, 1, 1, 1)), tmp_path / "m.t7")
    result = run(tmp_path / "m.t7", tmp_path / "m.safetensors", "--generic", "--plugin", plugin)
    print(result.output)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and str(plugin.resolve()) in lines[0]
    assert says in lines[0] and "damaged" not in lines[0]
    assert lines[0].startswith("error: ") and "nn.SpatialCircularPadding at 1: " in lines[0]
    assert not (tmp_path / "m.safetensors").exists()
