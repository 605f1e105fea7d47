"""Custom Torch7 classes: the message for a class nobody translates, a user's translation
registered from Python or loaded with --plugin (texture_nets' classes, built here as Torch7
would write them), broken plugins, and classes that predate Torch7's nn.

The torch-rnn plugin (tests/plugins/torch_rnn.py) is checked against Torch7's own output in
test_realworld_models.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from converter import load_plugin, register_translation, translate
from converter.cli import main
from converter.errors import T7FormatError, UserError
from converter.generic import registry
from converter.generic.translator import UnsupportedModuleError
from converter.torch7.objects import T7Object
from converter.torch7.writer import save_t7

PLUGINS = Path(__file__).resolve().parent / "plugins"
EMPTY = np.zeros(0, dtype=np.float32)


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """What a test (or a plugin it loads) registers ends with the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def module(cls: str, **fields) -> T7Object:
    """A Torch7 module object as Lua writes it: its fields plus output/gradInput/train."""
    return T7Object(cls, 1, {"output": EMPTY, "gradInput": EMPTY, "train": False, **fields})


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


def texture_tree() -> T7Object:
    return sequential(
        circular(1, 1, 1, 1),
        module("nn.GenNoise"),
        module("nn.Tanh"),
        module("nn.GenNoise", action="zero"),
    )


# --- a class without a translation ----------------------------------------------------------


def written(tree: T7Object, tmp_path: Path) -> Path:
    save_t7(tree, tmp_path / "model.t7")
    return tmp_path / "model.t7"


def test_unknown_classes_get_one_line_each_with_paths_and_fields(tmp_path):
    with pytest.raises(UnsupportedModuleError) as err:
        translate(written(texture_tree(), tmp_path))
    e = err.value
    print(e, *e.details, sep="\n")
    assert e.unsupported == [
        ("1", "nn.SpatialCircularPadding"), ("2", "nn.GenNoise"), ("4", "nn.GenNoise"),
    ]  # fmt: skip
    assert "\n" not in str(e) and "--plugin" in str(e) and "register_translation" in str(e)
    assert len(e.details) == 2  # one per class, not per module
    pad, noise = e.details
    assert pad.startswith("nn.SpatialCircularPadding at 1; fields: ")
    assert "pad_b=1" in pad and "pad_l=1" in pad and "output (FloatTensor 0)" in pad
    assert noise.startswith("nn.GenNoise at 2, 4; fields: ")


def test_cli_lists_unknown_classes_and_points_to_plugins(tmp_path):
    model = written(texture_tree(), tmp_path)
    result = run(model, tmp_path / "s.pt2", "--generic", "--input-shape", "3,8,8")
    print(result.output)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("error: ") and "--plugin FILE.py" in lines[0]
    assert [line.split(" at ")[0].strip() for line in lines[1:]] == [
        "nn.SpatialCircularPadding", "nn.GenNoise",
    ]  # fmt: skip
    assert not (tmp_path / "s.pt2").exists()


def test_classes_that_predate_torch7_nn_are_named_as_such(tmp_path):
    old = module("nn.SpatialLinear", fanin=4, fanout=2, weight=np.ones((2, 4), np.float32))
    with pytest.raises(UnsupportedModuleError) as err:
        translate(written(sequential(module("nn.Tanh"), old), tmp_path))
    assert err.value.unsupported == [("2", "nn.SpatialLinear")]
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


# --- --plugin -------------------------------------------------------------------------------


def test_plugin_translates_circular_padding_as_texture_nets_does(tmp_path):
    load_plugin(PLUGINS / "texture_nets.py")
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    for pads in [(1, 1, 1, 1), (2, 1, 0, 3)]:
        got = translate(sequential(circular(*pads)))(x)
        want = torch.from_numpy(lua_circular(x.numpy(), *pads))
        print(pads, "max|Δ| =", float((got - want).abs().max()))
        assert torch.equal(got, want), pads


def test_plugin_noise_modules_draw_noise_of_the_input_shape():
    load_plugin(PLUGINS / "texture_nets.py")
    x = torch.full((2, 3, 4, 4), 7.0)
    uniform = translate(sequential(module("nn.GenNoise")))
    a, b = uniform(x), uniform(x)
    assert a.shape == x.shape and 0 <= a.min() and a.max() < 1 and not torch.equal(a, b)
    zero = translate(sequential(module("nn.GenNoise", action="zero")))
    assert torch.equal(zero(x), torch.zeros_like(x))
    planes = translate(sequential(module("nn.GenNoise", num_planes=5, mult=0.0)))
    assert torch.equal(planes(x), torch.zeros(2, 5, 4, 4))


def test_cli_plugin_writes_a_program_that_runs_the_plugin_code(tmp_path):
    save_t7(sequential(circular(1, 1, 1, 1), module("nn.Tanh")), tmp_path / "pad.t7")
    out = tmp_path / "pad.pt2"
    result = run(
        tmp_path / "pad.t7", out, "--generic", "--input-shape", "3,5,6",
        "--plugin", PLUGINS / "texture_nets.py",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(1))
    got = torch.export.load(out).module()(x)
    assert torch.equal(got, torch.tanh(torch.from_numpy(lua_circular(x.numpy(), 1, 1, 1, 1))))


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
    result = run(tmp_path / "m.t7", tmp_path / "m.pt", "--plugin", PLUGINS / "texture_nets.py")
    assert result.exit_code == 2 and "add --generic" in result.output
