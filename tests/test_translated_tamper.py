"""An altered generic .safetensors is data that fails to check, never code that runs: each kind
of tampering (unknown class, wrong shape or dtype, huge sizes, dangling references, another
version, foreign tensors, a broken header) is one UserError line saying what is wrong."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from converter import load_translated
from converter.errors import UserError
from converter.generic import registry
from converter.outputs.translated import read_artifact, save_translated
from converter.torch7.objects import T7Object
from converter.torch7.reader import load_t7


@pytest.fixture()
def conv_file(fixtures, tmp_path):
    """A conv module's artifact (weight 5x3x3x3 and bias) and its spec."""
    out = tmp_path / "conv.safetensors"
    save_translated(load_t7(fixtures / "zoo" / "conv_bias.t7")["module"], out, False, "conv.t7")
    return out


def rewrite(src, dst, edit_spec=None, edit_arrays=None, spec_text=None):
    from safetensors.numpy import save_file

    meta, arrays = read_artifact(src)
    spec = json.loads(meta["spec"])
    if edit_spec:
        edit_spec(spec)
    if edit_arrays:
        edit_arrays(arrays)
    meta["spec"] = spec_text if spec_text is not None else json.dumps(spec)
    save_file(arrays, str(dst), metadata=meta)
    return dst


def conv_entry(spec):
    return next(e for e in spec["objects"] if e.get("class", "").endswith("SpatialConvolution"))


def one_line_error(path, says):
    with pytest.raises(UserError, match=says) as err:
        load_translated(path)
    print(err.value)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def set_class(name):
    return lambda spec: conv_entry(spec).update({"class": name})


def set_weight(**changes):
    return lambda spec: conv_entry(spec)["fields"]["weight"].update(changes)


def set_field(**changes):
    return lambda spec: conv_entry(spec)["fields"].update(changes)


TAMPERED = {
    "unknown class": (
        set_class("nn.SpatialConvolutionFancy"),
        r"no translation registered: nn.SpatialConvolutionFancy at \(root\)",
    ),
    "wrong shape": (
        set_weight(shape=[8, 3, 3, 3]),
        r"shape \[5, 3, 3, 3\] in the file but \[8, 3, 3, 3\] in the spec",
    ),
    "wrong dtype": (
        set_weight(**{"class": "torch.DoubleTensor"}),
        "holds float32, but a torch.DoubleTensor holds float64",
    ),
    "huge shape": (set_weight(shape=[2**40, 2**40, 1, 1]), "is huge"),
    "huge number": (set_field(kW=10**30), "beyond what a Lua number holds"),
    "negative size": (set_weight(shape=[5, -3, 3, 3]), "not a count"),
    "dangling reference": (set_field(extra={"ref": 999}), "dangling"),
    "bad root": (lambda s: s.update(root=7), "points to no object"),
    "newer version": (
        lambda s: s.update(version=2),
        "newer than this converter reads.*update irv2-torch7",
    ),
    "unknown value": (set_field(x={"pickle": "Y29z"}), "unknown value"),
    "unknown entry": (lambda s: s["objects"].append({"code": "import os"}), "not a class, table"),
    "missing tensor": (set_weight(tensor="nothing"), "'nothing' is not in the file"),
    "not a tensor class": (set_weight(**{"class": "os.system"}), "not a Torch7 tensor class"),
}


@pytest.mark.parametrize("kind", TAMPERED)
def test_tampered_spec_is_one_clear_line(conv_file, tmp_path, kind):
    edit, says = TAMPERED[kind]
    one_line_error(rewrite(conv_file, tmp_path / "t.safetensors", edit_spec=edit), says)


def test_plugin_class_names_the_plugin_it_was_written_with(tmp_path, monkeypatch):
    """A class a user's plugin translated: the artifact records the plugin's file, and a
    loader without that plugin says which one to load (it never imports it itself)."""

    def scale(m, ctx):
        return torch.nn.Identity() if m["factor"] == 1 else torch.nn.Hardtanh()

    monkeypatch.setitem(registry._REGISTRY, "nn.TestOnlyScale", registry.Translation(scale))
    out = tmp_path / "p.safetensors"
    save_translated(T7Object("nn.TestOnlyScale", 1, {"factor": 1}), out, False, "x.t7")
    assert json.loads(read_artifact(out)[0]["spec"])["plugins"] == {
        "nn.TestOnlyScale": "test_translated_tamper.py"
    }
    assert isinstance(load_translated(out), torch.nn.Identity)
    monkeypatch.delitem(registry._REGISTRY, "nn.TestOnlyScale")
    one_line_error(
        out,
        "nn.TestOnlyScale at \\(root\\) \\(written with the plugin test_translated_tamper.py\\)",
    )


def test_foreign_tensor_in_the_file_is_refused(conv_file, tmp_path):
    extra = lambda arrays: arrays.update(evil=np.zeros(3, np.float32))  # noqa: E731
    one_line_error(
        rewrite(conv_file, tmp_path / "t.safetensors", edit_arrays=extra), "never uses: evil"
    )


@pytest.mark.parametrize(
    "text, says",
    [("{", "not valid JSON"), ("[" * 100_000, "not valid JSON"), ("[]", "holds no irv2-torch7")],
)
def test_broken_spec_text_is_one_line(conv_file, tmp_path, text, says):
    one_line_error(rewrite(conv_file, tmp_path / "t.safetensors", spec_text=text), says)


def test_header_claiming_huge_tensor_is_one_line(tmp_path):
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [10**9], "data_offsets": [0, 4 * 10**9]}}
    ).encode()
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    one_line_error(path, "not a readable .safetensors file")


def test_mapped_weights_are_pointed_to_load_converted(tiny_pt, tmp_path):
    from converter.outputs import mapped

    state, meta = mapped.load(tiny_pt)
    mapped.save(state, meta, tmp_path / "m.safetensors", "safetensors")
    one_line_error(tmp_path / "m.safetensors", "load_converted")


def test_an_untranslatable_tree_is_not_written(tmp_path):
    tree = T7Object("nn.Sequential", 1, {"modules": [T7Object("nn.NoSuchLayer", 1, {})]})
    with pytest.raises(UserError, match=r"nn.NoSuchLayer at 1; register their translations"):
        save_translated(tree, tmp_path / "u.safetensors", False, "u.t7")
    assert list(tmp_path.iterdir()) == []
