"""torch-rnn (jcjohnson/torch-rnn, as of 6e72b86): nn.LanguageModel, its nn.LSTM, nn.VanillaRNN
and nn.TemporalAdapter (MANIFEST-zoo3 §5.8). Every torch-rnn checkpoint's `model` is a
LanguageModel.

torch-rnn's nn.LSTM shares its class name with Element-Research rnn's nn.LSTM (different fields
and math): `is_torch_rnn_lstm` tells them apart by what the object holds. Its recurrent layers
are the fused classes of converter.generic.layers.rnn_fused, batch first (N x T x D), and
remember their last state when `remember_states` is set (a LanguageModel sets it on every
layer, so consecutive calls continue the text); `forget()` on the LanguageModel is torch-rnn's
resetStates().
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from converter.errors import T7FormatError
from converter.generic.layers.rnn_fused import (
    SeqLSTM,
    VanillaRNN,
    put_lstm,
    required_tensor,
)
from converter.generic.layers.rnn_steps import forget
from converter.generic.registry import ModuleContext, register_translation
from converter.torch7.objects import T7Object, T7Tensor


class SequenceNet(nn.ModuleDict):
    """torch-rnn's LanguageModel and TemporalAdapter: their `net` (a Sequential) run child by
    child on an N x T input, except the View children that the Lua code resizes before every
    forward: those named in `to_rows` become reshapes to (N·T) x -1, those in `to_sequences`
    to N x T x -1."""

    def __init__(self, net: nn.Module, to_rows: set[str], to_sequences: set[str]):
        super().__init__(OrderedDict([("net", net)]))
        self.to_rows, self.to_sequences = to_rows, to_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[:2]
        out = x
        for name, module in self["net"].named_children():
            if name in self.to_rows:
                out = out.reshape(n * t, -1)
            elif name in self.to_sequences:
                out = out.reshape(n, t, -1)
            else:
                out = module(out)
        return out

    def forget(self) -> None:
        """torch-rnn's resetStates(): every recurrent layer starts the next call from zeros."""
        forget(self)


def is_torch_rnn_lstm(t7: T7Object) -> bool:
    """Whether an nn.LSTM object is torch-rnn's (input_dim, hidden_dim, one fused weight) rather
    than Element-Research rnn's (inputSize, outputSize, a gate module per gate)."""
    return all(k in t7 for k in ("input_dim", "hidden_dim")) and isinstance(
        t7.get("weight"), T7Tensor
    )


def _remember(t7: T7Object) -> str:
    return "both" if t7.get("remember_states") is True else "neither"


def build_torch_rnn_lstm(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    """torch-rnn's nn.LSTM(D, H): weight (D+H) x 4H, gates i, f, o, g, batch first."""
    d, h = ctx.ints("input_dim", "hidden_dim")
    put_lstm(ctx, d, h)
    return SeqLSTM(d, h, batch_first=True, remember=_remember(t7), forgets_on_mode_change=False)


# Both libraries write "nn.LSTM": one registration (converter.generic.layers.rnn_recurrent)
# picks this builder or rnn's by is_torch_rnn_lstm.


@register_translation("nn.VanillaRNN")
def _vanilla_rnn(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    d, h = ctx.ints("input_dim", "hidden_dim")
    weight = torch.from_numpy(required_tensor(ctx, "weight"))
    bias = torch.from_numpy(required_tensor(ctx, "bias"))
    ctx.put("weight_ih_l0", weight[:d].T.contiguous())
    ctx.put("weight_hh_l0", weight[d:].T.contiguous())
    ctx.put("bias_ih_l0", bias)
    ctx.put("bias_hh_l0", torch.zeros_like(bias))
    return VanillaRNN(d, h, remember=_remember(t7))


def _entries(table: Any) -> list:
    """A Lua list read as a list, or an empty one read as a dict."""
    return list(table.values()) if isinstance(table, dict) else list(table or [])


def _positions(ctx: ModuleContext, views: list[Any]) -> set[str]:
    """The 1-based names, in `net`, of the View objects `views` (matched by identity)."""
    net = ctx.field("net")
    ids = {id(v) for v in views}
    found = {str(i) for i, m in enumerate(net["modules"], start=1) if id(m) in ids}
    if len(found) != len(ids):
        raise T7FormatError(f"{ctx.where}: its views are not all children of its net")
    return found


def _sequence_net(ctx: ModuleContext, rows: list[Any], sequences: list[Any]) -> nn.Module:
    return SequenceNet(ctx.submodule("net"), _positions(ctx, rows), _positions(ctx, sequences))


@register_translation("nn.LanguageModel", inner=("net",))
def _language_model(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    rows = [ctx.field("view1"), *_entries(t7.get("bn_view_in"))]
    return _sequence_net(ctx, rows, [ctx.field("view2"), *_entries(t7.get("bn_view_out"))])


@register_translation("nn.TemporalAdapter", inner=("net",))
def _temporal_adapter(t7: T7Object, ctx: ModuleContext) -> nn.Module:
    return _sequence_net(ctx, [ctx.field("view_in")], [ctx.field("view_out")])
