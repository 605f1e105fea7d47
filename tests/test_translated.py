"""The generic path's .safetensors: the Torch7 tree as data, rebuilt and translated again.

Proof against Torch7: every zoo/zoo2 case the translator handles, ResNet-18 and the tiny IRv2
reproduce Torch7's outputs from the rebuilt module (tolerance 1e-5 x max|ref|, as everywhere),
and the rebuilt state_dict equals a direct translation's bit for bit. Every tree the fixtures
hold (nngraph graphs and other projects' classes included) writes and reads back to the same
spec, whether or not this branch translates it yet.
"""

from __future__ import annotations

import pickle

import pytest
import torch
from click.testing import CliRunner
from conftest import fixtures_dir, shared_dir
from nopickle import NoPickle, forbid_pickle
from t7compare import assert_close, tensor

from converter import load_translated
from converter.cli import main
from converter.generic.translator import UnsupportedModuleError, translate
from converter.outputs.spec import to_spec
from converter.outputs.spec_load import from_spec
from converter.outputs.translated import save_translated
from converter.torch7.objects import LuaFunction, T7Object, T7Tensor
from converter.torch7.reader import load_t7


def _case_files() -> list[str]:
    root = fixtures_dir()
    return [
        f"{p.parent.name}/{p.name}"
        for d in ("zoo", "zoo2")
        for p in sorted((root / d).glob("*.t7"))
    ]


CASES = _case_files()


def assert_like_torch7(got, ref, what: str) -> None:
    """A Lua table of outputs is a list here; compare element by element."""
    if isinstance(ref, list):
        assert isinstance(got, (list, tuple)) and len(got) == len(ref), what
        for i, (g, r) in enumerate(zip(got, ref), start=1):
            assert_like_torch7(g, r, f"{what}[{i}]")
    else:
        assert_close(got, ref, what)


def roundtrip(root: T7Object, tmp_path, name: str = "m.safetensors") -> torch.nn.Module:
    out = tmp_path / name
    save_translated(root, out, False, "source.t7")
    return load_translated(out)


def test_every_zoo_module_case_is_in_the_list():
    assert sum(c.startswith("zoo/") for c in CASES) >= 37, "zoo/ fixtures missing"


@pytest.mark.parametrize("name", CASES)
def test_rebuilt_module_reproduces_torch7(fixtures, tmp_path, name):
    case = load_t7(fixtures / name)
    if not isinstance(case, dict) or "module" not in case:
        pytest.skip(f"{name}: a reader case, not a module")
    try:
        direct = translate(case["module"])
    except UnsupportedModuleError as e:
        if name.startswith("zoo/"):
            raise  # every zoo/ module is translated: none may be skipped
        pytest.skip(f"not translated in this branch: {e.unsupported}")
    rebuilt = roundtrip(case["module"], tmp_path)
    want = direct.state_dict()
    assert list(rebuilt.state_dict()) == list(want)
    assert all(torch.equal(t, want[k]) for k, t in rebuilt.state_dict().items())
    for key in ["input"] + sorted(k for k in case if k.startswith("input_")):
        with torch.no_grad():
            got = rebuilt(tensor(case[key]))
        assert_like_torch7(got, tensor(case[key.replace("input", "output")]), f"{name} {key}")


def test_resnet18_rebuilt_reproduces_torch7(fixtures, resnet18_t7, tmp_path):
    ref = load_t7(fixtures / "resnet18" / "resnet18_ref.t7")
    result = CliRunner().invoke(
        main, [str(resnet18_t7), str(tmp_path / "r.safetensors"), "--generic"]
    )
    assert result.exit_code == 0, result.output
    assert "load it with converter.load_translated" in result.output
    rebuilt = load_translated(tmp_path / "r.safetensors")
    with torch.no_grad():
        assert_close(rebuilt(tensor(ref["input"])), tensor(ref["output"]), "resnet18 rebuilt")
    direct = translate(resnet18_t7).state_dict()
    assert all(torch.equal(t, direct[k]) for k, t in rebuilt.state_dict().items())


def test_tiny_irv2_rebuilt_reproduces_torch7(bundled, tmp_path):
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    rebuilt = roundtrip(load_t7(bundled / "irv2_tiny.t7"), tmp_path)
    with torch.no_grad():
        assert_close(rebuilt(tensor(ref["input"])), tensor(ref["output"]), "tiny irv2 rebuilt")
    direct = translate(bundled / "irv2_tiny.t7").state_dict()
    assert all(torch.equal(t, direct[k]) for k, t in rebuilt.state_dict().items())


def test_loading_never_unpickles(bundled, tmp_path, monkeypatch):
    out = tmp_path / "tiny.safetensors"
    save_translated(load_t7(bundled / "irv2_tiny.t7"), out, False, "irv2_tiny.t7")
    forbid_pickle(monkeypatch)
    with pytest.raises(NoPickle):  # the patch is in force
        pickle.loads(pickle.dumps(1))
    assert len(list(load_translated(out).parameters())) == 398  # MANIFEST §3.2


def _trees():
    """Every module tree in the fixtures, by file, translated in this branch or not."""
    files = [fixtures_dir() / c for c in CASES]
    files += sorted((shared_dir() / "realworld" / "t7").glob("*.t7"))
    files += sorted((shared_dir() / "realworld" / "models").glob("*.net"))
    return [pytest.param(f, id=f"{f.parent.name}/{f.name}") for f in files]


@pytest.mark.parametrize("path", _trees())
def test_every_fixture_tree_reads_back_to_the_same_spec(path):
    """nngraph graphs, torch-rnn's classes, 2012 nnx: structure, sharing and data survive."""
    try:
        obj = load_t7(path)
    except Exception as e:  # noqa: BLE001 - truncated fixtures are the reader's tests
        pytest.skip(f"not readable: {e}")
    root = obj.get("module", obj.get("model")) if isinstance(obj, dict) else obj
    if not isinstance(root, T7Object):
        pytest.skip("holds no module tree")
    spec, arrays = to_spec(root, {}, path.name)
    again, arrays_again = to_spec(from_spec(spec, arrays, path.name), {}, path.name)
    assert again == spec
    assert list(arrays_again) == list(arrays)
    for k, a in arrays.items():
        b = arrays_again[k]
        assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes()), k


def test_shared_and_cyclic_objects_stay_shared():
    linear = load_t7(fixtures_dir() / "zoo" / "linear.t7")["module"]
    root = T7Object("nn.ParallelTable", 1, {"modules": [linear, linear]})
    root.fields["self"] = root  # a cycle, as nngraph nodes have
    spec, arrays = to_spec(root, {}, "x")
    rebuilt = from_spec(spec, arrays, "x")
    assert rebuilt["modules"][0] is rebuilt["modules"][1]
    assert rebuilt["self"] is rebuilt
    assert rebuilt["modules"][0]["weight"] is rebuilt["modules"][1]["weight"]
    assert len(arrays) == 2  # weight and bias, once


def test_scratch_buffers_are_written_empty(fixtures, tmp_path):
    module = load_t7(fixtures / "zoo" / "linear.t7")["module"]
    weight = module["weight"]
    module.fields["output"] = T7Tensor(
        weight.class_name, weight.dtype, weight.shape, weight.stride, weight.offset, weight.storage
    )
    spec, arrays = to_spec(module, {}, "x")
    assert sorted(arrays) == ["bias", "weight"]
    out = from_spec(spec, arrays, "x")["output"]
    assert isinstance(out, T7Tensor) and out.numel == 0 and out.class_name == weight.class_name


def test_a_lua_function_in_a_table_is_refused_in_one_line(fixtures, tmp_path):
    """A module's own function fields are left out (test_model_roots.py); one inside a table
    is data the spec cannot hold."""
    module = load_t7(fixtures / "zoo" / "relu.t7")["module"]
    module.fields["hooks"] = [LuaFunction(b"\x1bLJ", None)]
    from converter.errors import UserError

    with pytest.raises(UserError, match="holds a Lua function") as err:
        save_translated(module, tmp_path / "f.safetensors", False, "x.t7")
    assert "\n" not in str(err.value) and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_rebuilt_module_runs_on_cuda(bundled, tmp_path):
    out = tmp_path / "tiny.safetensors"
    save_translated(load_t7(bundled / "irv2_tiny.t7"), out, False, "irv2_tiny.t7")
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    with torch.no_grad():
        got = load_translated(out, device="cuda")(tensor(ref["input"]).cuda()).cpu()
    # cuDNN convolutions round differently from THNN's; 1e-4 relative still catches any bug
    delta, scale = float((got - tensor(ref["output"])).abs().max()), float(got.abs().max())
    print(f"tiny irv2 rebuilt, on CUDA: max|Δ| = {delta:.3g} (max|out| = {scale:.3g})")
    assert delta <= 1e-4 * scale
