"""Generic path: a Torch7 `nn` module tree becomes an equivalent `torch.nn.Module`, module by module

Unlike the IRv2 mapping table (convert.py), nothing here knows the architecture: each Torch7
module becomes one PyTorch module (torch.nn where its math is Torch's, converter.t7layers where
Torch7 differs), containers keep their children under Lua's 1-based indices, so state_dict keys
are the Torch7 paths (`"1.2.1.weight"` is `model:get(1):get(2):get(1).weight`).

`save_generic` writes the result as a torch.export program, which `torch.export.load` reads back
with plain PyTorch (no import of this project).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from converter import checkpoint, t7layers
from converter.errors import T7FormatError, UserError
from converter.legacy import bn_running_var, conv_padding, conv_weight
from converter.t7modules import children, short_class, unwrap
from converter.t7reader import T7Object, T7Storage, T7Tensor, load_t7

Source = Union[str, Path, T7Object]
BACKENDS = ("nn", "cudnn")  # same math, different kernels: both translate alike


class UnsupportedModuleError(UserError):
    """The tree holds modules this translator has no equivalent for; all are listed at once."""

    def __init__(self, source: str, unsupported: list[tuple[str, str]]):
        self.unsupported = unsupported
        listed = ", ".join(f"{cls} at {_show(path)}" for path, cls in unsupported)
        super().__init__(
            f"{source}: {len(unsupported)} Torch7 module(s) have no generic translation: {listed}; "
            f"supported are {', '.join(sorted(_BUILDERS))} (nn./cudnn.)"
        )


def _show(path: str) -> str:
    return path or "(root)"


def _child_path(path: str, index: int) -> str:
    return f"{path}.{index}" if path else str(index)


class _Translation:
    """One tree being translated: builds modules and gathers their tensors under path keys."""

    def __init__(self, source: str):
        self.source = source
        self.state: dict[str, torch.Tensor] = {}

    def module(self, m: T7Object, path: str) -> nn.Module:
        return _BUILDERS[short_class(m.class_name)](self, m, path)

    def children(self, m: T7Object, path: str) -> list[nn.Module]:
        return [self.module(c, _child_path(path, i)) for i, c in enumerate(children(m), start=1)]

    def field(self, m: T7Object, name: str, path: str) -> Any:
        if name not in m:
            raise T7FormatError(
                f"{self.source}: {m.class_name} at {_show(path)} has no field '{name}'; "
                "the file is not a complete Torch7 model"
            )
        return m[name]

    def ints(self, m: T7Object, path: str, *names: str) -> tuple[int, ...]:
        return tuple(int(self.field(m, n, path)) for n in names)

    def put(self, path: str, name: str, value: np.ndarray | torch.Tensor) -> None:
        tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
        self.state[f"{path}.{name}" if path else name] = tensor

    def tensor(self, m: T7Object, name: str) -> np.ndarray | None:
        """The field's values, or None where Torch has no tensor (bias=false, affine=false)."""
        t = m.get(name)
        return t.numpy() if isinstance(t, T7Tensor) and t.numel else None


def _sequence(t: _Translation, m: T7Object, path: str) -> list[int]:
    """A size stored as a LongStorage (View, Reshape) or, in older files, a Lua list."""
    value = m.get("size")
    if isinstance(value, T7Storage):
        return [int(v) for v in value.read(0, value.size)]
    if isinstance(value, list):
        return [int(v) for v in value]
    raise T7FormatError(f"{t.source}: {m.class_name} at {_show(path)} has no readable 'size'")


def _sequential(t, m, path):
    return nn.Sequential(OrderedDict(t7layers.lua_indexed(t.children(m, path))))


def _concat(t, m, path):
    return t7layers.Concat(t.children(m, path), int(t.field(m, "dimension", path)))


def _concat_table(t, m, path):
    return t7layers.ConcatTable(t.children(m, path))


def _parallel_table(t, m, path):
    return t7layers.ParallelTable(t.children(m, path))


def _join_table(t, m, path):
    n_input_dims = m.get("nInputDims")
    return t7layers.JoinTable(
        int(t.field(m, "dimension", path)), None if n_input_dims is None else int(n_input_dims)
    )


def _conv(t, m, path):
    weight = conv_weight(m, f"{t.source}: {m.class_name} at {_show(path)}")
    kh, kw = weight.shape[2:]
    dw, dh = t.ints(m, path, "dW", "dH")
    padh, padw = conv_padding(m)
    groups = int(m.get("groups", 1))
    bias = t.tensor(m, "bias")
    conv = nn.Conv2d(
        weight.shape[1] * groups,
        weight.shape[0],
        (kh, kw),
        (dh, dw),
        (padh, padw),
        groups=groups,
        bias=bias is not None,
    )
    t.put(path, "weight", weight)
    if bias is not None:
        t.put(path, "bias", bias)
    return conv


def _batch_norm(t, m, path):
    mean, var = t.tensor(m, "running_mean"), bn_running_var(m)
    if mean is None or var is None:
        raise T7FormatError(f"{t.source}: {m.class_name} at {_show(path)} has no running stats")
    weight, bias = t.tensor(m, "weight"), t.tensor(m, "bias")
    affine = weight is not None
    cls = nn.BatchNorm1d if short_class(m.class_name) == "BatchNormalization" else nn.BatchNorm2d
    bn = cls(
        mean.shape[0],
        eps=float(m.get("eps", 1e-5)),
        momentum=float(m.get("momentum", 0.1)),
        affine=affine,
    )
    for name, value in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", mean),
        ("running_var", var),
    ):
        if value is not None:
            t.put(path, name, value)
    t.put(path, "num_batches_tracked", torch.zeros((), dtype=torch.long))
    return bn


def _linear(t, m, path):
    weight, bias = t.tensor(m, "weight"), t.tensor(m, "bias")
    if weight is None:
        raise T7FormatError(f"{t.source}: {m.class_name} at {_show(path)} has no weight")
    t.put(path, "weight", weight)
    if bias is not None:
        t.put(path, "bias", bias)
    return nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)


def _relu(t, m, path):
    # nn.ReLU is Threshold(0, 0); cudnn.ReLU stores neither field
    threshold, value = float(m.get("threshold", 0)), float(m.get("val", 0))
    inplace = bool(m.get("inplace", False))
    if threshold or value:
        return nn.Threshold(threshold, value, inplace)
    return nn.ReLU(inplace)


def _threshold(t, m, path):
    return nn.Threshold(
        float(t.field(m, "threshold", path)),
        float(t.field(m, "val", path)),
        bool(m.get("inplace", False)),
    )


def _pool_geometry(t, m, path):
    kw, kh, dw, dh = t.ints(m, path, "kW", "kH", "dW", "dH")
    padding = (int(m.get("padH", 0)), int(m.get("padW", 0)))
    return (kh, kw), (dh, dw), padding, bool(m.get("ceil_mode", False))


def _max_pool(t, m, path):
    return t7layers.MaxPool2d(*_pool_geometry(t, m, path))


def _avg_pool(t, m, path):
    # cudnn keeps the choice in `mode` (setCountExcludePad switches it); nn in count_include_pad
    mode = str(m.get("mode", ""))
    include = "EXCLUDE" not in mode and bool(m.get("count_include_pad", True))
    return t7layers.AvgPool2d(*_pool_geometry(t, m, path), include, bool(m.get("divide", True)))


def _view(t, m, path):
    nid = m.get("numInputDims")
    return t7layers.View(tuple(_sequence(t, m, path)), None if nid is None else int(nid))


def _reshape(t, m, path):
    mode = m.get("batchMode")
    return t7layers.Reshape(tuple(_sequence(t, m, path)), None if mode is None else bool(mode))


def _dropout(t, m, path):
    p = float(m.get("p", 0.5))
    # a file without `v2` predates it: its class scaled at evaluation (v1), and so does nn today
    return nn.Dropout(p) if m.get("v2") else t7layers.DropoutV1(p)


def _fixed(factory: Callable[[], nn.Module]):
    return lambda t, m, path: factory()


_BUILDERS: dict[str, Callable[[_Translation, T7Object, str], nn.Module]] = {
    "Sequential": _sequential,
    "Concat": _concat,
    "ConcatTable": _concat_table,
    "ParallelTable": _parallel_table,
    "JoinTable": _join_table,
    "CAddTable": _fixed(t7layers.CAddTable),
    "MulConstant": lambda t, m, path: t7layers.MulConstant(
        float(t.field(m, "constant_scalar", path))
    ),
    "Identity": _fixed(nn.Identity),
    "SpatialConvolution": _conv,
    "SpatialConvolutionMM": _conv,
    "SpatialBatchNormalization": _batch_norm,
    "BatchNormalization": _batch_norm,
    "ReLU": _relu,
    "Threshold": _threshold,
    "Tanh": _fixed(nn.Tanh),
    "Sigmoid": _fixed(nn.Sigmoid),
    "SoftMax": _fixed(t7layers.SoftMax),
    "LogSoftMax": _fixed(lambda: t7layers.SoftMax(log=True)),
    "SpatialMaxPooling": _max_pool,
    "SpatialAveragePooling": _avg_pool,
    "View": _view,
    "Reshape": _reshape,
    "Dropout": _dropout,
    "Linear": _linear,
}


def _unsupported_reason(m: Any) -> str | None:
    if not isinstance(m, T7Object):
        return f"a {type(m).__name__}, not a module"
    backend, _, name = m.class_name.rpartition(".")
    if backend not in BACKENDS or name not in _BUILDERS:
        return m.class_name
    if name == "Dropout" and m.get("stochastic_inference"):
        return f"{m.class_name}(stochastic_inference=true)"  # random at evaluation: no equivalent
    return None


def find_unsupported(root: T7Object, path: str = "") -> list[tuple[str, str]]:
    """(path, class name) of every module that cannot be translated; none below those."""
    reason = _unsupported_reason(root)
    if reason is not None:
        return [(path, reason)]
    found = []
    for i, child in enumerate(children(root), start=1):
        found += find_unsupported(child, _child_path(path, i))
    return found


def translate(source: Source) -> nn.Module:
    """The Torch7 network in `source` (model file, checkpoint directory, latest.t7, or an already
    loaded module tree) as an ordinary nn.Module in eval mode (checkpoints are saved training).

    Raises UnsupportedModuleError listing every untranslatable module by class and path.
    """
    if isinstance(source, T7Object):
        name, root = "module tree", unwrap(source, "module tree")
    else:
        path = checkpoint.resolve(source).model_path
        name, root = str(path), unwrap(load_t7(path), str(path))
    unsupported = find_unsupported(root)
    if unsupported:
        raise UnsupportedModuleError(name, unsupported)
    translation = _Translation(name)
    with torch.device("meta"):  # structure only; the file's tensors are assigned below
        module = translation.module(root, "")
    module.load_state_dict(translation.state, strict=True, assign=True)
    return module.eval()


def _batch_dynamic(example: torch.Tensor | Sequence[torch.Tensor]) -> Any:
    auto = {0: torch.export.Dim.AUTO}
    if isinstance(example, torch.Tensor):
        return (auto,)
    return ([auto for _ in example],)


def save_generic(
    module: nn.Module, path: str | Path, example_input: torch.Tensor | Sequence[torch.Tensor]
) -> None:
    """Write `module` as a torch.export program that loads with `torch.export.load(path).module()`
    and plain PyTorch. The batch dimension stays dynamic where the network allows it (Dim.AUTO);
    other dimensions are fixed to `example_input`'s, as Torch7 shape rules (View, ceil pooling)
    are resolved at export. Written to a temporary file first: no partial output on failure."""
    path = Path(path)
    program = torch.export.export(
        module.eval(), (example_input,), dynamic_shapes=_batch_dynamic(example_input)
    )
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.pt2")  # the archive writer wants .pt2
    try:
        torch.export.save(program, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
