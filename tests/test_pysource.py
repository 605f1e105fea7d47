"""`t7convert X.t7 model.py [--generic]`: the generated PyTorch source, proven against Torch7.

Every zoo/, zoo2/ and zoo3/ case the translator handles, the 2016 texture_nets padding case
through its plugin (whose classes the .py copies), the real published models, ResNet-18 and
the tiny IRv2 (generic and mapped) are written as .py + .safetensors, then imported in ONE
fresh interpreter (`python -I -S`, cwd = the work directory, only torch's and safetensors'
directories on its path, so this project cannot be imported) and run on the inputs Torch7
ran: each output must match Torch7's within the translation's tolerance (t7compare: 1e-5 /
1e-10 x max|ref|) and equal the translated (or mapped) module's output bit for bit.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors
import torch
from conftest import fixtures_dir, shared_dir
from t7compare import tensor
from test_realworld_models import MODELS
from zoo2cases import compare

from converter.generic import registry
from converter.generic.plugins import load_plugin
from converter.generic.translator import UnsupportedModuleError, translate
from converter.irv2.convert import convert_checkpoint
from converter.outputs.pysource.record import recording
from converter.outputs.pysource.writer import About, save_python
from converter.torch7.reader import load_t7

CHILD = Path(__file__).resolve().parent / "pysource_child.py"
PLUGINS = Path(__file__).resolve().parent / "plugins"
# zoo3 cases whose class a plugin of tests/plugins translates: the .py copies the plugin's code
# (the 2016 nn.SpatialCircularPadding stores the fields of today's built-in one: a plugin picks it)
PLUGIN_CASES = {"tn2016_circularpad2": "texture_nets_2016.py"}
# texture_nets' noise layers with action 'zero' or mult 0: Torch7's output is all zeros
ZERO_NOISE = ("zoo3/tn2016_gennoise_zero", "zoo3/tnhead_gennoise_mult0")
ZOO = [
    f"{d}/{p.stem}"
    for d in ("zoo", "zoo2", "zoo3")
    for p in sorted((fixtures_dir() / d).glob("*.t7"))
    if p.stem not in PLUGIN_CASES
]
CASES = ZOO + [f"plugin/{n}" for n in PLUGIN_CASES] + [f"realworld/{n}" for n in MODELS]
CASES += ["resnet18", "tiny/generic", "tiny/mapped"]


def module_name(case: str) -> str:
    return "case_" + re.sub(r"\W", "_", case)


def _zoo_case(case: str):
    """(build the module, inputs, Torch7's outputs) of a zoo/zoo2 file, or why it is skipped."""
    data = load_t7(fixtures_dir() / f"{case}.t7")
    if not isinstance(data, dict) or "module" not in data:
        return "a reader case, not a module"
    if data.get("mode", "evaluate") != "evaluate":
        return f"a {data['mode']}-mode case"
    keys = ["input"] + sorted(k for k in data if k.startswith("input") and k != "input")
    refs = [tensor(data[k.replace("input", "output")]) for k in keys]
    return (lambda: translate(data["module"])), [tensor(data[k]) for k in keys], refs


def _realworld_case(name: str):
    path, dtype, *plugin = MODELS[name]  # (file, dtype[, the plugin it needs])
    if plugin and plugin[0]:
        load_plugin(PLUGINS / plugin[0])
    ref = load_t7(shared_dir() / "realworld" / "models" / f"{name}_ref.t7")
    build = lambda: translate(shared_dir() / "realworld" / path, dtype)  # noqa: E731
    return build, [tensor(ref["input"])], [tensor(ref["output"])]


def _case(case: str, request):
    kind, _, name = case.partition("/")
    if kind in ("zoo", "zoo2", "zoo3"):
        request.getfixturevalue("fixtures")
        return _zoo_case(case)
    if kind == "plugin":
        request.getfixturevalue("fixtures")
        load_plugin(PLUGINS / PLUGIN_CASES[name])
        return _zoo_case(f"zoo3/{name}")
    if kind == "realworld":
        request.getfixturevalue("realworld")
        return _realworld_case(name)
    if kind == "resnet18":
        ref = load_t7(fixtures_dir() / "resnet18" / "resnet18_ref.t7")
        t7 = request.getfixturevalue("resnet18_t7")
        return (lambda: translate(t7)), [tensor(ref["input"])], [tensor(ref["output"])]
    bundled = Path(__file__).resolve().parent / "data"
    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    if name == "mapped":
        build = lambda: convert_checkpoint(bundled / "irv2_tiny.t7").build_model()  # noqa: E731
    else:
        build = lambda: translate(bundled / "irv2_tiny.t7")  # noqa: E731
    return build, [tensor(ref["input"])], [tensor(ref["output"])]


def _clone(x):
    return [_clone(v) for v in x] if isinstance(x, list) else x.clone()


def _write(case: str, work: Path, request) -> dict | str:
    """The case's .py and weights in `work`, its inputs saved; what the test compares."""
    try:
        found = _case(case, request)
    except (pytest.skip.Exception, FileNotFoundError) as e:
        return f"not available: {e}"
    if isinstance(found, str):
        return found
    build, inputs, refs = found
    try:
        with recording() as calls:
            module = build()
    except UnsupportedModuleError as e:
        if case.startswith("zoo/"):
            raise  # every zoo/ module is translated: none may be skipped
        return f"not translated in this branch: {e.unsupported}"
    name = module_name(case)
    save_python(module, calls, work / f"{name}.py", False, About(case, None, "test", "test"))
    expected = []
    for i, x in enumerate(inputs):
        torch.save(x, work / f"{name}.in{i}.pt")
        with torch.no_grad():
            expected.append(module(_clone(x)))
    return {"expected": expected, "refs": refs}


@pytest.fixture(scope="module")
def generated(request, tmp_path_factory):
    """Every case written, then run in one clean interpreter: case -> results or skip reason."""
    work = tmp_path_factory.mktemp("pysource")
    results = {}
    with pytest.MonkeyPatch.context() as mp:  # a plugin's registrations end with this fixture
        mp.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
        for case in CASES:
            results[case] = _write(case, work, request)
    runnable = {module_name(c): len(r["refs"]) for c, r in results.items() if isinstance(r, dict)}
    (work / "cases.json").write_text(json.dumps(runnable))
    paths = sorted({str(Path(m.__file__).parents[1]) for m in (torch, safetensors)})
    run = subprocess.run(
        [sys.executable, "-I", "-S", str(CHILD), str(work), *paths],
        cwd=work, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((work / "report.json").read_text())
    assert report == {"imported": [], "importable": []}, report
    return work, results


@pytest.mark.parametrize("case", CASES)
def test_generated_module_reproduces_torch7_and_the_translation(generated, case):
    work, results = generated
    result = results[case]
    if isinstance(result, str):
        pytest.skip(result)
    for i, (want, ref) in enumerate(zip(result["expected"], result["refs"])):
        got = torch.load(work / f"{module_name(case)}.out{i}.pt", weights_only=True)
        if case in ZERO_NOISE:  # noise times 0: all-zero in Torch7, so compared exactly
            assert _bitwise_equal(got, ref), f"{case}: the .py differs from Torch7's zeros"
        else:
            compare(got, ref, f"{case} input {i + 1}, generated .py vs Torch7")
        assert _bitwise_equal(got, want), f"{case}: the .py differs from the translated module"


def _bitwise_equal(a, b) -> bool:
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(map(_bitwise_equal, a, b))
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def test_every_zoo_case_is_in_the_batch(fixtures):
    assert sum(c.startswith("zoo/") for c in CASES) >= 37, "zoo/ fixtures missing"
    assert sum(c.startswith("zoo2/") for c in CASES) >= 100, "zoo2/ fixtures missing"
    assert sum(c.startswith("zoo3/") for c in CASES) >= 90, "zoo3/ fixtures missing"
