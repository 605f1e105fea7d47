"""The layer-name mapping table: which Torch7 tensor becomes which PyTorch state_dict entry.

The table is data (`mappings/<name>.tsv`, one row per tensor), generated once by
`scripts/gen_mapping.py` from the two module trees and checked by the tests. Applying it checks
everything a silent mis-mapping could hide: module classes, tensor shapes, convolution geometry
(kernel orientation, stride, padding), BN eps, tensors left unused and keys left missing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from converter.errors import MappingError
from converter.torch7 import legacy
from converter.torch7 import modules as t7modules
from converter.torch7.objects import T7Object

HEADER = ("t7_path", "t7_class", "t7_field", "torch_key")
MAX_LISTED_PROBLEMS = 25

# Torch7 classes that compute the same thing, whatever backend or storage layout they use.
_FAMILIES = {
    "SpatialConvolution": "conv",
    "SpatialConvolutionMM": "conv",
    "SpatialBatchNormalization": "bn",
    "BatchNormalization": "bn",
    "Linear": "linear",
}
_TORCH_FAMILIES = {
    nn.Conv2d: "conv",
    nn.BatchNorm2d: "bn",
    nn.BatchNorm1d: "bn",
    nn.Linear: "linear",
}
_FIELDS = {
    "conv": ("weight", "bias"),
    "bn": ("weight", "bias", "running_mean", "running_var"),
    "linear": ("weight", "bias"),
}


@dataclass(frozen=True)
class MappingRow:
    t7_path: str
    t7_class: str
    t7_field: str
    torch_key: str


def read_table(path: Path) -> list[MappingRow]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or tuple(rows[0]) != HEADER:
        raise MappingError(f"{path}: not a mapping table (expected the header {'/'.join(HEADER)})")
    return [MappingRow(*r) for r in rows[1:] if r]


def write_table(rows: Iterable[MappingRow], path: Path) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(HEADER)
        for r in rows:
            out.writerow((r.t7_path, r.t7_class, r.t7_field, r.torch_key))


def _family(class_name: str) -> str | None:
    return _FAMILIES.get(t7modules.short_class(class_name))


def build_rows(t7_root: T7Object, model: nn.Module) -> list[MappingRow]:
    """Pair the parameter-bearing modules of both trees in order (both are depth-first).

    Used by scripts/gen_mapping.py; the result is reviewed and committed as data.
    """
    t7_mods = [(p, m) for p, m in t7modules.walk(t7_root) if _family(m.class_name)]
    pt_mods = [(n, m) for n, m in model.named_modules() if type(m) in _TORCH_FAMILIES]
    if len(t7_mods) != len(pt_mods):
        raise MappingError(
            f"the Torch7 tree has {len(t7_mods)} parameter modules, "
            f"the PyTorch model {len(pt_mods)}"
        )
    rows = []
    for (path, t7m), (name, ptm) in zip(t7_mods, pt_mods):
        family = _family(t7m.class_name)
        if family != _TORCH_FAMILIES[type(ptm)]:
            raise MappingError(
                f"{path} ({t7m.class_name}) pairs with {name} ({type(ptm).__name__})"
            )
        own = dict(ptm.named_parameters(recurse=False)) | dict(ptm.named_buffers(recurse=False))
        for field in _FIELDS[family]:
            if field in own:
                rows.append(MappingRow(path, t7m.class_name, field, f"{name}.{field}"))
    return rows


def read_field(module: T7Object, field: str, where: str) -> np.ndarray | None:
    if field == "running_var":
        return legacy.bn_running_var(module)
    if field == "weight" and _family(module.class_name) == "conv" and "weight" in module:
        return legacy.conv_weight(module, where)
    tensors = t7modules.state_tensors(module)
    return tensors[field].numpy() if field in tensors else None


def geometry_problem(t7m: T7Object, ptm: nn.Module, where: str) -> str | None:
    """Kernel orientation, stride and padding come from the saved fields, never assumptions."""
    if isinstance(ptm, nn.Conv2d):
        saved = (
            (t7m.integer("kH", 0, where), t7m.integer("kW", 0, where)),
            (t7m.integer("dH", 1, where), t7m.integer("dW", 1, where)),
            legacy.conv_padding(t7m, where),
        )
        wanted = (tuple(ptm.kernel_size), tuple(ptm.stride), tuple(ptm.padding))
        if saved != wanted:
            return (
                f"{where}: kernel/stride/padding (h,w) {saved} but the model's {wanted} "
                "(Torch7 prints kernels as kW x kH)"
            )
    if isinstance(ptm, (nn.BatchNorm2d, nn.BatchNorm1d)):
        eps = t7m.number("eps", 1e-5, where)
        if not abs(eps - ptm.eps) <= 1e-6 * abs(ptm.eps):
            return f"{where}: BN eps {eps:g} but the model uses {ptm.eps:g}"
    return None


def _locate(t7_root: T7Object, row: MappingRow, where: str) -> T7Object | tuple[str, str]:
    """The module a row names, or the (kind, detail) problem of not finding it there."""
    try:
        t7m = t7modules.get(t7_root, row.t7_path)
    except KeyError:
        return ("missing", f"{where}: the checkpoint has no module at {row.t7_path}")
    if not isinstance(t7m, T7Object) or _family(t7m.class_name) != _family(row.t7_class):
        found = t7m.class_name if isinstance(t7m, T7Object) else type(t7m).__name__
        return ("wrong module", f"{where}: found a {found} there")
    return t7m


def _where(row: MappingRow) -> str:
    return f"{row.t7_path} ({row.t7_class}).{row.t7_field} -> {row.torch_key}"


def check_architecture(t7_root: T7Object, rows: list[MappingRow]) -> None:
    """MappingError when not one row finds its module: another architecture, refused before a
    model is built for it (what `apply_table` would say, sooner)."""
    if not rows or any(isinstance(_locate(t7_root, r, ""), T7Object) for r in rows):
        return  # one row found is enough here (on an IRv2 file, the first)
    problems = [_locate(t7_root, row, _where(row)) for row in rows]
    raise _summarise(problems + _unused(t7_root, set()), len(rows))


def _unused(t7_root: T7Object, used: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        ("unused", f"{path} ({t7m.class_name}).{field}: tensor not used")
        for path, t7m in t7modules.walk(t7_root)
        for field in t7modules.state_tensors(t7m)
        if (path, field) not in used
    ]


def apply_table(
    t7_root: T7Object, rows: list[MappingRow], model: nn.Module
) -> dict[str, torch.Tensor]:
    """The state_dict for `model` from the Torch7 tree, or MappingError listing every problem."""
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    used: set[tuple[str, str]] = set()
    problems: list[tuple[str, str]] = []  # (kind, detail)
    for row in rows:
        where = _where(row)
        t7m = _locate(t7_root, row, where)
        if isinstance(t7m, tuple):
            problems.append(t7m)
            continue
        value = read_field(t7m, row.t7_field, where)
        if value is None:
            problems.append(("missing", f"{where}: the module has no {row.t7_field} tensor"))
            continue
        used.add((row.t7_path, row.t7_field))
        if row.t7_field == "running_var":  # a legacy file's running_std is what it read
            used.add((row.t7_path, "running_std"))
        if row.torch_key not in expected:
            problems.append(("not in model", f"{where}: the model has no {row.torch_key}"))
            continue
        target = expected[row.torch_key]
        if tuple(value.shape) != tuple(target.shape):
            problems.append(
                (
                    "wrong shape",
                    f"{where}: shape {tuple(value.shape)} but the model "
                    f"expects {tuple(target.shape)}",
                )
            )
            continue
        owner = model.get_submodule(row.torch_key.rsplit(".", 1)[0])
        geometry = geometry_problem(t7m, owner, where)
        if geometry:
            problems.append(("wrong geometry", geometry))
            continue
        state[row.torch_key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    problems += _unused(t7_root, used)
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, torch.zeros((), dtype=value.dtype))  # Torch7 keeps no counter
        elif key not in state and not any(key in detail for _, detail in problems):
            problems.append(("unmapped", f"{key}: no Torch7 tensor maps to this model parameter"))
    if problems:
        raise _summarise(problems, len(rows))
    return state


def _summarise(problems: list[tuple[str, str]], n_rows: int) -> MappingError:
    """One line with the count per kind of problem; every problem (capped) as details."""
    counts: dict[str, int] = {}
    for kind, _ in problems:
        counts[kind] = counts.get(kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    if counts.get("missing", 0) + counts.get("wrong module", 0) == n_rows:
        return MappingError(
            f"not an Inception-ResNet-v2 checkpoint: none of the mapping table's {n_rows} "
            f"tensors is where IRv2 keeps it ({summary}); for another architecture use "
            "t7convert --generic --input-shape C,H,W"
        )
    listed = [detail for _, detail in problems[:MAX_LISTED_PROBLEMS]]
    more = len(problems) - len(listed)
    return MappingError(
        f"the checkpoint does not fit the mapping table ({summary}); is it an "
        "Inception-ResNet-v2 checkpoint?",
        details=listed + ([f"... and {more} more"] if more else []),
    )
