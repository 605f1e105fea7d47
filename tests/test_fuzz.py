"""Fuzzing the conversion paths with structure-aware mutants (tests/t7fuzz.py).

Every mutant of the bundled IRv2, of each zoo module and of the real-world files goes, in this
process, through the IRv2 conversion (convert, then build the model), the generic translation
(then one forward on the file's own small input where the translation succeeds) and
`--inspect`'s describe, each mutant bounded in time and memory. A UserError (one clear line) is
the only acceptable failure; anything else fails the test, listed by crash class: the exception
type and the project line that raised it. The mutant sets are seeded: every run is the same.
"""

from __future__ import annotations

import resource
import signal
import traceback
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from t7fuzz import ByteMutator, TreeMutator
from test_zoo3_rnn import RNN_CASES

from converter.errors import UserError
from converter.generic.translator import translate
from converter.irv2.convert import convert_checkpoint, convert_tree
from converter.torch7.checkpoint import CheckpointSource
from converter.torch7.describe import describe
from converter.torch7.objects import T7Tensor
from converter.torch7.reader import load_t7
from converter.torch7.writer import save_t7

SECONDS = 20  # per mutant; the slowest, a whole bundled IRv2, takes about a second
MEMORY = 2 << 30  # per mutant, above what the process holds when it starts
MAX_INPUT = 100_000  # elements of a forward's input
REPO = Path(__file__).resolve().parent.parent


class MutantTimeout(Exception):
    """A mutant ran past its time bound (not a UserError: a hang is a failure)."""


@contextmanager
def bounded(seconds: float, extra_memory: int) -> Iterator[None]:
    """Run the block with a wall-clock limit (MutantTimeout) and at most `extra_memory` more
    bytes of address space than now (allocations beyond it fail with MemoryError)."""

    def expire(signum, frame):  # noqa: ANN001, ANN202
        raise MutantTimeout(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        in_use = int(f.read().split()[0]) * resource.getpagesize()
    limit = in_use + extra_memory
    unlimited = hard == resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_AS, (limit if unlimited else min(limit, hard), hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class Campaign:
    """Runs mutants and keeps what happened: outcome counts, and crashes by class."""

    def __init__(self) -> None:
        # torch's thread pools start on first use: before the memory bound, not under it
        with torch.no_grad():
            torch.nn.functional.conv2d(torch.ones(2, 3, 32, 32), torch.ones(4, 3, 3, 3)).sum()
        self.outcomes: Counter = Counter()
        self.crashes: dict[tuple[str, str], list[str]] = {}
        self.mutants = 0

    def run(self, label: str, source, x=None) -> None:  # noqa: ANN001 - a tree or a path
        """One mutant: `source` is the (mutated) tree or the path of a mutated file."""
        self.mutants += 1
        for stage, work in (
            ("convert", lambda: _convert(source, label)),
            ("translate", lambda: _translate(source, x)),
            ("describe", lambda: _describe(source)),
        ):
            try:
                with bounded(SECONDS, MEMORY):
                    self.outcomes[f"{stage}: {work() or 'ok'}"] += 1
            except UserError as e:
                assert "\n" not in str(e), f"{label}: {stage}: a message of several lines: {e}"
                self.outcomes[f"{stage}: {type(e).__name__}"] += 1
            except Exception as e:  # noqa: BLE001 - anything else is what the test looks for
                where = _project_frame(e)
                self.crashes.setdefault((f"{type(e).__name__} in {stage}", where), []).append(
                    f"{label}: {str(e)[:200]}"
                )

    def check(self, at_least: int) -> None:
        print(f"\n{self.mutants} mutants:")
        for outcome, n in sorted(self.outcomes.items()):
            print(f"  {n:5d}  {outcome}")
        for (kind, where), labels in self.crashes.items():
            print(f"CRASH {kind} at {where}: {len(labels)} mutant(s), e.g. {labels[0]}")
        assert self.mutants >= at_least
        assert not self.crashes, f"{len(self.crashes)} crash class(es), listed above"


def _convert(source, label: str) -> str | None:  # noqa: ANN001
    if isinstance(source, Path):
        conversion = convert_checkpoint(source)
    else:
        conversion = convert_tree(source, CheckpointSource(Path(label)))
    conversion.build_model()
    return "converted"


def _describe(source) -> str:  # noqa: ANN001
    describe(load_t7(source) if isinstance(source, Path) else source)
    return "described"


def _translate(source, x) -> str:  # noqa: ANN001
    module = translate(source)
    if x is None:
        return "translated"
    try:
        with torch.no_grad():
            module(*x)
    except (MutantTimeout, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - a forward may refuse an input its module cannot take
        return "translated, forward raised"
    return "translated, forward ran"


def _project_frame(e: BaseException) -> str:
    """The innermost frame of this project's code (not tests/) that the exception went through."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(str(REPO))]
    inner = [f for f in frames if "/tests/" not in f.filename] or frames
    if not inner:
        return "?"
    f = inner[-1]
    return f"{Path(f.filename).relative_to(REPO)}:{f.lineno} ({f.name})"


def _input(value):  # noqa: ANN001, ANN202 - a forward's arguments, or None when too large
    if isinstance(value, list):
        parts = [_input(v) for v in value]
        return None if any(p is None for p in parts) else ([p[0] for p in parts],)
    if not isinstance(value, T7Tensor) or value.numel > MAX_INPUT:
        return None
    return (torch.from_numpy(value.numpy()),)


def _mutate(campaign, label, tree, data, tmp, n_tree, n_bytes, x, file_every=4):  # noqa: ANN001, PLR0913
    """n_tree tree mutants (every `file_every`-th one through a file written with save_t7) and
    n_bytes byte mutants, for the forward input `x`."""
    seed = zlib.crc32(label.encode())
    if tree is not None:
        mutator = TreeMutator(tree, seed)
        for k in range(n_tree):
            what, root, undo = mutator.mutate(edits=1 + k % 3)
            try:
                if k % file_every == file_every - 1:
                    path = tmp / f"tree{k}.t7"
                    save_t7(root, path)
                    root = path
                campaign.run(f"{label} tree #{k}: {what}", root, x)
            finally:
                undo()
    if data is not None and n_bytes:
        mutator = ByteMutator(data, seed)
        for k in range(n_bytes):
            what, mutant = mutator.mutate()
            path = tmp / f"bytes{k}.t7"
            path.write_bytes(mutant)
            campaign.run(f"{label} bytes #{k}: {what}", path, x)
            path.unlink()


def test_zoo_modules(fixtures, tmp_path):
    """Each single-module case of zoo/ (the module mutated, its own input for the forward)."""
    _module_cases(fixtures / "zoo", tmp_path, n_tree=30, n_bytes=18, at_least=1650)


def test_zoo2_modules(fixtures, tmp_path):
    """Each case of zoo2/: every further layer family, the nngraph graphs and small models."""
    _module_cases(fixtures / "zoo2", tmp_path, n_tree=10, n_bytes=5, at_least=1700)


ALL = ("*",)
# zoo3's fused recurrent modules (rnn's Seq*), torch-rnn's classes and char-rnn's OneHot
ZOO3_RECURRENT = ("seqlstm*", "seqgru*", "seqbrnn*", "seqreverse*", "torchrnn_*", "charrnn_*")


def test_zoo3_recurrent_modules(fixtures, tmp_path):
    """The zoo3 cases of the fused recurrent layers, torch-rnn and char-rnn: state tables,
    gate layouts, views of a LanguageModel, a class without a package prefix."""
    _module_cases(fixtures / "zoo3", tmp_path, 16, 8, at_least=430, patterns=ZOO3_RECURRENT)


def test_zoo3_rnn_step_modules(fixtures, tmp_path):
    """The zoo3 cases of rnn's step-wise classes: Sequencer, Recursor, Repeater, the LSTMs and
    GRUs in every wiring, Recurrent(ce), BiSequencer(LM), masks."""
    _module_cases(fixtures / "zoo3", tmp_path, 6, 3, at_least=270, patterns=RNN_CASES)


# zoo3's dpnn (and the dpnn classes in nn), nnx, stnbhwd, texture_nets and eyescream cases
ZOO3_LIBRARIES = (
    "nnx_*", "stn_*", "tn2016_*", "tnhead_*", "eyescream_*", "inception", "decorator", "serial",
    "collapse", "convert_*", "constant", "onehot_nn", "ziptable", "reversetable", "clip",
    "spatialuniformcrop", "printsize", "dontcast", "firemodule", "argmax",
    "spatialfeatnormalization", "totaldropout_eval", "sadd",
)  # fmt: skip


def test_zoo3_library_modules(fixtures, tmp_path):
    """The zoo3 cases of dpnn, nnx, stnbhwd, texture_nets and eyescream (test_zoo3_libs.py)."""
    _module_cases(fixtures / "zoo3", tmp_path, 6, 3, at_least=400, patterns=ZOO3_LIBRARIES)


def _module_cases(folder, tmp_path, n_tree: int, n_bytes: int, at_least: int, patterns=ALL):  # noqa: ANN001
    campaign = Campaign()
    paths = {p for pattern in patterns for p in folder.glob(f"{pattern}.t7")}
    for path in sorted(paths):
        case = load_t7(path)
        module = case.get("module") if isinstance(case, dict) else None
        if module is None:  # a file of tensors, not a module case: its bytes only
            _mutate(campaign, path.name, case, path.read_bytes(), tmp_path, 10, 20, None)
            continue
        save_t7(module, tmp_path / "base.t7")  # the module alone, in binary
        data = (tmp_path / "base.t7").read_bytes()
        x = _input(case.get("input"))
        _mutate(campaign, path.name, module, data, tmp_path, n_tree, n_bytes, x)
    campaign.check(at_least=at_least)


def test_bundled_irv2(bundled, tmp_path):
    """The Torch7-written width/8 IRv2 (761 modules): where the mapping table looks."""
    tree = load_t7(bundled / "irv2_tiny.t7")
    data = (bundled / "irv2_tiny.t7").read_bytes()
    campaign = Campaign()
    # about half a second each (a whole conversion and translation): fewer than the others
    _mutate(campaign, "irv2_tiny.t7", tree, data, tmp_path, 30, 6, None, file_every=8)
    campaign.check(at_least=36)
    assert campaign.outcomes["convert: converted"] > 0  # some damage leaves a usable model
    # every edit was undone: the tree converts as the file does
    again = convert_tree(tree, CheckpointSource(Path("undone"))).state_dict
    original = convert_checkpoint(bundled / "irv2_tiny.t7").state_dict
    assert again.keys() == original.keys()
    assert all(torch.equal(again[k], original[k]) for k in original)


def test_realworld_files(realworld, tmp_path):
    """Files written by other people's Lua Torch: nngraph, an MLP, 2013-era nets, tables."""
    campaign = Campaign()
    for path in sorted((realworld / "t7").glob("*.*")):
        try:
            tree = load_t7(path)
        except UserError:  # the truncated one: its bytes up to the damage only
            tree = None
        x = (torch.rand(3, 28, 28),) if path.name == "henlisp_hw1_model.t7" else None
        # the ASCII file's numbers are text: its byte mutants are bit flips
        _mutate(campaign, path.name, tree, path.read_bytes(), tmp_path, 30, 20, x)
    campaign.check(at_least=300)
