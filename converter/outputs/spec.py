"""A Torch7 module tree as plain data: the generic `.safetensors` artifact's spec (writing side).

The translated PyTorch module is not stored: its Torch7 source tree is, as JSON, and loading
translates it again through the same layer registry (converter.generic.registry), so nothing
in the file is ever executed and every class the registry knows (built-in, nngraph, a user's
plugin) round-trips without a serializer of its own. Layout, version 1:

    {"spec": "irv2-torch7.torch7-tree", "version": 1, "root": 0, "objects": [...],
     "plugins": {"nn.MyClass": "my_plugin.py"}, "source_file": "resnet18.t7"}

`objects[i]` is one Lua object; objects refer to each other by index, so shared and cyclic
structure (nngraph nodes, a module held in two places) stays shared:
    {"class": "nn.SpatialConvolution", "version": 0, "fields": {name: value}}
    {"class": ..., "version": ..., "value": value}      (an object whose fields are not a table)
    {"table": {name: value}}   {"pairs": [[key, value], ...]}   {"list": [value, ...]}
A value is null, a bool, a finite number, a string, or one of
    {"ref": i}  {"float": "nan"|"inf"|"-inf"}  {"bytes": base64}  {"luabool": true|false}
    {"tensor": name, "class": "torch.FloatTensor", "shape": [...]}  (data in the safetensors file)
    {"empty": "torch.FloatTensor", "shape": [...]}                     (a tensor of no elements)
    {"storage": "torch.LongStorage", "data": name}                     (data in the file)
Tensors are stored contiguous under the Torch7 path of the module that holds them
("1.2.weight"); views of a shared storage are stored by value. Fields that only hold
activations and gradients (SCRATCH_FIELDS) keep their structure but their tensors are written
empty, as `clearState()` leaves them: they never matter for inference.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from converter.errors import UserError
from converter.torch7.binary import _IdentityKey
from converter.torch7.objects import LuaBool, LuaFunction, T7Object, T7Storage, T7Tensor

SPEC_KIND = "irv2-torch7.torch7-tree"
SPEC_VERSION = 1
# A Lua number is a double: integers beyond 2^53 cannot come from a Torch7 file.
MAX_INT = 2**53

# Activation and gradient buffers of nn/cudnn modules (what clearState() empties).
SCRATCH_FIELDS = frozenset(
    {
        "output", "gradInput", "gradWeight", "gradBias", "_input", "_output", "_gradInput",
        "_gradOutput", "finput", "fgradInput", "buffer", "buffer2", "columns", "ones", "_ones",
        "addBuffer", "save_mean", "save_std", "centered", "normalized", "indices",
    }
)  # fmt: skip


def join(path: str, key: Any) -> str:
    """The path below `path` at table key `key` (names tensors; a table or object used as a
    key is not spelt out: nngraph's are whole graphs)."""
    if isinstance(key, LuaBool):
        key = str(key.value).lower()
    elif not isinstance(key, (str, int, float)):
        key = "(key)"
    return f"{path}.{key}" if path else str(key)


class _Encoder:
    """Walks the tree iteratively (nngraph chains are thousands deep). An object reachable from
    the root without passing a scratch field is written whole even when a scratch field reaches
    it first: scratch visits wait until every whole one is done."""

    def __init__(self) -> None:
        self.index: dict[int, int] = {}  # id(obj) -> its index in objects
        self.objects: list[Any] = []
        self.keep: list[Any] = []  # index -> the object (and keeps its id unique)
        self.whole: list[tuple[int, str]] = []
        self.scratch: list[tuple[int, str]] = []
        self.mode: dict[int, bool] = {}  # index -> written as scratch
        self.names: dict[int, str] = {}  # id(tensor or storage) -> its name in the file
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, root: Any) -> tuple[Any, list[Any], dict[str, np.ndarray]]:
        top = self.value(root, "", False)
        while self.whole or self.scratch:
            index, path = (self.whole or self.scratch).pop()
            if self.objects[index] is None:
                self.objects[index] = self.entry(self.keep[index], path, self.mode[index])
        return top, self.objects, self.arrays

    def ref(self, obj: Any, path: str, scratch: bool) -> dict[str, int]:
        index = self.index.get(id(obj))
        if index is None:
            index = self.index[id(obj)] = len(self.keep)
            self.keep.append(obj)
            self.objects.append(None)
            self.mode[index] = scratch
            (self.scratch if scratch else self.whole).append((index, path))
        elif self.mode[index] and not scratch and self.objects[index] is None:
            self.mode[index] = False  # reached whole after all: upgrade before it is written
            self.whole.append((index, path))
        return {"ref": index}

    def entry(self, obj: Any, path: str, scratch: bool) -> dict[str, Any]:
        if isinstance(obj, T7Object):
            head = {"class": obj.class_name, "version": int(obj.version)}
            fields = obj.fields
            if isinstance(fields, dict) and all(isinstance(k, str) for k in fields):
                return {**head, "fields": self.named(fields, path, scratch, obj)}
            return {**head, "value": self.value(fields, path, scratch)}
        if isinstance(obj, list):
            return {"list": [self.value(v, join(path, i), scratch) for i, v in enumerate(obj, 1)]}
        if all(isinstance(k, str) for k in obj):
            return {"table": self.named(obj, path, scratch, None)}
        return {
            "pairs": [
                [self.key(k, path, scratch), self.value(v, join(path, k), scratch)]
                for k, v in obj.items()
            ]
        }

    def named(self, table: dict, path: str, scratch: bool, owner: T7Object | None) -> dict:
        out = {}
        for name, v in table.items():
            if owner is not None and isinstance(v, LuaFunction):
                continue  # not on the forward path (translate refuses those that are): code
            # a module's children are named by their index alone, as in state_dict keys
            child = path if owner is not None and name == "modules" else join(path, name)
            out[name] = self.value(v, child, scratch or name in SCRATCH_FIELDS)
        return out

    def key(self, k: Any, path: str, scratch: bool) -> Any:
        if isinstance(k, LuaBool):
            return {"luabool": k.value}
        return self.value(k.obj if isinstance(k, _IdentityKey) else k, path, scratch)

    def value(self, v: Any, path: str, scratch: bool) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            if abs(v) > MAX_INT:
                raise UserError(f"{path}: the integer {v} is not a Lua number (beyond 2^53)")
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"float": str(v)}
        if isinstance(v, bytes):
            return {"bytes": base64.b64encode(v).decode("ascii")}
        if isinstance(v, (T7Object, dict, list)):
            return self.ref(v, path, scratch)
        if isinstance(v, T7Tensor):
            return self.tensor(v, path, scratch)
        if isinstance(v, T7Storage):
            if scratch or v.size == 0:
                return {"storage": v.class_name}
            return {"storage": v.class_name, "data": self.array(v, path, lambda: v.read(0, v.size))}
        if isinstance(v, LuaFunction):
            raise UserError(
                f"{path or '(root)'}: holds a Lua function; a function is code, and the "
                "safe .safetensors artifact stores data only: use .pt2 or .onnx for this model"
            )
        raise UserError(f"{path or '(root)'}: a {type(v).__name__} cannot be written as data")

    def tensor(self, t: T7Tensor, path: str, scratch: bool) -> dict[str, Any]:
        if scratch:
            return {"empty": t.class_name, "shape": []}
        if t.numel == 0:
            return {"empty": t.class_name, "shape": list(t.shape)}
        name = self.array(t, path, t.numpy)
        return {"tensor": name, "class": t.class_name, "shape": list(t.shape)}

    def array(self, obj: T7Tensor | T7Storage, path: str, values: Any) -> str:
        name = self.names.get(id(obj))
        if name is None:
            name, n = path or "(root)", 1
            while name in self.arrays:
                n += 1
                name = f"{path}#{n}"
            self.names[id(obj)] = name
            self.arrays[name] = np.ascontiguousarray(values())
        return name


def to_spec(root: T7Object, plugins: dict[str, str], source_file: str) -> tuple[dict, dict]:
    """(spec, arrays): the tree as JSON-ready data and its tensors by name, for safetensors.

    `plugins` maps the classes translated by a user's plugin to the plugin's file name, so a
    loader without it can say which one to load."""
    top, objects, arrays = _Encoder().encode(root)
    spec = {
        "spec": SPEC_KIND,
        "version": SPEC_VERSION,
        "root": top["ref"],
        "objects": objects,
        "plugins": plugins,
        "source_file": source_file,
    }
    return spec, arrays
