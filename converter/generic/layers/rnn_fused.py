"""The fused recurrent layers: Element-Research rnn's SeqLSTM, SeqLSTMP, SeqGRU, SeqBRNN and
SeqReverseSequence (MANIFEST-zoo3 §5.5), and the sequence modules torch-rnn builds on (its
nn.LSTM is SeqLSTM's ancestor, its VanillaRNN a fused tanh RNN: converter.generic.layers.
torch_rnn translates them with the classes here).

These take a whole sequence per call, as their Torch7 classes did: a T x N x D tensor
(N x T x D with `batchfirst`, and always for torch-rnn), or a table {c0, h0, x} / {h0, x}
holding the initial state. Where PyTorch's fused kernel computes the same function the class IS
that kernel (SeqLSTM and SeqLSTMP are nn.LSTM, VanillaRNN is nn.RNN, their Torch7 (inputs x
outputs) weights transposed and the LSTM gates reordered at build); SeqGRU applies its reset gate
before the recurrent matrix, which nn.GRU does not, so it is written out step by step.

State across calls (`remember`): Torch7 kept the last h (and c) of a forward and started the next
forward from them when its `_remember` mode ('both', 'eval', 'train', 'neither') covers the
current mode (torch-rnn: `remember_states`). The classes here keep them the same way, in plain
attributes; `forget()` (Torch7's forget/resetStates) starts the next call from zeros, and so does
a change between train() and eval() for the rnn classes, as their training()/evaluate() did.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from converter.errors import T7FormatError
from converter.generic.layers.arithmetic import put_tensor
from converter.generic.layers.dpnn import Decorator
from converter.generic.layers.rnn_steps import Remembers, forget
from converter.generic.registry import ModuleContext, register_translation
from converter.torch7.objects import T7Object

REMEMBER_MODES = ("both", "eval", "train", "neither")


def lstm_gate_order(hidden: int) -> torch.Tensor:
    """Columns of a Torch7 fused LSTM weight (gates i, f, o, g) in nn.LSTM's order i, f, g, o."""
    # on the CPU, where the file's tensors are (the translator builds modules on "meta")
    i_f, o, g = torch.arange(4 * hidden, device="cpu").split([2 * hidden, hidden, hidden])
    return torch.cat([i_f, g, o])


def put_lstm(ctx: ModuleContext, input_size: int, hidden: int, weight_o: str | None = None) -> None:
    """Torch7's fused LSTM tensors (weight (D+R) x 4H, x rows first, gates i, f, o, g; bias 4H;
    SeqLSTMP's projection weightO H x R) as nn.LSTM's layer-0 parameters."""
    weight = torch.from_numpy(required_tensor(ctx, "weight"))
    bias = torch.from_numpy(required_tensor(ctx, "bias"))
    order = lstm_gate_order(hidden)
    ctx.put("weight_ih_l0", weight[:input_size, order].T.contiguous())
    ctx.put("weight_hh_l0", weight[input_size:, order].T.contiguous())
    ctx.put("bias_ih_l0", bias[order].contiguous())
    ctx.put("bias_hh_l0", torch.zeros_like(bias))
    if weight_o is not None:
        ctx.put("weight_hr_l0", torch.from_numpy(required_tensor(ctx, weight_o)).T.contiguous())


def required_tensor(ctx: ModuleContext, name: str) -> Any:
    """The module's tensor field `name` (not put: the caller lays it out first)."""
    value = ctx.tensor(name)
    if value is None:
        raise T7FormatError(f"{ctx.where} has no '{name}' tensor; the file is not a complete model")
    return value


def unpack_state(input: Any, names: int) -> tuple[Any, ...]:
    """Torch7's _unpack_input: x, or a table {c0, h0, x} / {h0, x}, as `names` values
    (c0, h0, x) or (h0, x), None where the table does not give one."""
    items = [input] if isinstance(input, torch.Tensor) else list(input)
    if not 1 <= len(items) <= names or (len(items) == 1) != isinstance(input, torch.Tensor):
        raise ValueError(
            f"a table of {len(items)} entries: give x, {{h0, x}}"
            + (" or {c0, h0, x}" if names == 3 else "")
        )
    if items[-1].dim() != 3:
        raise ValueError(f"a {items[-1].dim()}-D x: these modules take a batch of sequences (3-D)")
    return (None,) * (names - len(items)) + tuple(items)


def nonzero_rows(x_t: torch.Tensor) -> torch.Tensor:
    """N x 1, False where the step's input vector is all zeros (maskzero: L2 norm exactly 0)."""
    return (x_t != 0).any(-1, keepdim=True)


class SeqLSTM(Remembers, nn.LSTM):
    """rnn's nn.SeqLSTM(D, H) / nn.SeqLSTMP(D, H, R), and torch-rnn's nn.LSTM(D, H) (always
    batch first): nn.LSTM with the Torch7 weights (gates i, f, o, g reordered, bias in bias_ih,
    bias_hh zero; SeqLSTMP's weightO as the projection weight_hr). `mask_zero` (rnn's maskZero):
    after each step the rows whose input is all zeros get h = c = 0, so run step by step."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        *,
        batch_first: bool = False,
        remember: str = "neither",
        mask_zero: bool = False,
        forgets_on_mode_change: bool = True,
    ):
        output_size = output_size or hidden_size
        proj = 0 if output_size == hidden_size else output_size
        super().__init__(input_size, hidden_size, proj_size=proj, batch_first=batch_first)
        self.output_size, self.remember, self.mask_zero = output_size, remember, mask_zero
        self.forgets_on_mode_change = forgets_on_mode_change
        self.forget()

    def forward(self, input: Any) -> torch.Tensor:
        c0, h0, x = unpack_state(input, 3)
        batch = x.shape[0 if self.batch_first else 1]
        h = self._initial("h", h0, batch, self.output_size, x)
        c = self._initial("c", c0, batch, self.hidden_size, x)
        if self.mask_zero:
            out, h, c = self._masked(x, h, c)
        else:
            out, (h, c) = super().forward(x, (h.unsqueeze(0), c.unsqueeze(0)))
            h, c = h[0], c[0]
        self._keep(h=h, c=c)
        return out

    def _masked(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):  # noqa: ANN202
        time = 1 if self.batch_first else 0
        outs = []
        for x_t in x.split(1, time):
            _, (h, c) = super().forward(x_t, (h.unsqueeze(0), c.unsqueeze(0)))
            keep = nonzero_rows(x_t.squeeze(time))
            h, c = torch.where(keep, h[0], 0), torch.where(keep, c[0], 0)
            outs.append(h)
        return torch.stack(outs, time), h, c


class SeqGRU(Remembers, nn.Module):
    """rnn's nn.SeqGRU(D, H): `weight` (D+H) x 3H (x rows first; column blocks reset r, update
    u, candidate), `bias` 3H; r, u = σ(x Wx + h Wh + b), hc = tanh(x Wx_c + b_c + (r·h) Wh_c)
    (the reset gate applied before the matrix, unlike nn.GRU), h' = (1 - u)·hc + u·h."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        batch_first: bool = False,
        remember: str = "neither",
        mask_zero: bool = False,
    ):
        super().__init__()
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        self.weight = nn.Parameter(torch.empty(input_size + hidden_size, 3 * hidden_size))
        self.bias = nn.Parameter(torch.empty(3 * hidden_size))
        self.remember, self.mask_zero, self.forgets_on_mode_change = remember, mask_zero, True
        self.forget()

    def forward(self, input: Any) -> torch.Tensor:
        h0, x = unpack_state(input, 2)
        xs = x.transpose(0, 1) if self.batch_first else x  # T x N x D
        steps, batch = xs.shape[:2]
        d, hd = self.input_size, self.hidden_size
        h = self._initial("h", h0, batch, hd, x)
        wx, wh = self.weight[:d], self.weight[d:]
        gates_x = torch.addmm(self.bias, xs.reshape(steps * batch, d), wx).view(steps, batch, -1)
        outs = []
        for t in range(steps):
            r, u = torch.sigmoid(torch.addmm(gates_x[t, :, : 2 * hd], h, wh[:, : 2 * hd])).chunk(
                2, 1
            )
            hc = torch.tanh(torch.addmm(gates_x[t, :, 2 * hd :], r * h, wh[:, 2 * hd :]))
            h = hc - u * hc + u * h
            if self.mask_zero:
                h = torch.where(nonzero_rows(xs[t]), h, 0)
            outs.append(h)
        self._keep(h=h)
        out = torch.stack(outs)
        return out.transpose(0, 1) if self.batch_first else out


class VanillaRNN(Remembers, nn.RNN):
    """torch-rnn's nn.VanillaRNN(D, H): N x T x D in, h_t = tanh(x_t Wx + h_{t-1} Wh + b) out
    (N x T x H); nn.RNN with `weight` (D+H) x H transposed, the bias in bias_ih."""

    def __init__(self, input_size: int, hidden_size: int, *, remember: str = "neither"):
        super().__init__(input_size, hidden_size, batch_first=True)
        self.remember, self.forgets_on_mode_change = remember, False
        self.forget()

    def forward(self, input: Any) -> torch.Tensor:
        h0, x = unpack_state(input, 2)
        h = self._initial("h", h0, x.shape[0], self.hidden_size, x)
        out, h = super().forward(x, h.unsqueeze(0))
        self._keep(h=h[0])
        return out


class SeqReverseSequence(nn.Module):
    """rnn's nn.SeqReverseSequence(dim): the input reversed along `dim` (1-based, at most 3)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(self.dim)


class SeqBRNN(Decorator):
    """rnn's nn.SeqBRNN: its one child (a Sequential: forward SeqLSTM and the reversed backward
    one, merged; batch-first transposes around them) run as is. `forget()` reaches the LSTMs."""

    def forget(self) -> None:
        forget(self)


def _remember_mode(t7: T7Object) -> str | None:
    mode = t7.get("_remember")
    return mode if mode in REMEMBER_MODES else None


def _untranslatable(t7: T7Object) -> str | None:
    """Files of an rnn older than the `_remember` field stored a different layout (batch
    first, `remember_states`) that no fixture shows: refused, not guessed. nn.LSTM's
    projection must be narrower than the cell, which a SeqLSTMP's need not be."""
    if _remember_mode(t7) is None:
        return (
            f"{t7.class_name} without a '_remember' field of {'/'.join(REMEMBER_MODES)} "
            "(an rnn version before 2016's T x N layout, not supported)"
        )
    sizes = t7.get("outputsize"), t7.get("hiddensize")
    if t7.class_name.endswith(".SeqLSTMP") and all(isinstance(n, int) for n in sizes):
        if sizes[0] >= sizes[1]:
            return f"{t7.class_name} projecting {sizes[1]} cells to {sizes[0]} (not fewer)"
    return None


def _sequence_options(t7: T7Object) -> dict[str, Any]:
    return {
        "batch_first": bool(t7.get("batchfirst", False)),
        "remember": _remember_mode(t7),
        "mask_zero": bool(t7.get("maskzero", False)),
    }


@register_translation("nn.SeqLSTM", "nn.SeqLSTMP", check=_untranslatable)
def _seq_lstm(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    (d,) = ctx.ints("inputsize")
    (r,) = ctx.ints("outputsize")
    h = t7.integer("hiddensize", where=ctx.where) if "hiddensize" in t7 else r
    projected = t7.class_name.endswith(".SeqLSTMP")
    if not projected and r != h:
        raise T7FormatError(f"{ctx.where}: outputsize {r} and hiddensize {h} differ")
    put_lstm(ctx, d, h, "weightO" if projected else None)
    return SeqLSTM(d, h, r, **_sequence_options(t7))


@register_translation("nn.SeqGRU", check=_untranslatable)
def _seq_gru(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    d, h = ctx.ints("inputSize", "outputSize")
    put_tensor(ctx, "weight")
    put_tensor(ctx, "bias")
    return SeqGRU(d, h, **_sequence_options(t7))


@register_translation("nn.SeqReverseSequence")
def _seq_reverse(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    (dim,) = ctx.ints("dim")
    if not 1 <= dim <= 3:
        raise T7FormatError(f"{ctx.where}: dim {dim}; SeqReverseSequence reverses dim 1, 2 or 3")
    return SeqReverseSequence(dim)


@register_translation("nn.SeqBRNN")
def _seq_brnn(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    kids = ctx.children()
    if len(kids) != 1:
        raise T7FormatError(f"{ctx.where} holds {len(kids)} modules, not its one wiring")
    return SeqBRNN(kids[0])
