"""Reading a spec (converter.outputs.spec) back into the Torch7 objects the translator takes.

The spec comes from a file someone may have altered, so it is data to check, never code: every
entry, value, reference, tensor class and shape is validated against the layout of version 1
and against the tensors actually in the file, and anything else is one `SpecError` line
naming the object. Objects are created first and filled in after, so references (shared,
cyclic) resolve without recursion however long an nngraph chain is.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from converter.errors import UserError
from converter.outputs.spec import MAX_INT, SPEC_KIND, SPEC_VERSION
from converter.torch7.binary import MAX_TENSOR_DIMS, _IdentityKey
from converter.torch7.objects import (
    STORAGE_DTYPES,
    TENSOR_DTYPES,
    LuaBool,
    T7Object,
    T7Storage,
    T7Tensor,
)

_TOP = {"spec", "version", "root", "objects", "plugins", "source_file"}
_ENTRIES = (
    ({"class", "version", "fields"}, "object"),
    ({"class", "version", "value"}, "object"),
    ({"table"}, "table"),
    ({"pairs"}, "pairs"),
    ({"list"}, "list"),
)
# tagged values, told apart by their keys
_VALUES = {
    frozenset({"ref"}): "ref",
    frozenset({"float"}): "float",
    frozenset({"bytes"}): "bytes",
    frozenset({"luabool"}): "luabool",
    frozenset({"tensor", "class", "shape"}): "tensor",
    frozenset({"empty", "shape"}): "empty",
    frozenset({"storage"}): "storage",
    frozenset({"storage", "data"}): "storage",
}
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
MAX_CLASS_NAME = 200


class SpecError(UserError):
    """The spec of a generic artifact is not one this converter wrote (altered, or newer)."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_header(spec: Any, where: str) -> None:
    """The spec's top level: its kind and version, before any object is looked at."""
    if not isinstance(spec, dict) or spec.get("spec") != SPEC_KIND:
        raise SpecError(f"{where}: the header holds no {SPEC_KIND} spec; not from t7convert")
    version = spec.get("version")
    if not _is_int(version) or version != SPEC_VERSION:
        newer = _is_int(version) and version > SPEC_VERSION
        raise SpecError(
            f"{where}: spec version {version!r} "
            + ("is newer than this converter reads" if newer else "is unknown")
            + f" (it reads version {SPEC_VERSION}); "
            + ("update irv2-torch7" if newer else "the file was altered")
        )
    if set(spec) != _TOP:
        raise SpecError(f"{where}: spec keys {sorted(spec)} are not those of version 1")
    if not isinstance(spec["objects"], list) or not isinstance(spec["plugins"], dict):
        raise SpecError(f"{where}: spec 'objects' must be a list and 'plugins' a table")


class _Decoder:
    def __init__(self, spec: dict, arrays: dict[str, np.ndarray], where: str):
        self.entries = spec["objects"]
        self.arrays = arrays
        self.where = where
        self.at = "the root"
        self.tensors: dict[str, T7Tensor | T7Storage] = {}
        self.shells = [self.shell(i, e) for i, e in enumerate(self.entries)]

    def fail(self, problem: str) -> SpecError:
        return SpecError(f"{self.where}: spec {self.at}: {problem}; the file was altered")

    def shell(self, i: int, entry: Any) -> Any:
        self.at = f"object {i}"
        kind = next(
            (k for keys, k in _ENTRIES if isinstance(entry, dict) and set(entry) == keys), None
        )
        if kind is None:
            shown = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise self.fail(f"is {shown}, not a class, table, pairs or list entry")
        if kind != "object":
            return [] if kind == "list" else {}
        name, version = entry["class"], entry["version"]
        if not (isinstance(name, str) and 0 < len(name) <= MAX_CLASS_NAME and name.isprintable()):
            raise self.fail(f"class name {str(name)[:40]!r} is not a Torch7 class name")
        if not _is_int(version) or not 0 <= version < 2**31:
            raise self.fail(f"class version {version!r} is not a version number")
        return T7Object(name, version)

    def fill(self, i: int) -> None:
        entry, shell = self.entries[i], self.shells[i]
        self.at = f"object {i}" + (f" ({shell.class_name})" if isinstance(shell, T7Object) else "")
        if isinstance(shell, T7Object):
            if "fields" in entry:
                shell.fields = self.named(entry["fields"])
            else:
                shell.fields = self.value(entry["value"])
        elif isinstance(shell, list):
            items = entry["list"]
            if not isinstance(items, list):
                raise self.fail("'list' is not a list")
            shell.extend(self.value(v) for v in items)
        elif "table" in entry:
            shell.update(self.named(entry["table"]))
        else:
            self.pairs(shell, entry["pairs"])

    def named(self, table: Any) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(f"fields are a {type(table).__name__}, not a table")
        return {name: self.value(v) for name, v in table.items()}

    def pairs(self, shell: dict, pairs: Any) -> None:
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs
        ):
            raise self.fail("'pairs' is not a list of [key, value]")
        for k, v in pairs:
            is_bool = _kind(k) == "luabool" and isinstance(k["luabool"], bool)
            key = LuaBool(k["luabool"]) if is_bool else self.value(k)
            if isinstance(key, (dict, list)):
                key = _IdentityKey(key)
            if key is None or key in shell:
                raise self.fail(f"key {k!r} is missing or repeated")
            shell[key] = self.value(v)

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if _is_int(v):
            if abs(v) > MAX_INT:
                raise self.fail(f"the number {str(v)[:30]} is beyond what a Lua number holds")
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise self.fail("a number is out of range")
            return v
        tag = _kind(v)
        if tag == "ref":
            if not _is_int(v["ref"]) or not 0 <= v["ref"] < len(self.shells):
                raise self.fail(f"reference {v['ref']!r} points to no object (dangling)")
            return self.shells[v["ref"]]
        if tag == "float" and v["float"] in _NON_FINITE:
            return _NON_FINITE[v["float"]]
        if tag == "bytes" and isinstance(v["bytes"], str):
            try:
                return base64.b64decode(v["bytes"], validate=True)
            except binascii.Error:
                raise self.fail("a byte string is not base64") from None
        if tag in ("tensor", "empty"):
            return self.tensor(v)
        if tag == "storage":
            return self.storage(v)
        raise self.fail(f"unknown value {str(v)[:60]}")

    def shape(self, shape: Any) -> tuple[int, ...]:
        if not isinstance(shape, list) or len(shape) > MAX_TENSOR_DIMS:
            raise self.fail(f"tensor shape {str(shape)[:60]} is not a list of sizes")
        if not all(_is_int(n) and n >= 0 for n in shape):
            raise self.fail(f"tensor shape {shape} has a size that is not a count")
        if math.prod(shape) > MAX_INT or any(n > MAX_INT for n in shape):
            raise self.fail(f"tensor shape {shape} is huge (over 2^53 elements)")
        return tuple(shape)

    def tensor(self, v: dict) -> T7Tensor:
        tag = _kind(v)
        cls = v["class"] if tag == "tensor" else v["empty"]
        if not isinstance(cls, str) or cls not in TENSOR_DTYPES:
            raise self.fail(f"{str(cls)[:40]!r} is not a Torch7 tensor class")
        shape, dtype = self.shape(v["shape"]), TENSOR_DTYPES[cls]
        stride = tuple(math.prod(shape[d + 1 :]) for d in range(len(shape)))
        if tag == "empty":
            if math.prod(shape) and shape:
                raise self.fail(f"an empty {cls} has the shape {list(shape)}")
            return T7Tensor(cls, dtype, shape, stride, 0, None)
        name = v["tensor"]
        if name in self.tensors:
            known = self.tensors[name]
            if not isinstance(known, T7Tensor) or (known.class_name, known.shape) != (cls, shape):
                raise self.fail(f"tensor {name!r} is used twice with different types or shapes")
            return known
        data = self.array(name, dtype, shape, cls)
        storage_cls = cls.replace("Tensor", "Storage")
        storage = T7Storage(storage_cls, STORAGE_DTYPES[storage_cls], data.size, data=data.ravel())
        self.tensors[name] = T7Tensor(cls, dtype, shape, stride, 0, storage)
        return self.tensors[name]

    def storage(self, v: dict) -> T7Storage:
        cls = v["storage"]
        if not isinstance(cls, str) or cls not in STORAGE_DTYPES:
            raise self.fail(f"{str(cls)[:40]!r} is not a Torch7 storage class")
        dtype = STORAGE_DTYPES[cls]
        if "data" not in v:
            return T7Storage(cls, dtype, 0, data=np.zeros(0, dtype))
        name = v["data"]
        if name not in self.tensors:
            data = self.array(name, dtype, None, cls)
            self.tensors[name] = T7Storage(cls, dtype, data.size, data=data.ravel())
        if not isinstance(self.tensors[name], T7Storage):
            raise self.fail(f"{name!r} is used as a tensor and as a storage")
        return self.tensors[name]

    def array(self, name: Any, dtype: np.dtype, shape: tuple | None, cls: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise self.fail(f"tensor {str(name)[:60]!r} is not in the file")
        data = self.arrays[name]
        if data.dtype != dtype:
            raise self.fail(f"tensor {name!r} holds {data.dtype}, but a {cls} holds {dtype}")
        want = (data.size,) if shape is None else shape
        if data.shape != want or (shape is None and data.ndim != 1):
            raise self.fail(
                f"tensor {name!r} has the shape {list(data.shape)} in the file but "
                f"{list(want)} in the spec"
            )
        return data


def _kind(v: Any) -> str | None:
    """What a tagged value is, from its set of keys (None: not a value of version 1)."""
    return _VALUES.get(frozenset(v)) if isinstance(v, dict) else None


def from_spec(spec: Any, arrays: dict[str, np.ndarray], where: str) -> T7Object:
    """The Torch7 root module the spec describes, its tensors taken from `arrays`. Every tensor
    in `arrays` must be used, and the root must be a class object."""
    check_header(spec, where)
    decoder = _Decoder(spec, arrays, where)
    for i in range(len(decoder.shells)):
        decoder.fill(i)
    decoder.at = "root"
    root = spec["root"]
    if not _is_int(root) or not 0 <= root < len(decoder.shells):
        raise decoder.fail(f"root {root!r} points to no object")
    if not isinstance(decoder.shells[root], T7Object):
        raise decoder.fail("the root is not a module")
    unused = sorted(set(arrays) - set(decoder.tensors))
    if unused:
        raise decoder.fail(f"the file holds tensors the spec never uses: {', '.join(unused[:5])}")
    return decoder.shells[root]
