"""The one table of generic translations: Torch7 class name -> a function that builds the module.

Every built-in layer family (`converter.generic.layers`) registers here, and so can a user's own
code for classes the project does not know, without editing the project:

    from converter import register_translation

    @register_translation("nn.SpatialCircularPadding")
    def circular(t7, ctx):              # the Torch7 object's fields in, an nn.Module out
        return MyPadding(*ctx.ints("pad_l", "pad_r", "pad_t", "pad_b"))

The class name is the one the file holds, prefix or none: "nn.X", "cudnn.X", "onmt.X", or a
bare "OneHot" (char-rnn's class, made with torch.class('OneHot')).

A translation registered later for the same class name replaces the earlier one, so a plugin
can also override a built-in translation.

A builder reads the Torch7 object's fields through its `ModuleContext` (which names the module's
path in every error) and hands its tensors over with `ctx.put`, so the translator can assign all
of them at once to a module built on the meta device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TypeVar

import numpy as np
import torch
from torch import nn

from converter.errors import T7FormatError, UserError
from converter.generic.plugins import line_in
from converter.torch7.modules import child_path, children, show
from converter.torch7.objects import T7Object, T7Tensor

_PROJECT = Path(__file__).resolve().parent.parent  # converter/: the built-in translations

# same math, different kernels: a cudnn.X is translated by nn.X's builder unless one is registered
BACKENDS = ("nn", "cudnn")

Builder = Callable[[T7Object, "ModuleContext"], nn.Module]
# A check returns why a module that has a builder still cannot be translated (None: it can).
Check = Callable[[T7Object], Optional[str]]
M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class Translation:
    build: Builder
    check: Check | None = None
    inner: tuple[str, ...] = ()  # fields holding modules outside `modules` (ctx.submodule)


_REGISTRY: dict[str, Translation] = {}


def register_translation(
    *class_names: str, check: Check | None = None, inner: tuple[str, ...] = ()
) -> Callable[[Builder], Builder]:
    """Decorator: `builder(t7, ctx)` translates the Torch7 classes `class_names` ("nn.ReLU").

    `check(t7)` may return why a particular object cannot be translated; `inner` names the
    fields that hold further modules the builder translates with `ctx.submodule(name)`, so
    they are checked before anything is built.
    """

    if not class_names or not all(_is_class_name(n) for n in class_names):
        raise TypeError(
            "register_translation takes Torch7 class names as the file writes them: "
            "@register_translation('nn.MyClass'), or 'OneHot' for a class made without a prefix"
        )

    def register(builder: Builder) -> Builder:
        for name in class_names:
            _REGISTRY[name] = Translation(builder, check, tuple(inner))
        return builder

    return register


def _is_class_name(name: object) -> bool:
    """Any name torch.class can give, prefixed (nn.X, cudnn.X, onmt.X) or not (char-rnn's
    OneHot): a non-empty string without spaces."""
    return isinstance(name, str) and bool(name) and not any(c.isspace() for c in name)


def lookup(class_name: str) -> Translation | None:
    """The translation registered for `class_name`, or its nn. counterpart for another backend."""
    found = _REGISTRY.get(class_name)
    backend, _, name = class_name.rpartition(".")
    if found is None and backend in BACKENDS:
        found = _REGISTRY.get(f"nn.{name}")
    return found


def supported() -> list[str]:
    """Every registered Torch7 class name ("nn.Linear"), sorted (for the README's list); a
    cudnn.X is translated by nn.X's entry unless it has its own."""
    return sorted(_REGISTRY)


# What a builder raises when a damaged file's fields are not what its class stores (a string
# for a kernel size, NaN for a probability, a table for a tensor): each becomes one T7FormatError
# naming the module, whichever builder it is, the project's or a user's.
BUILDER_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    RuntimeError,
)


class TreeTranslation:
    """One tree being translated: builds modules (on the meta device) and keeps the tensors
    each builder handed over, then gives them to the modules (`assign`)."""

    def __init__(self, source: str):
        self.source = source
        # id -> (object, module, its first path, its tensors by name)
        self._built: dict[int, tuple[T7Object, nn.Module, str, dict[str, torch.Tensor]]] = {}

    def built(self) -> list[tuple[T7Object, nn.Module, str]]:
        """(Torch7 object, its module, its first path) of every module translated so far."""
        return [(m, built, path) for m, built, path, _ in self._built.values()]

    def module(self, m: T7Object, path: str) -> nn.Module:
        """`m` translated. A Torch7 object met again (one module in two places, or the pooling
        module a SpatialMaxUnpooling holds) gives the same nn.Module, so its tensors appear
        under both paths, as Lua shares the one object."""
        if isinstance(m, T7Object) and id(m) in self._built:
            return self._built[id(m)][1]
        translation = lookup(m.class_name) if isinstance(m, T7Object) else None
        if translation is None:  # translate() checks first; a builder may reach further
            what = m.class_name if isinstance(m, T7Object) else type(m).__name__
            raise T7FormatError(f"{self.source}: {what} at {show(path)} has no translation")
        ctx = ModuleContext(self, m, path)
        built = guarded(ctx.where, lambda: translation.build(m, ctx), translation.build)
        if not isinstance(built, nn.Module):
            origin = _user_code(translation.build) or "its translation"
            raise UserError(
                f"{ctx.where}: the translation in {origin} returned {type(built).__name__} "
                f"{repr(built)[:40]}, not an nn.Module; a builder returns the module it builds"
            )
        _check_tensors(ctx, built)
        self._built[id(m)] = (m, built, path, ctx.given)
        return built

    def assign(self, root: nn.Module) -> None:
        """Every built module gets the tensors its builder put (`_check_tensors` has matched
        them to its own, name for name and shape for shape), as
        `load_state_dict(assign=True)` would give them, without its walk over every key; a
        tensor left on the meta device (a builder's submodule built outside `ctx`) is refused."""
        for _, built, _, given in self._built.values():
            for name, tensor in given.items():
                give(built, name, tensor)
        for path, key in still_meta(root)[:1]:
            raise T7FormatError(
                f"{self.source}: {show(path)}.{key} was built without a tensor from the file (a "
                "translation built a module outside its ModuleContext)"
            )


def give(module: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """`module`'s parameter or buffer `name` becomes `tensor` itself, as
    `load_state_dict(assign=True)` makes it (a parameter keeps its requires_grad)."""
    params = module._parameters
    if name in params:
        params[name] = nn.Parameter(tensor, params[name].requires_grad)
    else:
        module._buffers[name] = tensor


def still_meta(root: nn.Module) -> list[tuple[str, str]]:
    """(module path, name) of each parameter or buffer left on the meta device."""
    return [
        (path, key)
        for path, sub in root.named_modules()
        for key, t in [*sub._parameters.items(), *sub._buffers.items()]
        if t is not None and t.is_meta
    ]


def uninitialised(cls: type[M], *args: Any, **kwargs: Any) -> M:
    """`cls(*args, **kwargs)` without its `reset_parameters()`: every tensor of a translated
    module comes from the file, so drawing random ones first, even on the meta device, is
    waste (a sixth of the full IRv2's translation time). Skipped for this instance only, so
    other threads building modules meanwhile are not affected."""
    module = cls.__new__(cls)
    object.__setattr__(module, "reset_parameters", _nothing)
    try:
        module.__init__(*args, **kwargs)
    finally:
        object.__delattr__(module, "reset_parameters")
    return module


def _nothing() -> None:
    return None


def guarded(where: str, work: Callable[[], Any], code: Callable | None = None) -> Any:
    """`work()`, its BUILDER_ERRORS turned into one error that names `where`: the file is
    damaged (a T7FormatError), unless `code`, the builder or check that ran, is a user's
    (a plugin): then its bug, named by its file and line."""
    try:
        return work()
    except RecursionError:
        raise
    except BUILDER_ERRORS as e:
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        plugin = _user_code(code)
        if plugin is not None:
            raise UserError(
                f"{where}: the translation in {plugin}{line_in(plugin, e)} raised "
                f"{type(e).__name__}: {reason}; fix the plugin"
            ) from None
        raise T7FormatError(
            f"{where}: its fields do not make a valid module ({reason}); the file is damaged "
            "or was not written by this module class"
        ) from None


def _user_code(code: Callable | None) -> Path | None:
    """The file `code` (a builder or check) is defined in, when that is not this project's:
    a plugin's or the user's own script."""
    filename = getattr(getattr(code, "__code__", None), "co_filename", None)
    if filename is None:
        return None
    path = Path(filename).resolve()
    return None if _PROJECT in path.parents else path


def tensor_problems(own: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> list[str]:
    """What keeps `given` from standing for a module's `own` tensors, name for name and shape
    for shape, in words ([] where nothing does)."""
    problems = [f"no {k} tensor" for k in own if k not in given]
    problems += [f"a {k} tensor it has no place for" for k in given if k not in own]
    for k in own.keys() & given.keys():
        if tuple(own[k].shape) != tuple(given[k].shape):
            shape = "x".join(map(str, given[k].shape)) or "scalar"
            problems.append(f"{k} of size {shape} where {tuple(own[k].shape)} is needed")
    return problems


def _check_tensors(ctx: ModuleContext, built: nn.Module) -> None:
    """The tensors a builder handed over must be exactly the module's own, shape for shape,
    and floating point where they become parameters: what assigning them all at once needs.
    The module's own tensors are read from its registries, as its state_dict would list them
    (no None entries, no non-persistent buffers), without a state_dict's walk and hooks."""
    given = ctx.given
    if not given and not built._parameters and not built._buffers:
        return  # most modules (activations, shapes, containers) hold no tensor: nothing to match
    params = {k: v for k, v in built._parameters.items() if v is not None}
    own = params | {
        k: v
        for k, v in built._buffers.items()
        if v is not None and k not in built._non_persistent_buffers_set
    }
    problems = tensor_problems(own, given)
    problems += [
        f"{k} of {t.dtype}, not floating point"
        for k, t in given.items()
        if k in params and not t.is_floating_point()
    ]
    if problems:
        raise T7FormatError(
            f"{ctx.where}: its tensors do not fit the {type(built).__name__} its fields "
            f"describe: {', '.join(problems)}"
        )


class ModuleContext:
    """What a builder needs for one Torch7 module: checked field access, its children already
    translated, and a place to put its tensors (state_dict keys are the Torch7 paths)."""

    def __init__(self, tree: TreeTranslation, m: T7Object, path: str):
        self.tree, self.m, self.path = tree, m, path
        self.given: dict[str, torch.Tensor] = {}  # what `put` handed over, by field name

    @property
    def where(self) -> str:
        """`source: class at path`, the prefix of every message about this module."""
        return f"{self.tree.source}: {self.m.class_name} at {show(self.path)}"

    def children(self) -> list[nn.Module]:
        return [
            self.tree.module(c, child_path(self.path, i))
            for i, c in enumerate(children(self.m, self.path), start=1)
        ]

    def submodule(self, name: str) -> nn.Module:
        """The module held in field `name` (declared in the translation's `inner`), translated
        with its tensors under `path.name`."""
        return self.tree.module(self.field(name), child_path(self.path, name))

    def field(self, name: str) -> Any:
        if name not in self.m:
            raise T7FormatError(
                f"{self.where} has no field '{name}'; the file is not a complete Torch7 model"
            )
        return self.m[name]

    def ints(self, *names: str) -> tuple[int, ...]:
        """Integral fields that must be there (kernel sizes, strides, dimensions)."""
        for n in names:
            self.field(n)
        return tuple(self.m.integer(n, where=self.where) for n in names)

    def tensor(self, name: str) -> np.ndarray | None:
        """The field's values, or None where Torch has no tensor (bias=false, affine=false)."""
        t = self.m.get(name)
        return t.numpy() if isinstance(t, T7Tensor) and t.numel else None

    def put(self, name: str, value: np.ndarray | torch.Tensor) -> None:
        self.given[name] = value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
