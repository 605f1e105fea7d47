"""fb.resnet.torch checkpoint directories: what `latest.t7` points to, and the optimizer state.

A training directory holds model_N.t7, optimState_N.t7 and latest.t7 = {epoch, modelFile,
optimFile} (checkpoints.lua). Users also hand over single files; both resolve to a
`CheckpointSource` so the converter and the trainer read them the same way. Directories are
often gzipped file by file for storage: where latest.t7 names X.t7 and only X.t7.gz is there,
the compressed copy is read (the reader takes gzip as is) and the description says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.errors import T7FormatError, UserError
from converter.torch7.objects import T7Tensor, kind_of
from converter.torch7.reader import load_t7

OPTIM_FIELDS = (
    "learningRate",
    "learningRateDecay",
    "momentum",
    "nesterov",
    "dampening",
    "weightDecay",
    "evalCounter",
)


@dataclass(frozen=True)
class CheckpointSource:
    model_path: Path
    epoch: int | None = None  # from latest.t7, when a directory was given
    optim_path: Path | None = None
    latest_path: Path | None = None
    gz_for: tuple[str, ...] = ()  # names latest.t7 gives whose .gz copy is read instead

    @property
    def optim_present(self) -> bool:
        return self.optim_path is not None and self.optim_path.is_file()

    def describe(self, optimizer: bool = True) -> str:
        """Where the model comes from; with `optimizer`, for a resume that needs it, whether
        the optimizer state is there too."""
        if self.latest_path is None:
            return f"model file {self.model_path}"
        optim = self.optim_path.name if self.optim_path else "none"
        state = "present" if self.optim_present else "missing"
        gz = "".join(f"; latest.t7 names {name}: reading {name}.gz" for name in self.gz_for)
        return (
            f"{self.latest_path}: epoch {self.epoch}, model file {self.model_path.name}"
            + (f", optimizer file {optim} ({state})" if optimizer else "")
            + gz
        )


def resolve(path: str | Path) -> CheckpointSource:
    """A model file as is; a directory (or its latest.t7) through latest.t7."""
    path = Path(path)
    if path.is_dir():
        latest = path / "latest.t7"
        if not latest.is_file():
            models = sorted(p.name for p in path.glob("model_*.t7"))
            if models:
                hint = f"; it has {', '.join(models[:5])}: give one of those"
            elif (path / "model_best.pt").is_file() or (path / "checkpoint.pt").is_file():
                hint = (
                    " (it is an irv2-train run: its model_best.pt already loads in PyTorch, "
                    "e.g. with converter.load_converted)"
                )
            else:
                hint = "; give the Torch7 model file (model_N.t7) itself"
            raise UserError(f"{path}: no latest.t7 in this checkpoint directory{hint}")
        return _from_latest(latest)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.name == "latest.t7":
        return _from_latest(path)
    return CheckpointSource(model_path=path)


def _from_latest(latest: Path) -> CheckpointSource:
    info = load_t7(latest)
    if not isinstance(info, dict) or "modelFile" not in info:
        raise T7FormatError(f"{latest}: not a fb.resnet.torch latest.t7 (no modelFile entry)")
    for key in ("modelFile", "optimFile"):
        name = info.get(key)
        if key in info and name is not None and not _is_file_name(name):
            raise T7FormatError(f"{latest}: its {key} is {kind_of(name)}, not a file name")
    epoch = info.get("epoch")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0):
        raise T7FormatError(f"{latest}: its epoch is {kind_of(epoch)}, not an epoch number")
    named = [info["modelFile"]] + ([info["optimFile"]] if info.get("optimFile") else [])
    paths = [_present(latest.parent / name) for name in named]
    if not paths[0].is_file():
        raise UserError(
            f"{latest} names model file {named[0]}, which is not in {latest.parent} "
            f"(nor {named[0]}.gz)"
        )
    return CheckpointSource(
        model_path=paths[0],
        epoch=epoch,
        optim_path=paths[1] if len(paths) > 1 else None,
        latest_path=latest,
        gz_for=tuple(name for name, path in zip(named, paths) if path.name != Path(name).name),
    )


def _is_file_name(name: object) -> bool:
    """A name latest.t7 may give: a non-empty string a path can hold (no NUL byte)."""
    return isinstance(name, str) and name.strip() != "" and "\0" not in name


def _present(path: Path) -> Path:
    """`path`, or its gzipped sibling `path.gz` when only that one is there."""
    gz = path.with_name(path.name + ".gz")
    return gz if not path.is_file() and gz.is_file() else path


def read_optim_state(path: str | Path) -> dict[str, Any]:
    """optim.sgd's table: hyper-parameters, evalCounter, `dfdx` (flat momentum, lazy)."""
    state = load_t7(path)
    if not isinstance(state, dict):
        raise T7FormatError(f"{path}: not an optim state table")
    dfdx = state.get("dfdx")
    if dfdx is not None and not isinstance(dfdx, T7Tensor):
        raise T7FormatError(f"{path}: its dfdx is a {type(dfdx).__name__}, not a tensor")
    return state
