"""The C object loop (converter/torch7/_t7parse.c) builds exactly what the Python loop builds,
on every binary Torch7 file here, and gives up, leaving the message to the Python loop, on
every damaged one: on seeded byte mutants of real files it either builds the Python loop's
tree or returns None, and None wherever the Python loop raises."""

from __future__ import annotations

import math
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from t7fuzz import ByteMutator

from converter.errors import T7FormatError
from converter.torch7 import fast
from converter.torch7.binary import _IdentityKey
from converter.torch7.objects import LuaBool, LuaFunction, T7Object, T7Storage, T7Tensor
from converter.torch7.reader import load_t7
from converter.torch7.sniff import sniff_format

pytestmark = pytest.mark.skipif(
    not fast.native_parser_built(),
    reason="the optional C parser was not built (no C compiler at install): the Python loop "
    "reads every file",
)


def native(data: bytes, path: Path, lazy: bool = True) -> tuple[Any, int] | None:
    """(tree, end offset) from the C loop alone, or None where it gives up."""
    return fast.native(fast.BinaryReader(data, path, path if lazy else None))


def python(data: bytes, path: Path, lazy: bool = True) -> tuple[Any, int]:
    reader = fast.BinaryReader(data, path, path if lazy else None)
    return reader.read_obj(), reader.pos


def differences(a: Any, b: Any, seen: dict[int, int]) -> str | None:
    """Where two trees differ (None: equal, shared objects shared alike), as a path."""
    if type(a) is not type(b):
        return f": {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, (dict, list, T7Object, T7Tensor, T7Storage, LuaFunction, _IdentityKey)):
        if id(a) in seen:
            return None if seen[id(a)] == id(b) else ": shared differently"
        seen[id(a)] = id(b)
    if isinstance(a, dict):
        if len(a) != len(b):
            return f": {len(a)} vs {len(b)} keys"
        for (ka, va), (kb, vb) in zip(a.items(), b.items()):
            where = differences(ka, kb, seen) or differences(va, vb, seen)
            if where:
                return f"[{ka!r}]{where}"
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f": {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            if where := differences(x, y, seen):
                return f"[{i}]{where}"
        return None
    if isinstance(a, T7Object):
        if (a.class_name, a.version) != (b.class_name, b.version):
            return f": {a} v{a.version} vs {b} v{b.version}"
        return differences(a.fields, b.fields, seen)
    if isinstance(a, T7Tensor):
        if (a.class_name, a.dtype, a.shape, a.stride, a.offset) != (
            b.class_name, b.dtype, b.shape, b.stride, b.offset,
        ):  # fmt: skip
            return f": {a} vs {b}"
        return differences(a.storage, b.storage, seen)
    if isinstance(a, T7Storage):
        same = (a.class_name, a.dtype, a.size, a.file_offset, a.path) == (
            b.class_name, b.dtype, b.size, b.file_offset, b.path,
        ) and (a.data is None) == (b.data is None)  # fmt: skip
        same = same and (a.data is None or np.array_equal(a.data, b.data, equal_nan=True))
        return None if same else f": {a.class_name} of {a.size} vs {b.class_name} of {b.size}"
    if isinstance(a, _IdentityKey):
        return differences(a.obj, b.obj, seen)
    if isinstance(a, LuaFunction):
        return differences(a.upvalues, b.upvalues, seen) if a.dumped == b.dumped else ": code"
    if isinstance(a, float) and math.isnan(a):
        return None if math.isnan(b) else f": nan vs {b!r}"
    if isinstance(a, LuaBool) or not isinstance(a, np.ndarray):
        return None if a == b else f": {a!r} vs {b!r}"
    return None


def binary_files(*roots: Path) -> list[Path]:
    files = []
    for root in roots:
        for f in sorted(root.rglob("*")):
            if f.is_file() and f.stat().st_size < (64 << 20):
                try:
                    kind = sniff_format(f.read_bytes()[:256], f)
                except Exception:  # noqa: BLE001 - not a Torch7 file: not this test's
                    continue
                if kind == "binary":
                    files.append(f)
    return files


def check_same(path: Path, data: bytes, what: str, lazy: bool = True) -> str:
    """'built', or 'gave up' where the C loop returned None; fails where the loops disagree.
    `lazy`: storages left in the file, else copied out of the buffer (gzip input)."""
    done = native(data, path, lazy)
    try:
        want = python(data, path, lazy)
    except Exception as e:  # noqa: BLE001 - any failure of the Python loop: C must give up
        assert done is None, f"{what}: the C loop built a tree where Python raised {e!r}"
        return "gave up"
    if done is None:
        return "gave up"
    where = differences(want[0], done[0], {})
    assert where is None, f"{what}: the trees differ at root{where}"
    assert done[1] == want[1], f"{what}: ends at {done[1]}, Python at {want[1]}"
    return "built"


def test_every_binary_file_reads_alike(bundled, fixtures, realworld):
    files = binary_files(bundled, fixtures, realworld)
    outcomes = [check_same(f, f.read_bytes(), str(f)) for f in files]
    print(f"{len(files)} binary files: {outcomes.count('built')} built by the C loop")
    assert len(files) > 250 and outcomes.count("gave up") <= 1  # one fixture is damaged


def test_storages_copied_out_of_the_buffer_read_alike(bundled, fixtures):
    """Gzipped files and load_t7(lazy=False): the storages' bytes are copied at once."""
    files = binary_files(bundled, fixtures / "zoo2")
    outcomes = [check_same(f, f.read_bytes(), str(f), lazy=False) for f in files]
    assert len(files) > 50 and "built" in outcomes


def tensor_file(offset: int, storage: bytes = struct.pack("<i", 0)) -> bytes:
    """A file holding one 1-D FloatTensor of size 0, stride 1, storageOffset `offset`."""
    head = struct.pack("<iii", 4, 1, 3) + b"V 1" + struct.pack("<i", 17) + b"torch.FloatTensor"
    return head + struct.pack("<iqqq", 1, 0, 1, offset) + storage


@pytest.mark.parametrize("offset", [0, -1, -(2**63)])
def test_an_offset_before_the_storage_is_refused_by_both(offset):
    """storageOffset is 1-based: below 1 the Python loop refuses the view, the C one gives up
    (for -2**63, offset - 1 would wrap around to the largest int64)."""
    with pytest.raises(T7FormatError, match="corrupt torch.FloatTensor: size"):
        python(tensor_file(offset), Path("t.t7"))
    assert native(tensor_file(offset), Path("t.t7")) is None
    assert native(tensor_file(1), Path("t.t7")) is not None


def test_nesting_deeper_than_the_c_loop_goes_is_read_in_a_small_thread_stack(tmp_path):
    """1,500 tensors, each in the storage slot of the one before: the C loop gives up at its
    depth bound, so a thread with a 512 KB stack (macOS's default) does not crash, and the
    Python loop says what is wrong."""
    one = struct.pack("<iii", 4, 0, 3) + b"V 1" + struct.pack("<i", 17) + b"torch.FloatTensor"
    one += struct.pack("<iqqq", 1, 1, 1, 1)
    data = b"".join(one[:4] + struct.pack("<i", i + 1) + one[8:] for i in range(1500))
    (tmp_path / "deep.t7").write_bytes(data + struct.pack("<i", 0))
    seen = []

    def load() -> None:
        try:
            load_t7(tmp_path / "deep.t7")
        except T7FormatError as e:
            seen.append(str(e))

    previous = threading.stack_size(512 * 1024)
    try:
        worker = threading.Thread(target=load)
        worker.start()
        worker.join()
    finally:
        threading.stack_size(previous)
    assert seen and "no storage" in seen[0]


MUTATED = [
    "realworld/t7/henlisp_hw1_model.t7",
    "fixtures/zoo2/gmodule_unet.t7",
    "data/irv2_tiny.t7",
]


@pytest.mark.parametrize("name", MUTATED)
def test_damaged_files_are_left_to_the_python_loop(name, bundled, fixtures, realworld):
    where, _, rest = name.partition("/")
    path = {"data": bundled, "fixtures": fixtures, "realworld": realworld}[where] / rest
    mutator = ByteMutator(path.read_bytes(), seed=24)
    outcomes = []
    for _ in range(100):
        what, data = mutator.mutate()
        outcomes.append(check_same(path, data, f"{name}, {what}"))
    print(f"{name}: {outcomes.count('built')} mutants built alike, the rest left to Python")
    assert "gave up" in outcomes and "built" in outcomes
