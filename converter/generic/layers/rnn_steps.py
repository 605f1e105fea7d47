"""Element-Research rnn's time-step modules as PyTorch modules that keep Torch7's state.

rnn's AbstractRecurrent modules (LSTM, FastLSTM, GRU, MuFuRu, Recurrence, Recurrent, Recursor)
run ONE time step per call and carry their state (h, and c for the LSTMs) from one call to the
next until `forget()`; Sequencer, Repeater and BiSequencerLM run whole sequences through them.
Each class here is that behaviour around the translated `recurrentModule` (the nn modules rnn
built the step from, in the file), so every wiring the file holds (nn containers, an nngraph
gModule, batch normalisation, MaskZero) steps exactly as it did in Torch7. The state is plain
attributes, not buffers: it is not part of a state_dict, as it is not part of a checkpoint.

MaskZero is rnn's padding convention around a step: a sample whose input is an all-zero vector
gives an all-zero output, and inside an LSTM step the zeroed h and c restart that sequence from
zero state.

Children keep Lua's 1-based index in the module's `modules` as their name, so state_dict keys
are the Torch7 paths. The classes depend on torch and this file only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def forget(module: nn.Module) -> None:
    """Torch7's `forget()` on `module` and everything inside it, as rnn's Module:forget()
    reaches every module inside: each step module starts again at step 1, and each sequence
    module forgets the state it kept (Remembers), so the next call starts from zero state."""
    for m in module.modules():
        if isinstance(m, Remembers):
            Remembers.forget(m)
        elif callable(getattr(m, "restart", None)):
            m.restart()


class Remembers:
    """The state a Torch7 sequence module kept between forwards (mixed into the nn.Modules
    below). `_last` holds the final h/c of the last forward; `_primed` the states whose Torch7
    buffer (h0, c0) a forward without an explicit state has sized, which is what Torch7 tested
    before continuing from the last forward."""

    remember: str
    forgets_on_mode_change: bool

    def forget(self) -> None:
        """Torch7's forget()/resetStates(): the next forward starts from zero state."""
        self._last: dict[str, torch.Tensor] = {}
        self._primed: set[str] = set()

    def train(self, mode: bool = True):  # noqa: ANN201 - nn.Module.train's own return
        if self.forgets_on_mode_change and mode != self.training:
            self.forget()  # rnn's training()/evaluate() forget on a change of mode
        return super().train(mode)

    def _remembers(self) -> bool:
        return self.remember in ("both", "train" if self.training else "eval")

    def _initial(self, key: str, given: Any, batch: int, size: int, x: torch.Tensor) -> Any:
        """The state `key` a forward starts from: `given` (the table's h0/c0), else the last
        forward's final one where Torch7 continued from it, else zeros."""
        if given is not None:
            return given
        if tracing():  # an exported program is a function of its input
            return x.new_zeros(batch, size)
        last = self._last.get(key) if self._remembers() and key in self._primed else None
        self._primed.add(key)
        if last is None:
            return x.new_zeros(batch, size)
        if last.shape[0] != batch:
            raise ValueError(
                f"a batch of {batch} after one of {last.shape[0]}: the state it remembers is "
                "per sequence, so the batch size must stay the same; call forget() first"
            )
        return last

    def _keep(self, **final: torch.Tensor) -> None:
        if not tracing():
            self._last = {k: v.detach() for k, v in final.items()}


class Stateful(nn.Module):
    """A module with Torch7's `forget()`: every step module inside it restarts.

    Traced (torch.export, torch.compile), the outermost one starts from zero state and leaves
    the state of its step modules as it found it: an exported program is a function of its
    input, whatever the module remembered when it was exported."""

    tracing_inside = False  # set while the outermost Stateful call of a trace runs

    def forget(self) -> None:
        forget(self)

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        if Stateful.tracing_inside or not tracing():
            return super().__call__(*args, **kwargs)
        kept = [(m, m.state) for m in self.modules() if hasattr(m, "restart")]
        forget(self)
        Stateful.tracing_inside = True
        try:
            return super().__call__(*args, **kwargs)
        finally:
            Stateful.tracing_inside = False
            for m, state in kept:
                m.state = state


def tracing() -> bool:
    """Inside torch.compile/torch.export (torch >= 2.3 tells; earlier ones trace with grads)."""
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling is not None and is_compiling())


def _first_tensor(x):  # noqa: ANN001, ANN202 - a tensor or nested lists of them
    """The first tensor, depth first (rnn's recursiveGetFirst)."""
    while isinstance(x, (list, tuple)):
        x = x[0]
    return x


def _masked(out, keep: torch.Tensor):  # noqa: ANN001, ANN202 - a tensor or nested lists
    """`out` with the samples where `keep` is False set to 0 (every tensor of a table)."""
    if isinstance(out, (list, tuple)):
        return [_masked(o, keep) for o in out]
    return torch.where(keep.view(keep.shape + (1,) * (out.dim() - keep.dim())), out, 0)


class MaskZero(nn.Module):
    """rnn's nn.MaskZero(m, nInputDim) and nn.TrimZero (same numbers): m's outputs, zeroed for
    the samples whose input (its first tensor, depth first) is all zeros. An input of
    nInputDim+1 dims is a batch (one mask value per sample), of nInputDim dims one sample."""

    def __init__(self, module: nn.Module, n_input_dim: int):
        super().__init__()
        self.add_module("1", module)
        self.n_input_dim = n_input_dim

    def forward(self, x):  # noqa: ANN001, ANN201
        first = _first_tensor(x)
        if first.dim() == self.n_input_dim + 1:
            keep = (first.reshape(first.shape[0], -1) != 0).any(1)
        elif first.dim() == self.n_input_dim:
            keep = (first != 0).any()
        else:
            raise ValueError(f"MaskZero({self.n_input_dim}) got a {first.dim()}-D input")
        return _masked(self._modules["1"](x), keep)

    def extra_repr(self) -> str:
        return f"n_input_dim={self.n_input_dim}"


class StepRecurrence(Stateful):
    """rnn's LSTM, FastLSTM (cell=True: the step maps {x, h, c} to {h, c}), GRU, MuFuRu and
    Recurrence (cell=False: {x, h} to h). Each call is one step and returns h_t; h_0 (and c_0)
    are zeros of `output_size`, with a batch dim when the input (its first tensor) has one more
    dim than `n_input_dim`. `forget()` goes back to step 1.

    `gates` names, inside the step, FastLSTM's i2g and o2g Linear modules when the step is its
    standard cell (a = i2g(x) + o2g(h), gates i, g, f, o): batched steps then run as torch's
    fused LSTM with those weights, their gate rows put in its order (i, f, g, o); the numbers
    are the step's to float rounding, and a whole sequence (`sequence`) is one call."""

    def __init__(
        self,
        step: nn.Module,
        output_size: list[int],
        n_input_dim: int,
        cell: bool,
        gates: list[str] | None = None,
    ):
        super().__init__()
        self.add_module("1", step)
        self.output_size, self.n_input_dim, self.cell = list(output_size), n_input_dim, cell
        self.gates = None if gates is None else list(gates)
        self.state: list[torch.Tensor] | None = None

    def restart(self) -> None:
        self.state = None

    def zero_state(self, x) -> torch.Tensor:  # noqa: ANN001 - a tensor or a table of them
        first = _first_tensor(x)
        if first.dim() == self.n_input_dim + 1:
            size = [first.shape[0], *self.output_size]
        elif first.dim() == self.n_input_dim:
            size = self.output_size
        else:
            raise ValueError(
                f"a {first.dim()}-D input for a step of {self.n_input_dim}-D samples (or a batch)"
            )
        weights = next(self.parameters(), None)
        dtype = weights.dtype if weights is not None else torch.get_default_dtype()
        return first.new_zeros(size, dtype=dtype)

    def fused_weights(self) -> list[torch.Tensor]:
        """torch.lstm's [w_ih, w_hh, b_ih, b_hh] from i2g and o2g: rows i, g, f, o -> i, f, g, o.
        Kept between calls without gradients while the parameters are the same tensors,
        unmodified (their version counters), on the same device and dtype."""
        i2g, o2g = (self._modules["1"].get_submodule(name) for name in self.gates)
        sources = [i2g.weight, o2g.weight] + ([] if i2g.bias is None else [i2g.bias])
        keep = not torch.is_grad_enabled() and not tracing()
        # the tensors themselves are held with the key, so no new tensor can take their id
        key = [(id(p), p._version, p.device, p.dtype) for p in sources] if keep else None
        cached = getattr(self, "_fused", None)
        if keep and cached is not None and cached[0] == key:
            return cached[1]
        h = self.output_size[0]

        def reordered(w: torch.Tensor) -> torch.Tensor:
            return w.reshape(4, h, -1)[[0, 2, 1, 3]].reshape(w.shape)

        bias = i2g.bias if i2g.bias is not None else i2g.weight.new_zeros(4 * h)
        w_ih, w_hh, b_ih = (reordered(w) for w in (i2g.weight, o2g.weight, bias))
        weights = [w_ih, w_hh, b_ih, bias.new_zeros(4 * h)]
        self._fused = (key, weights, sources) if keep else None
        return weights

    @property
    def fused(self) -> bool:
        return self.gates is not None

    def sequence(self, xs: torch.Tensor) -> torch.Tensor:
        """The steps of a T x B x D sequence, T x B x H: one fused call where the step allows."""
        if self.gates is None or xs.dim() != 3:
            return torch.stack([self(x) for x in xs.unbind(0)])
        if self.state is None:
            zeros = self.zero_state(xs[0])
            self.state = [zeros, zeros]
        h0, c0 = (s.unsqueeze(0) for s in self.state)
        weights = self.fused_weights()
        out, h, c = torch.lstm(xs, (h0, c0), weights, True, 1, 0.0, False, False, False)
        self.state = [h[0], c[0]]
        return out

    def forward(self, x):  # noqa: ANN001, ANN201
        if self.gates is not None and isinstance(x, torch.Tensor) and x.dim() == 2:
            return self.sequence(x.unsqueeze(0))[0]
        if self.state is None:
            zeros = self.zero_state(x)
            self.state = [zeros, zeros] if self.cell else [zeros]
        out = self._modules["1"]([x, *self.state])
        if self.cell:
            self.state = [out[0], out[1]]
            return out[0]
        self.state = [out]
        return out

    def extra_repr(self) -> str:
        fused = f", gates={self.gates}" if self.gates else ""
        sizes = f"output_size={self.output_size}, n_input_dim={self.n_input_dim}"
        return f"{sizes}, cell={self.cell}{fused}"


class Recurrent(Stateful):
    """rnn's nn.Recurrent(start, input, feedback, transfer, rho, merge): step 1 is
    transfer(start(input(x_1))) (its initialModule, which shares input's and transfer's
    weights), every later step transfer(merge({input(x_t), feedback(h_{t-1})})). Children as
    Torch7's `modules`: 1 start, 2 input, 3 feedback, 4 transfer, 5 merge."""

    def __init__(self, parts: list[nn.Module]):
        super().__init__()
        for i, part in enumerate(parts, start=1):
            self.add_module(str(i), part)
        self.state: torch.Tensor | None = None

    def restart(self) -> None:
        self.state = None

    def forward(self, x):  # noqa: ANN001, ANN201
        start, inputs, feedback, transfer, merge = self._modules.values()
        if self.state is None:
            h = transfer(start(inputs(x)))
        else:
            h = transfer(merge([inputs(x), feedback(self.state)]))
        self.state = h
        return h


class Recursor(Stateful):
    """rnn's nn.Recursor(m) (and NormStabilizer, whose step is the identity): each call is one
    step of m; the state is in the step modules inside m, which `forget()` restarts. A
    Recursor of one Linear (rnn's decoder after the LSTMs) is `fused`: a Sequencer hands it the
    whole T x B x D sequence at once, row for row the same products."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.add_module("1", module)

    @property
    def fused(self) -> bool:
        return type(self._modules["1"]) is nn.Linear

    def sequence(self, xs: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return self._modules["1"](xs)
        return torch.stack([self(x) for x in xs.unbind(0)])

    def forward(self, x):  # noqa: ANN001, ANN201
        return self._modules["1"](x)


# Sequencer `_remember` -> (keeps the state in training, keeps it in evaluation)
REMEMBER = {
    "neither": (False, False),
    "train": (True, False),
    "eval": (False, True),
    "both": (True, True),
}


class Sequencer(Stateful):
    """rnn's nn.Sequencer(m): m on each time step of a sequence, given as a list of steps (a Lua
    table; a list comes back) or as a T x B x ... tensor (a T x ... tensor comes back).
    `remember` ('neither', 'train', 'eval' or 'both', Torch7's `_remember`) says in which mode
    a call continues from the state the previous call left; otherwise it starts with
    `forget()`, from zero state."""

    def __init__(self, module: nn.Module, remember: str = "neither"):
        super().__init__()
        if remember not in REMEMBER:
            raise ValueError(f"remember {remember!r}: not one of {', '.join(REMEMBER)}")
        self.add_module("1", module)
        self.remember = remember

    def forward(self, xs):  # noqa: ANN001, ANN201 - a list of steps or a T x ... tensor
        in_training, in_evaluation = REMEMBER[self.remember]
        if not (in_training if self.training else in_evaluation):
            self.forget()
        step = self._modules["1"]
        fused = getattr(step, "fused", False)
        if isinstance(xs, torch.Tensor):
            return step.sequence(xs) if fused else torch.stack([step(x) for x in xs.unbind(0)])
        if fused and len({tuple(x.shape) for x in xs}) == 1:
            return list(step.sequence(torch.stack(xs)).unbind(0))  # one call for all steps
        return [step(x) for x in xs]

    def extra_repr(self) -> str:
        return f"remember={self.remember!r}"


class Repeater(Stateful):
    """rnn's nn.Repeater(m, rho): `forget()`, then the same input `rho` times through m; the
    list of the rho outputs."""

    def __init__(self, module: nn.Module, rho: int):
        super().__init__()
        self.add_module("1", module)
        self.rho = rho

    def forward(self, x):  # noqa: ANN001, ANN201
        self.forget()
        return [self._modules["1"](x) for _ in range(self.rho)]

    def extra_repr(self) -> str:
        return f"rho={self.rho}"


def _zeros_like(x):  # noqa: ANN001, ANN202 - a tensor or nested lists of them
    if isinstance(x, (list, tuple)):
        return [_zeros_like(v) for v in x]
    return torch.zeros_like(x)


class BiSequencerLM(Stateful):
    """rnn's nn.BiSequencerLM: children 1 (fwd) reads steps 1..T-1 and 2 (bwd, reversing
    around its Sequencer) steps 2..T; 3 (merge) joins, for each t, {fwd_{t-1}, bwd_{t+1}} with
    zeros for fwd_0 and bwd_{T+1}, so output t never sees step t."""

    def __init__(self, fwd: nn.Module, bwd: nn.Module, merge: nn.Module):
        super().__init__()
        for i, part in enumerate((fwd, bwd, merge), start=1):
            self.add_module(str(i), part)

    def forward(self, xs: list) -> list:
        if len(xs) < 2:
            raise ValueError(f"BiSequencerLM takes a sequence of at least 2 steps, not {len(xs)}")
        fwd, bwd, merge = self._modules.values()
        before, after = fwd(list(xs[:-1])), bwd(list(xs[1:]))
        return merge([[_zeros_like(before[0]), *before], [*after, _zeros_like(after[0])]])
