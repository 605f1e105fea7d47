"""gmodule_unet.t7 as plain PyTorch, written by t7convert (irv2-torch7 0.1.0).

Source: gmodule_unet.t7
sha256: 56c292cae095e5ff0199e4cc210baaaa1b60fbc8a6772b11707513ff544b0cab
Input: float32 N x 3 x 16 x 16.
Weights: gmodule_unet_generated.safetensors beside this file, read by load(); state_dict keys
are the Torch7 module paths ("1.2.weight" is model:get(1):get(2).weight).

Needs torch and safetensors only. The classes below that are not torch's carry Torch7's
semantics where PyTorch's differ; they are irv2-torch7's own, copied.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn


class BatchNorm(nn.modules.batchnorm._BatchNorm):
    """nn.(Spatial|Volumetric)BatchNormalization: a batch of rank `n_dim`, or at evaluation one
    sample without its batch dim, as Torch7's makeBatch allows."""

    def __init__(self, n_dim: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_dim = n_dim

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() != self.n_dim:
            raise ValueError(
                f"Torch7 batch normalisation of {self.n_dim}D batches got a {x.dim()}D input"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self.n_dim - 1 and not self.training:
            return super().forward(x.unsqueeze(0)).squeeze(0)
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_dim={self.n_dim}"


class FullConvolution(nn.Module):
    """nn.SpatialFullConvolution / VolumetricFullConvolution (and cudnn's): a transposed
    convolution, output (in-1)·d - 2·pad + k + adj per dim.

    Like Torch7 it also takes a table {input, target}: then adj is computed from the target's
    trailing sizes, `(target + 2·pad - k) % d`, as nn's calculateAdj does.
    """

    def __init__(self, n_in, n_out, kernel, stride, padding, adj, bias: bool):
        super().__init__()
        self.kernel, self.stride, self.padding, self.adj = kernel, stride, padding, adj
        self.weight = nn.Parameter(torch.empty(n_in, n_out, *kernel))
        self.bias = nn.Parameter(torch.empty(n_out)) if bias else None

    def forward(self, x):
        adj = self.adj
        if isinstance(x, (list, tuple)):
            x, target = x
            size = target.shape[-len(self.kernel) :]
            adj = tuple(
                (t + 2 * p - k) % d
                for t, p, k, d in zip(size, self.padding, self.kernel, self.stride)
            )
        fn = F.conv_transpose2d if len(self.kernel) == 2 else F.conv_transpose3d
        return fn(x, self.weight, self.bias, self.stride, self.padding, adj)

    def extra_repr(self) -> str:
        return (
            f"{self.weight.shape[0]}, {self.weight.shape[1]}, kernel={self.kernel}, "
            f"stride={self.stride}, padding={self.padding}, adj={self.adj}, "
            f"bias={self.bias is not None}"
        )


def from_end(dimension: int, ndim: int) -> int:
    """`dimension` (1-based, negative = from the end: -1 is the last) as a 0-based dim."""
    return ndim + dimension if dimension < 0 else dimension - 1


def batch_shifted(dimension: int, n_input_dims: int | None, ndim: int) -> int:
    """`dimension` of a module with `nInputDims`, for an `ndim`-dimensional input (0-based)."""
    if dimension >= 0 and n_input_dims is not None and ndim == n_input_dims + 1:
        return dimension
    return from_end(dimension, ndim)


class JoinTable(nn.Module):
    """nn.JoinTable(dimension, nInputDims): with nInputDims, one extra leading dim is the batch."""

    def __init__(self, dimension: int, n_input_dims: int | None = None):
        super().__init__()
        self.dimension = dimension
        self.n_input_dims = n_input_dims

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, batch_shifted(self.dimension, self.n_input_dims, xs[0].dim()))

    def extra_repr(self) -> str:
        return f"dimension={self.dimension}, n_input_dims={self.n_input_dims}"


class Elementwise(nn.Module):
    """`torch.<op>` of the input, or its in-place form `Tensor.<op>_` for an in-place module."""

    def __init__(self, op: str, inplace: bool = False):
        super().__init__()
        self.op, self.inplace = op, inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(x, f"{self.op}_")() if self.inplace else getattr(torch, self.op)(x)

    def extra_repr(self) -> str:
        return f"op={self.op}, inplace={self.inplace}"


class Graph(nn.ModuleDict):
    """nngraph gModule at the root: its nodes in nngraph's order."""

    def forward(self, input):
        n7 = self["1"](input)
        n17 = self["2"](n7)
        n15 = self["3"](n17)
        n13 = self["4"](n15)
        n25 = self["5"](n13)
        n23 = self["6"](n25)
        n21 = self["7"](n23)
        n28 = self["8"](n21)
        n27 = self["9"](n28)
        n26 = self["10"](n27)
        n24 = self["11"](n26)
        n22 = self["12"](n24)
        n20 = self["13"](n22)
        n19 = self["14"]([n20, n21])
        n18 = self["15"](n19)
        n16 = self["16"](n18)
        n14 = self["17"](n16)
        n12 = self["18"](n14)
        n11 = self["19"]([n12, n13])
        n10 = self["20"](n11)
        n8 = self["21"](n10)
        n6 = self["22"](n8)
        n5 = self["23"]([n6, n7])
        n4 = self["24"](n5)
        n3 = self["25"](n4)
        n1 = self["26"](n3)
        return n1


def build() -> nn.Module:
    """The network with untrained weights (load() puts them in)."""
    return Graph(
        {
            "1": nn.Conv2d(3, 2, (4, 4), (2, 2), (1, 1), groups=1, bias=True),
            "2": nn.LeakyReLU(0.2, True),
            "3": nn.Conv2d(2, 4, (4, 4), (2, 2), (1, 1), groups=1, bias=True),
            "4": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
            "5": nn.LeakyReLU(0.2, True),
            "6": nn.Conv2d(4, 4, (4, 4), (2, 2), (1, 1), groups=1, bias=True),
            "7": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
            "8": nn.LeakyReLU(0.2, True),
            "9": nn.Conv2d(4, 4, (4, 4), (2, 2), (1, 1), groups=1, bias=True),
            "10": nn.ReLU(True),
            "11": FullConvolution(4, 4, (4, 4), (2, 2), (1, 1), (0, 0), True),
            "12": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
            "13": nn.Dropout(0.5),
            "14": JoinTable(2, None),
            "15": nn.ReLU(True),
            "16": FullConvolution(8, 4, (4, 4), (2, 2), (1, 1), (0, 0), True),
            "17": BatchNorm(4, 4, eps=1e-05, momentum=0.1, affine=True),
            "18": nn.Dropout(0.5),
            "19": JoinTable(2, None),
            "20": nn.ReLU(True),
            "21": FullConvolution(8, 2, (4, 4), (2, 2), (1, 1), (0, 0), True),
            "22": BatchNorm(4, 2, eps=1e-05, momentum=0.1, affine=True),
            "23": JoinTable(2, None),
            "24": nn.ReLU(True),
            "25": FullConvolution(4, 3, (4, 4), (2, 2), (1, 1), (0, 0), True),
            "26": Elementwise("tanh", False),
        },
    )


def load(path: str | Path | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The network with its weights from `path` (default: the .safetensors file beside this
    one, same name), on `device`, in eval mode."""
    path = Path(__file__).with_suffix(".safetensors") if path is None else Path(path)
    model = build()
    model.load_state_dict(load_file(path, device=str(device)), strict=True, assign=True)
    return model.to(device).eval()
