"""Is it an image classifier? One small batch through the model before any real image.

Every tool that feeds images to a model (irv2-eval, irv2-train, irv2-classify, irv2-features)
asks first, so that a Torch7 network of another kind (an MNIST MLP whose View(784) folds a
batch into other rows, a char-rnn graph that takes a table, an optical-flow net of 8 channels)
is refused in one line that says what it takes and returns, instead of "results" with exit 0
or a traceback from deep inside the network.
"""

from __future__ import annotations

import contextlib
import io

import torch
from torch import fx, nn

from converter.architecture import parameter_dtype
from converter.errors import UserError

PROBE_BATCH = 2  # the smallest batch in which "one row per image" can be seen
# the first layer with weights -> what the network reads, in words
FIRST_LAYERS = {
    nn.Conv2d: lambda m: f"{m.in_channels}-channel images",
    nn.Conv1d: lambda m: f"sequences of {m.in_channels}-value frames",
    nn.Conv3d: lambda m: f"volumes of {m.in_channels} channels",
    nn.Linear: lambda m: f"vectors of {m.in_features} values",
    nn.Embedding: lambda m: "token indices",
}


def check_image_classifier(network: nn.Module, crop_size: int, description: str) -> int:
    """The number of class scores `network` gives per image of 3 x crop_size x crop_size, after
    running it on a batch of PROBE_BATCH such images; anything else is one UserError."""
    takes = _takes(network)
    shape = (PROBE_BATCH, 3, crop_size, crop_size)
    batch = "x".join(map(str, shape))
    if takes.endswith("-channel images") and not takes.startswith("3-"):
        _refuse(description, f"{takes}, not 3-channel (RGB) ones")
    if takes.startswith("a table"):
        _refuse(description, f"{takes}, not one batch of images")
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(shape, generator=generator, dtype=parameter_dtype(network) or torch.float32)
    was_training = network.training
    _set_training(network, False)  # BatchNorm statistics must not learn from the probe
    try:
        # torch.fx prints a generated-code dump to stderr when a graph fails: not for the user
        with torch.inference_mode(), contextlib.redirect_stderr(io.StringIO()):
            out = network(x)
    except Exception as e:  # noqa: BLE001 - any failure of a foreign network on images
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        if takes == "3-channel images":
            raise UserError(
                f"{description}: the model cannot run on {crop_size}x{crop_size} crops "
                f"({first}); choose the preset with the image size it was trained on (--preset)"
            ) from None
        _refuse(description, f"{takes}; a {batch} batch of images fails in it ({first})")
    finally:
        _set_training(network, was_training)
    if not isinstance(out, torch.Tensor):
        returns = f"a {type(out).__name__} of {len(out)} outputs"
        _refuse(description, f"{takes}; for a {batch} batch it returns {returns}{_NOT_SCORES}")
    if out.dim() != 2 or out.shape[0] != PROBE_BATCH or not out.is_floating_point():
        returns = f"a {'x'.join(map(str, out.shape))} {str(out.dtype).removeprefix('torch.')}"
        _refuse(
            description, f"{takes}; for a {batch} batch it returns {returns} tensor{_NOT_SCORES}"
        )
    return int(out.shape[1])


_NOT_SCORES = ", not one row of class scores per image"


def _refuse(description: str, what: str) -> None:
    raise UserError(f"{description}: not an image classifier: it takes {what}")


def _takes(network: nn.Module) -> str:
    """What the network's first layer reads, in words."""
    if isinstance(network, fx.GraphModule):
        inputs = [n for n in network.graph.nodes if n.op == "placeholder"]
        if len(inputs) > 1:
            return f"a table of {len(inputs)} inputs"
    for module in network.modules():
        for kind, words in FIRST_LAYERS.items():
            if isinstance(module, kind):
                return words(module)
    return "inputs its first layers do not tell"


def _set_training(network: nn.Module, mode: bool) -> None:
    try:
        network.train(mode)
    except NotImplementedError:  # a torch.export program runs in the mode it was exported in
        pass
