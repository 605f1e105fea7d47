"""`t7convert ... model.py`: the golden generated files, ruff on them, `--inspect` agreeing with
them, and the refusals (one line, nothing written, no overwrite without --force).

The numbers (Torch7's outputs, the translation's bit for bit) are in test_pysource.py.
"""

from __future__ import annotations

import importlib.util
import operator
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_invoke import run
from t7build import module
from test_plugins import own_registry  # noqa: F401 - autouse

from converter import load_model, translate
from converter.outputs.pysource.record import recording
from converter.outputs.pysource.writer import About, save_python
from converter.torch7.nngraph_writer import GraphBuilder
from converter.torch7.writer import save_t7

REPO = Path(__file__).resolve().parent.parent
GOLDEN = {  # golden file in tests/data -> (source, t7convert arguments)
    "irv2_tiny_generated.py": ("data/irv2_tiny.t7", ("--generic", "--input-shape=3,299,299")),
    "gmodule_unet_generated.py": ("zoo2/gmodule_unet.t7", ("--generic", "--input-shape=3,16,16")),
}


def _source(name: str, request) -> Path:
    where, _, file = GOLDEN[name][0].partition("/")
    base = request.getfixturevalue("bundled" if where == "data" else "fixtures")
    return base / file if where == "data" else base / where / file


@pytest.fixture(scope="module")
def written(request, tmp_path_factory) -> dict[str, Path]:
    """The golden cases and the mapped tiny IRv2 written again by t7convert."""
    out = tmp_path_factory.mktemp("written")
    paths = {}
    for name, (_, args) in GOLDEN.items():
        try:
            source = _source(name, request)
        except pytest.skip.Exception:
            continue
        result = run(source, out / name, *args)
        assert result.exit_code == 0, result.output
        paths[name] = out / name
    bundled = request.getfixturevalue("bundled")
    result = run(bundled / "irv2_tiny.t7", out / "irv2_tiny_mapped.py")
    assert result.exit_code == 0, result.output
    paths["mapped"] = out / "irv2_tiny_mapped.py"
    return paths


@pytest.mark.parametrize("name", list(GOLDEN))
def test_generated_code_equals_the_golden_file(written, name):
    if name not in written:
        pytest.skip("its source is in the Torch7 fixture set, not found here")
    want = (REPO / "tests" / "data" / name).read_text()
    got = written[name].read_text()
    regenerate = f"t7convert {GOLDEN[name][0]} tests/data/{name} {' '.join(GOLDEN[name][1])}"
    assert got == want, f"the generated code changed; review it and regenerate: {regenerate}"


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_generated_files_pass_ruff(written, command):
    config = ["--config", str(REPO / "pyproject.toml")]
    files = [str(p) for p in written.values()]
    done = subprocess.run(["ruff", *command, *config, *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _inspected(source: Path) -> dict[str, tuple[int, ...]]:
    """Tensor path -> shape from `t7convert --inspect`: `(i):` children and `[id] (slot)` graph
    nodes nest by indentation; tensors are listed as `[weight 4x3x3x3, bias 4]`."""
    result = run("--inspect", source)
    assert result.exit_code == 0, result.output
    shapes, stack = {}, {}
    tree = ("\n" + result.output).split("\n-- ", 1)[1]  # after a table's entries: the tree
    for line in tree.splitlines()[1:]:
        depth = (len(line) - len(line.lstrip())) // 2
        found = re.match(r"\s*(?:\[\d+\] )?\((\w+)\):? ", line)
        if line.strip().startswith(("nn.", "cudnn.")) and not found:
            stack = {depth: ""}  # the root module
            continue
        if not found:
            continue
        parent = stack.get(depth - 1, "")
        stack[depth] = f"{parent}.{found[1]}" if parent else found[1]
        tensors = re.search(r"  \[(\w+ [\dx]+(?:, \w+ [\dx]+)*)\]", line)
        for entry in tensors[1].split(", ") if tensors else []:
            field, size = entry.split(" ")
            shapes[f"{stack[depth]}.{field}"] = tuple(int(s) for s in size.split("x"))
    return shapes


def _imported(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as `import` would: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(GOLDEN))
def test_inspect_and_the_generated_module_agree_on_every_tensor(written, request, name):
    if name not in written:
        pytest.skip("its source is in the Torch7 fixture set, not found here")
    model = _imported(written[name]).load()
    state = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    state = {k: s for k, s in state.items() if not k.endswith("num_batches_tracked")}
    listed = _inspected(_source(name, request))
    print(f"{name}: {len(listed)} tensors listed by --inspect, {len(state)} in the .py")
    assert listed == state


PLUGIN_HEAD = """
import numpy as np
import torch
from torch import nn

from converter import register_translation
"""


@pytest.mark.parametrize(
    ("plugin", "says"),
    [
        (  # a class made inside a function: its source is not a top-level definition
            "def make():\n    class Local(nn.Module):\n        def forward(self, x):\n"
            "            return x\n    return Local\n\nLocal = make()\n",
            r"Local at the root: make.<locals>.Local \(mine.py\) is defined inside a function",
        ),
        (  # a class whose code needs numpy, which the .py does not import
            "class Scaled(nn.Module):\n    def forward(self, x):\n"
            "        return x * float(np.float32(2))\n\nLocal = Scaled\n",
            r"uses the module numpy, which the generated file cannot import",
        ),
        (  # changed after construction: its constructor call alone would not make it
            "class Scaled(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.scale = 1.0\n\n    def forward(self, x):\n        return x * self.scale\n"
            "\n\nclass Local(Scaled):\n    def __init__(self):\n        super().__init__()\n"
            "        self.scale = 1.0\n\n\n_made = Local\n\n\ndef Local():  # noqa: N802\n"
            "    m = _made()\n    m.scale = 2.0\n    return m\n",
            r"Local at the root: its scale was set after it was constructed",
        ),
        (  # a name the generated file has for itself
            "def load():\n    return 2.0\n\n\nclass Local(nn.Module):\n"
            "    def forward(self, x):\n        return x * load()\n",
            r"the name load for both the generated load\(\) and load \(mine.py\); rename one",
        ),
    ],
)
def test_what_cannot_be_written_is_refused_in_one_line(tmp_path, plugin, says):
    plugin_file = tmp_path / "mine.py"
    registration = "\n\n@register_translation('nn.Mine')\ndef _mine(t7, ctx):\n    return Local()\n"
    plugin_file.write_text(PLUGIN_HEAD + "\n\n" + plugin + registration)
    source = tmp_path / "m.t7"
    save_t7(module("nn.Mine"), source)
    out = tmp_path / "out" / "m.py"
    out.parent.mkdir()
    result = run(source, out, "--generic", "--plugin", plugin_file)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    print(line)
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line
    assert re.search(says, line), line
    assert list(out.parent.iterdir()) == []  # nothing written, not even the weights


def test_neither_file_is_overwritten_without_force(bundled, tmp_path):
    source = bundled / "irv2_tiny.t7"
    for existing in ("tiny.py", "tiny.safetensors"):
        (tmp_path / existing).write_text("mine")
        for args in ((), ("--generic",)):
            result = run(source, tmp_path / "tiny.py", *args)
            assert result.exit_code == 2 and "pass --force" in result.output, result.output
            assert existing in result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == [existing]
        assert (tmp_path / existing).read_text() == "mine"
        result = run(source, tmp_path / "tiny.py", "--force")
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.py", "tiny.safetensors"]
        (tmp_path / "tiny.py").unlink()
        (tmp_path / "tiny.safetensors").unlink()


def test_the_generated_file_runs_with_the_project_not_importable(written, bundled, tmp_path):
    """The mapped IRv2's .py (its classes copied from converter.irv2.model) in a clean
    interpreter: builds, loads its weights, prints."""
    code = (
        "import sys; sys.path[:0] = sys.argv[1:]; import irv2_tiny_mapped as m; "
        "net = m.load(); print(type(net).__name__, sum(p.numel() for p in net.parameters())); "
        "print(any(k.startswith('converter') for k in sys.modules))"
    )
    import safetensors

    paths = sorted({str(Path(p.__file__).parents[1]) for p in (torch, safetensors)})
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(written["mapped"].parent), *paths],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    mapped = load_model(bundled / "irv2_tiny.t7")
    n = sum(p.numel() for p in mapped.parameters())
    assert done.stdout.split() == ["InceptionResNetV2", str(n), "False"]


def test_a_graph_with_a_shared_module_and_annotations(tmp_path):
    """One conv used by two nodes stays one module in the .py (Lua shares the object); nodes
    are named by their annotations; the output equals the translation's bit for bit."""
    rng = np.random.default_rng(0)
    conv = module(
        "nn.SpatialConvolution", nInputPlane=2, nOutputPlane=2, kW=3, kH=3, dW=1, dH=1,
        padW=1, padH=1, weight=rng.normal(size=(2, 2, 3, 3)).astype(np.float32),
        bias=rng.normal(size=2).astype(np.float32),
    )  # fmt: skip
    g = GraphBuilder()
    x = g.node(module("nn.Identity"))
    first = g.node(conv, [x], name="enc")
    second = g.node(conv, [g.node(module("nn.Tanh"), [first])], name="enc again")
    source = tmp_path / "shared.t7"
    save_t7(g.gmodule([x], [g.node(module("nn.CAddTable"), [first, second])]), source)
    result = run(source, tmp_path / "shared.py", "--generic")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "shared.py").read_text()
    assert re.search(r"enc = self\[\"\d\"\]\(", text) and "enc_again = " in text, text
    generated = _imported(tmp_path / "shared.py").load()
    translated = translate(source)
    slots = [k for k, m in translated._modules.items() if isinstance(m, torch.nn.Conv2d)]
    assert len(slots) == 2 and generated[slots[0]] is generated[slots[1]]
    inp = torch.randn(2, 2, 5, 5)
    with torch.no_grad():
        assert torch.equal(generated(inp), translated(inp))


def test_unsupported_classes_are_refused_together(tmp_path):
    source = tmp_path / "two.t7"
    save_t7(module("nn.Sequential", modules=[module("nn.Foo"), module("nn.Bar")]), source)
    result = run(source, tmp_path / "two.py", "--generic")
    assert result.exit_code == 2
    first = result.output.splitlines()[0]
    assert "nn.Foo at 1" in first and "nn.Bar at 2" in first, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two.t7"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_load_on_cuda(written, bundled):
    from t7compare import tensor

    from converter.torch7.reader import load_t7

    ref = load_t7(bundled / "irv2_tiny_ref.t7")
    for name in ("irv2_tiny_generated.py", "mapped"):
        model = _imported(written[name]).load(device="cuda")
        with torch.no_grad():
            got = model(tensor(ref["input"]).cuda()).cpu()
        delta, scale = float((got - tensor(ref["output"])).abs().max()), float(got.abs().max())
        print(f"{name} on CUDA: max|Δ| = {delta:.3g} (max|out| = {scale:.3g})")
        assert delta <= 1e-4 * scale  # cuDNN rounds differently from THNN


def test_a_graph_calling_functions_and_methods_is_written_out(tmp_path):
    """fx nodes that call torch functions, operators and tensor methods (as a translator that
    calls functions instead of do-nothing modules would build them) become the same calls."""
    with recording() as calls:
        g = torch.fx.Graph()
        x = g.placeholder("input")
        relu = g.call_function(torch.relu, (g.call_module("1", (x,)),))
        flat = g.call_method("flatten", (g.call_function(operator.add, (relu, x)), 1))
        g.output(g.call_function(torch.nn.functional.softmax, (flat,), {"dim": 1}))
        root = torch.nn.Module()
        root.add_module("1", torch.nn.Conv2d(2, 2, 3, padding=1))
        program = torch.fx.GraphModule(root, g, class_name="gModule")
    save_python(program, calls, tmp_path / "fx.py", False, About("fx", None, "test", "test"))
    text = (tmp_path / "fx.py").read_text()
    for line in ("relu = torch.relu(_1)", "add = operator.add(relu, input)",
                 "flatten = add.flatten(1)", "softmax = F.softmax(flatten, dim=1)"):  # fmt: skip
        assert line in text, text
    generated = _imported(tmp_path / "fx.py").load()
    inp = torch.randn(2, 2, 4, 4)
    with torch.no_grad():
        assert torch.equal(generated(inp), program(inp))
