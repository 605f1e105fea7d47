"""Structure-aware mutants of Torch7 files, for the fuzz tests (tests/test_fuzz.py).

Random bytes mostly break a file where the reader already checks it; the damage that reaches
the converter is structural. Two kinds of mutants, each drawn from a seeded generator:

- tree mutants edit the object tree as the reader returns it, in place, and are undone after
  use: a container's `modules` holding numbers, strings, tables, tensors or its own ancestors
  (a cycle), `modules` itself a number or a table with holes, a module's fields of the wrong
  type or missing, its `fields` not a table, negative/zero/huge/NaN geometry (kW, dW, padW,
  nInputPlane, ...), tensors of the wrong rank, dtype or size (a stride-0 view of 2^40
  elements), unknown or swapped class names, a child buried under 40-300 containers, the
  network inside a DataParallelTable-like wrapper whose `modules` is hostile too;
- byte mutants edit the serialised bytes where the format keeps its numbers, found by a reader
  that records where it read each int, long and double: type ids, object indices (a
  back-reference to another object), string and table lengths, tensor sizes, strides and
  storage offsets, storage sizes; and chunk shifts (a run of fields deleted, repeated or moved,
  so that everything after it is read out of step).
"""

from __future__ import annotations

import math
import random
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import T7FormatError
from converter.torch7.binary import MAX_DEPTH, Reader
from converter.torch7.objects import STORAGE_DTYPES, T7Object, T7Storage, T7Tensor

INTS = (0, 1, -1, 2, 3, 4, 5, 6, 8, 9, 255, 65536, 2**31 - 1, -(2**31))
LONGS = (0, 1, -1, 2, 2**31, 2**40, 2**62, -(2**62))
DOUBLES = (0.0, -1.0, 0.5, -7.0, 1e18, -1e18, 2.0**53 + 2, math.nan, math.inf, -math.inf)
GEOMETRY = (
    "kW", "kH", "dW", "dH", "padW", "padH", "padding", "nInputPlane", "nOutputPlane", "groups",
    "dimension", "nInputDims", "numInputDims", "p", "eps", "momentum", "threshold", "val",
    "constant_scalar", "size", "batchMode", "ceil_mode", "mode", "divide", "v2", "inplace",
)  # fmt: skip
CLASSES = (
    "nn.Sequential", "nn.Concat", "nn.ConcatTable", "nn.ParallelTable", "nn.JoinTable",
    "nn.CAddTable", "nn.SpatialConvolution", "nn.SpatialConvolutionMM", "cudnn.SpatialConvolution",
    "nn.SpatialBatchNormalization", "nn.BatchNormalization", "nn.Linear", "nn.ReLU",
    "nn.Threshold", "nn.SpatialMaxPooling", "nn.SpatialAveragePooling", "nn.View", "nn.Reshape",
    "nn.Dropout", "nn.MulConstant", "nn.Identity", "nn.SoftMax", "nn.DataParallelTable",
    "nn.gModule", "nn.NoSuchModule", "cudnn.", "nn.",
)  # fmt: skip


def tensor(shape: tuple[int, ...], dtype: Any = np.float32, stride: tuple | None = None):
    """A T7Tensor over a storage of its own (with `stride`, a view the reader also accepts)."""
    name = {np.float32: "Float", np.float64: "Double", np.int64: "Long", np.uint8: "Byte"}[dtype]
    n = math.prod(shape) if stride is None else 1 + sum((d - 1) * s for d, s in zip(shape, stride))
    data = (np.arange(max(n, 0)) % 7).astype(dtype)
    storage = T7Storage(
        f"torch.{name}Storage", STORAGE_DTYPES[f"torch.{name}Storage"], n, data=data
    )
    stride = stride or tuple(int(math.prod(shape[k + 1 :])) for k in range(len(shape)))
    return T7Tensor(f"torch.{name}Tensor", storage.dtype, shape, stride, 0, storage)


def hostile_value(rng: random.Random) -> Any:
    """A fresh value of a random kind: what a field or a child should not hold."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(INTS + DOUBLES)
    if kind == 1:
        return rng.choice(["", "nn.Sequential", "x" * 300, "\x00", True, False, None])
    if kind == 2:
        return rng.choice(
            [lambda: [], lambda: {}, lambda: [1, 2, 3], lambda: {"a": 1}, lambda: {1: "x", 3: 2},
             lambda: [[1], [2]], lambda: {"modules": 5}, lambda: [None, "x"]]
        )()  # fmt: skip
    if kind == 3:
        fields = rng.choice(
            [5, "x", [], {}, {"modules": [3, "x"]}, {"modules": {"1": 2}}, {"weight": 1.5},
             {"weight": tensor((3,)), "bias": "b"}, {"modules": [T7Object("nn.ReLU", 1, 5)]}]
        )  # fmt: skip
        return T7Object(rng.choice(CLASSES + ("torch.FloatTensor",)), rng.choice([0, 1, 7]), fields)
    if kind == 4:
        shape = rng.choice([(), (0,), (3,), (2, 2), (1, 1, 1, 1, 1), (4, 0, 3, 3), (2, 3, 1, 1)])
        return tensor(shape, rng.choice([np.float32, np.float64, np.int64, np.uint8]))
    return tensor((2**20, 2**20), stride=(0, 0))  # legal in Torch; 2^40 elements if copied


@dataclass
class _Edit:
    description: str
    undo: Callable[[], None]


def _set(container: Any, key: Any, value: Any) -> Callable[[], None]:
    """Put `value` at container[key]; returns the undo."""
    had = key in container if isinstance(container, dict) else True
    old = container[key] if had else None
    container[key] = value

    def undo() -> None:
        if had:
            container[key] = old
        else:
            del container[key]

    return undo


def _setattr(obj: Any, name: str, value: Any) -> Callable[[], None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    return lambda: setattr(obj, name, old)


def _modules(root: Any) -> list[tuple[T7Object, list[T7Object]]]:
    """Every T7Object reachable from `root` through tables and fields, with the chain of
    modules above it (its `modules` ancestors), each once."""
    found, seen = [], set()
    stack = [(root, [])]
    while stack:
        obj, above = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, T7Object):
            found.append((obj, above))
            if isinstance(obj.fields, dict):
                stack += [(v, [*above, obj]) for v in obj.fields.values()]
        elif isinstance(obj, dict):
            stack += [(v, above) for v in obj.values()]
        elif isinstance(obj, list):
            stack += [(v, above) for v in obj]
    return found


class TreeMutator:
    """Seeded in-place edits of one object tree; `mutate` returns what it did and the undo."""

    def __init__(self, root: Any, seed: int):
        self.root = root
        self.rng = random.Random(seed)
        self.modules = _modules(root)
        self.ops = [
            self._child, self._child, self._modules_field, self._field, self._field, self._drop,
            self._geometry, self._geometry, self._tensor, self._class, self._fields,
        ]  # fmt: skip

    def mutate(self, edits: int = 1) -> tuple[str, Any, Callable[[], None]]:
        """(what was done, the tree to use, its undo); now and then the tree comes inside a
        wrapper (nn.DataParallelTable and the like) whose `modules` is hostile too."""
        done: list[_Edit] = []
        for _ in range(edits):
            for _ in range(20):  # an op that does not apply to this tree draws again
                edit = self.rng.choice(self.ops)()
                if edit is not None:
                    done.append(edit)
                    break

        def undo() -> None:
            for edit in reversed(done):
                edit.undo()

        root, what = self.root, [e.description for e in done]
        if self.rng.random() < 0.08:
            name = self.rng.choice(["nn.DataParallelTable", "nn.GPU", "nn.DataParallel"])
            kids = self.rng.choice([[root], [], [5], {"1": root}, root, [None, root]])
            root = T7Object(name, 1, {"modules": kids})
            what.append(f"wrapped in {name} with modules {type(kids).__name__}")
        return "; ".join(what), root, undo

    def _pick(self, want: Callable[[T7Object], bool]) -> tuple[T7Object, list] | None:
        fitting = [(m, above) for m, above in self.modules if want(m)]
        return self.rng.choice(fitting) if fitting else None

    def _child(self) -> _Edit | None:
        got = self._pick(lambda m: isinstance(m.get("modules"), (list, dict)) and m["modules"])
        if got is None:
            return None
        m, above = got
        kids = m["modules"]
        key = self.rng.choice(list(kids) if isinstance(kids, dict) else range(len(kids)))
        r = self.rng.random()
        if r < 0.2:
            value, what = self.rng.choice([*above, m]), "its ancestor"
        elif r < 0.3:  # the child at the end of a chain of containers
            depth = self.rng.choice([40, 101, 300])
            value = kids[key]
            for _ in range(depth):
                value = T7Object("nn.Sequential", 1, {"modules": [value]})
            what = f"the child nested {depth} deep"
        else:
            value = hostile_value(self.rng)
            what = f"a {type(value).__name__}"
        return _Edit(f"{m.class_name}.modules[{key!r}] := {what}", _set(kids, key, value))

    def _modules_field(self) -> _Edit | None:
        got = self._pick(lambda m: "modules" in m)
        if got is None:
            return None
        m, _ = got
        kids = m["modules"]
        r = self.rng.randrange(4)
        if r == 0 and isinstance(kids, list) and kids:  # the children under string keys
            value = {str(k): c for k, c in enumerate(kids, start=1)}
        elif r == 1 and isinstance(kids, list) and kids:  # a table with holes
            value = {2 * k + 1: c for k, c in enumerate(kids)}
        elif r == 2 and isinstance(kids, list):  # the children and something else
            value = [*kids, hostile_value(self.rng)]
        else:
            value = hostile_value(self.rng)
        return _Edit(
            f"{m.class_name}.modules := a {type(value).__name__}", _set(m.fields, "modules", value)
        )

    def _pick_field(self) -> tuple[T7Object, Any] | None:
        """A module with fields, and one of its field names."""
        got = self._pick(lambda m: isinstance(m.fields, dict) and m.fields)
        return None if got is None else (got[0], self.rng.choice(sorted(got[0].fields, key=repr)))

    def _field(self) -> _Edit | None:
        if (got := self._pick_field()) is None:
            return None
        m, key = got
        value = hostile_value(self.rng) if self.rng.random() < 0.9 else m  # or itself
        return _Edit(
            f"{m.class_name}.{key} := a {type(value).__name__}", _set(m.fields, key, value)
        )

    def _drop(self) -> _Edit | None:
        if (got := self._pick_field()) is None:
            return None
        m, key = got
        old = m.fields.pop(key)
        return _Edit(f"{m.class_name}.{key} deleted", lambda: m.fields.__setitem__(key, old))

    def _geometry(self) -> _Edit | None:
        got = self._pick(lambda m: any(k in m for k in GEOMETRY))
        if got is None:
            return None
        m, _ = got
        key = self.rng.choice([k for k in GEOMETRY if k in m])
        value = self.rng.choice(INTS + DOUBLES + (10**9, -(10**9), 2**40))
        return _Edit(f"{m.class_name}.{key} := {value!r}", _set(m.fields, key, value))

    def _tensor(self) -> _Edit | None:
        got = self._pick(
            lambda m: (
                isinstance(m.fields, dict)
                and any(isinstance(v, T7Tensor) for v in m.fields.values())
            )
        )
        if got is None:
            return None
        m, _ = got
        key = self.rng.choice(sorted(k for k, v in m.fields.items() if isinstance(v, T7Tensor)))
        old: T7Tensor = m[key]
        r = self.rng.randrange(4) if old.numel <= 10**6 else 2
        if r == 0 and old.shape:  # same values, one more or one less dimension
            shape = old.shape[:-1] if self.rng.random() < 0.5 else (*old.shape, 1)
            value = tensor(shape or (1,), np.float32)
        elif r == 1 and old.shape:  # one dimension grown or shrunk
            k = self.rng.randrange(len(old.shape))
            shape = tuple(
                n + self.rng.choice([-1, 1, 5]) if i == k else n for i, n in enumerate(old.shape)
            )
            value = tensor(tuple(max(0, n) for n in shape))
        else:
            value = hostile_value(self.rng) if r == 2 else tensor((2**20, 2**20), stride=(0, 0))
        return _Edit(f"{m.class_name}.{key} := {value!r}", _set(m.fields, key, value))

    def _class(self) -> _Edit | None:
        got = self._pick(lambda m: True)
        if got is None:
            return None
        m, _ = got
        names = [n for n in CLASSES if n != m.class_name]
        name = self.rng.choice(names)
        return _Edit(f"{m.class_name} renamed {name}", _setattr(m, "class_name", name))

    def _fields(self) -> _Edit | None:
        got = self._pick(lambda m: True)
        if got is None:
            return None
        m, _ = got
        value = self.rng.choice([None, 3, "x", [1, 2], [m.fields]])
        return _Edit(
            f"{m.class_name}.fields := a {type(value).__name__}", _setattr(m, "fields", value)
        )


class _RecordingReader(Reader):
    """The binary reader, noting where it read each number: (offset, 'i'|'q'|'d', value)."""

    def __init__(self, data: bytes):
        super().__init__(data, Path("<recording>"), None)
        self.numbers: list[tuple[int, str, Any]] = []

    def read_int(self) -> int:
        return self._note("i", super().read_int)

    def read_long(self) -> int:
        return self._note("q", super().read_long)

    def read_double(self) -> float:
        return self._note("d", super().read_double)

    def _note(self, kind: str, read: Callable[[], Any]) -> Any:
        at = self.tell()
        value = read()
        self.numbers.append((at, kind, value))
        return value

    def read_long_array(self, n: int) -> list[int]:
        at = self.tell()
        values = super().read_long_array(n)
        self.numbers += [(at + 8 * k, "q", v) for k, v in enumerate(values)]
        return values


def number_fields(data: bytes) -> list[tuple[int, str, Any]]:
    """Where a binary Torch7 file keeps its numbers, as far as it reads (a damaged file: up to
    the damage)."""
    reader = _RecordingReader(data)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 200))
    try:
        reader.read_obj()
    except T7FormatError:
        pass
    finally:
        sys.setrecursionlimit(limit)
    return reader.numbers


class ByteMutator:
    """Seeded edits of a binary Torch7 file at the places `number_fields` found."""

    def __init__(self, data: bytes, seed: int):
        self.data = data
        self.rng = random.Random(seed)
        self.numbers = number_fields(data)
        self.ints = [v for _, kind, v in self.numbers if kind == "i"]

    def mutate(self) -> tuple[str, bytes]:
        rng, b = self.rng, bytearray(self.data)
        if not self.numbers:
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
            return f"bit flip at {pos}", bytes(b)
        r = rng.random()
        if r < 0.6:
            at, kind, old = rng.choice(self.numbers)
            if kind == "i":
                value = rng.choice([*INTS, old + 1, old - 1, rng.choice(self.ints)])
                raw = struct.pack("<i", max(-(2**31), min(2**31 - 1, value)))
            elif kind == "q":
                value = rng.choice([*LONGS, old + 1, old - 1, old * 7])
                raw = struct.pack("<q", max(-(2**63), min(2**63 - 1, value)))
            else:
                value = rng.choice(DOUBLES)
                raw = struct.pack("<d", value)
            b[at : at + len(raw)] = raw
            return f"{kind} at {at}: {old!r} -> {value!r}", bytes(b)
        k = rng.randrange(len(self.numbers))
        start = self.numbers[k][0]
        end = self.numbers[min(len(self.numbers) - 1, k + rng.randint(1, 40))][0]
        chunk = bytes(b[start:end])
        if r < 0.75:
            del b[start:end]
            return f"bytes {start}..{end} deleted", bytes(b)
        if r < 0.9:
            b[start:start] = chunk
            return f"bytes {start}..{end} repeated", bytes(b)
        del b[start:end]
        to = self.numbers[rng.randrange(len(self.numbers))][0]
        to = min(to, len(b))
        b[to:to] = chunk
        return f"bytes {start}..{end} moved to {to}", bytes(b)
