"""t7convert plugin for torch-rnn checkpoints (jcjohnson/torch-rnn, LanguageModel.lua and
LSTM.lua as of 6e72b86): nn.LanguageModel and its nn.LSTM.

    t7convert cv/checkpoint_1000.t7 lm.pt2 --generic --plugin torch_rnn.py ...
    # or: converter.load_plugin("torch_rnn.py"); converter.translate("checkpoint_1000.t7")

A copyable example of a plugin: each builder reads the Torch7 object's fields (`ctx.ints`,
`ctx.tensor`), hands its tensors over under their Torch7 names (`ctx.put`) and returns an
nn.Module; modules the object keeps in a field are declared (`inner=`) and translated by the
registry (`ctx.submodule`). The translated model starts from zero states, as after torch-rnn's
`resetStates()`: a PyTorch module is a function of its input, so states are not carried from
one call to the next (pass {h0, x} or {c0, h0, x} to an LSTM for explicit states).
"""

from __future__ import annotations

import torch
from torch import nn

from converter import register_translation


class LSTM(nn.Module):
    """torch-rnn nn.LSTM(D, H): x is N x T x D, the output the N x T x H hidden states.
    `weight` is (D + H) x 4H (input rows, then hidden rows), gates in the order input, forget,
    output (sigmoid), candidate (tanh): c' = f*c + i*g, h' = o*tanh(c')."""

    def __init__(self, input_dim: int, hidden_dim: int):
        super().__init__()
        self.input_dim, self.hidden_dim = input_dim, hidden_dim
        self.weight = nn.Parameter(torch.empty(input_dim + hidden_dim, 4 * hidden_dim))
        self.bias = nn.Parameter(torch.empty(4 * hidden_dim))

    def forward(self, input: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        c, h, x = self._unpack(input)
        n, t, _ = x.shape
        d, hd = self.input_dim, self.hidden_dim
        h = x.new_zeros(n, hd) if h is None else h
        c = x.new_zeros(n, hd) if c is None else c
        wx, wh = self.weight[:d], self.weight[d:]
        gates_x = torch.addmm(self.bias, x.reshape(n * t, d), wx).view(n, t, 4 * hd)
        outputs = []
        for step in range(t):
            gates = torch.addmm(gates_x[:, step], h, wh)
            i, f, o = torch.sigmoid(gates[:, : 3 * hd]).split(hd, dim=1)
            g = torch.tanh(gates[:, 3 * hd :])
            c = f * c + i * g
            h = torch.tanh(c) * o
            outputs.append(h)
        return torch.stack(outputs, 1)

    @staticmethod
    def _unpack(input):  # noqa: ANN001, ANN205 - LSTM.lua's _unpack_input
        if isinstance(input, torch.Tensor):
            return None, None, input
        if len(input) == 3:
            return tuple(input)
        h0, x = input
        return None, h0, x


class LanguageModel(nn.Module):
    """torch-rnn nn.LanguageModel: `net` (LookupTable, LSTM layers, [BatchNormalization between
    views], Dropout, View, Linear, View) on N x T token ids (1-based, as the Lua code feeds
    them), N x T x V scores. Before each forward LanguageModel.lua resets its views to the
    input's N and T; here those children are the same reshapes."""

    def __init__(self, net: nn.Sequential, to_rows: set[str], to_sequences: set[str]):
        super().__init__()
        self.net = net
        self.to_rows, self.to_sequences = to_rows, to_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[:2]
        out = x
        for name, module in self.net.named_children():
            if name in self.to_rows:
                out = out.reshape(n * t, -1)
            elif name in self.to_sequences:
                out = out.reshape(n, t, -1)
            else:
                out = module(out)
        return out


@register_translation("nn.LSTM")
def lstm(t7, ctx):  # noqa: ANN001, ANN201
    module = LSTM(*ctx.ints("input_dim", "hidden_dim"))
    ctx.put("weight", ctx.tensor("weight"))
    ctx.put("bias", ctx.tensor("bias"))
    return module


def _entries(table) -> list:  # noqa: ANN001 - a Lua list read as a list, or {} as a dict
    return list(table.values()) if isinstance(table, dict) else list(table or [])


def _positions(net, views) -> set[str]:  # noqa: ANN001
    """The 1-based names, in `net`, of the View objects `views` (matched by identity)."""
    ids = {id(v) for v in views}
    return {str(i) for i, m in enumerate(net["modules"], start=1) if id(m) in ids}


@register_translation("nn.LanguageModel", inner=("net",))
def language_model(t7, ctx):  # noqa: ANN001, ANN201
    net = t7["net"]
    to_rows = _positions(net, [t7["view1"], *_entries(t7.get("bn_view_in"))])
    to_sequences = _positions(net, [t7["view2"], *_entries(t7.get("bn_view_out"))])
    return LanguageModel(ctx.submodule("net"), to_rows, to_sequences)
