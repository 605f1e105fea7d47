"""Inception-ResNet-v2 exactly as lim0606's fb.resnet.torch fork built (and trained) it.

Differences from the paper are the authors' own (FACTS §2): Inception-ResNet-B projects back to
1152 channels (the paper's 1154 is a typo) and Reduction-B uses 256-wide 3x3s so the output is
2048. Every convolution has no bias and is followed by BatchNorm (eps 1e-5) and, except the
residual projection, ReLU. The residual branch is scaled by 0.1 before the addition.

Names follow timm's convention (`branch0`, `branch1`, ... in each block) so the state_dict keys
read like the figure. `IRV2Config.width_divisor` divides every channel count (8 gives the
Torch7-written `tiny` test model).
"""

from __future__ import annotations

import contextvars
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import torch
from torch import nn

from converter.generic.registry import give, tensor_problems, uninitialised

# Channel divisors every layer of the network allows (the tiny test model is width/8).
WIDTH_DIVISORS = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class IRV2Config:
    """Shape of the network; stored in converted files so they can be rebuilt without guessing."""

    num_classes: int = 1000
    width_divisor: int = 1
    blocks_a: int = 5
    blocks_b: int = 10
    blocks_c: int = 5
    residual_scale: float = 0.1
    dropout: float = 0.2
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    in_chans: int = 3

    def width(self, channels: int) -> int:
        if channels % self.width_divisor:
            raise ValueError(f"{channels} channels are not divisible by {self.width_divisor}")
        return channels // self.width_divisor

    def to_dict(self) -> dict:
        return asdict(self)


class ConvBN(nn.Module):
    """conv (no bias) -> BatchNorm -> optional ReLU: one Torch7 `nn.Sequential` trio.

    `kernel`, `stride` and `padding` are (height, width), PyTorch's order; Torch7 prints kW x kH.
    """

    def __init__(
        self,
        cfg: IRV2Config,
        in_ch: int,
        out_ch: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
        relu: bool = True,
    ):
        super().__init__()
        self.conv = _layer(
            nn.Conv2d, in_ch, out_ch, kernel, stride=stride, padding=padding, bias=False
        )
        self.bn = _layer(nn.BatchNorm2d, out_ch, eps=cfg.bn_eps, momentum=cfg.bn_momentum)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


# set while `skeleton` builds: layers are made without their random initialisation (a context
# variable, so a network built meanwhile on another thread is initialised as usual)
_SKELETON: contextvars.ContextVar[bool] = contextvars.ContextVar("irv2_skeleton", default=False)

M = TypeVar("M", bound=nn.Module)


def _layer(cls: type[M], *args: Any, **kwargs: Any) -> M:
    return uninitialised(cls, *args, **kwargs) if _SKELETON.get() else cls(*args, **kwargs)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride=2)  # floor mode, no padding, as in the seed


class Mixed3a(nn.Module):
    """Stem split 1: max-pool | conv 3x3 s2 -> 64+96 = 160 channels at 73x73."""

    def __init__(self, cfg: IRV2Config):
        super().__init__()
        w = cfg.width
        self.branch0 = _pool()
        self.branch1 = ConvBN(cfg, w(64), w(96), 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x)], 1)


class Mixed4a(nn.Module):
    """Stem split 2: two conv towers, one with the 1x7 / 7x1 factorisation -> 192 at 71x71."""

    def __init__(self, cfg: IRV2Config):
        super().__init__()
        w = cfg.width
        self.branch0 = nn.Sequential(
            ConvBN(cfg, w(160), w(64), 1),
            ConvBN(cfg, w(64), w(96), 3),
        )
        self.branch1 = nn.Sequential(
            ConvBN(cfg, w(160), w(64), 1),
            ConvBN(cfg, w(64), w(64), (1, 7), padding=(0, 3)),
            ConvBN(cfg, w(64), w(64), (7, 1), padding=(3, 0)),
            ConvBN(cfg, w(64), w(96), 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x)], 1)


class Mixed5a(nn.Module):
    """Stem split 3: conv 3x3 s2 | max-pool (conv FIRST here) -> 384 at 35x35."""

    def __init__(self, cfg: IRV2Config):
        super().__init__()
        w = cfg.width
        self.branch0 = ConvBN(cfg, w(192), w(192), 3, stride=2)
        self.branch1 = _pool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x)], 1)


class Stem(nn.Module):
    """299x299x3 -> 35x35x384."""

    def __init__(self, cfg: IRV2Config):
        super().__init__()
        w = cfg.width
        self.conv1 = ConvBN(cfg, cfg.in_chans, w(32), 3, stride=2)
        self.conv2 = ConvBN(cfg, w(32), w(32), 3)
        self.conv3 = ConvBN(cfg, w(32), w(64), 3, padding=1)
        self.mixed_3a = Mixed3a(cfg)
        self.mixed_4a = Mixed4a(cfg)
        self.mixed_5a = Mixed5a(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3(self.conv2(self.conv1(x)))
        return self.mixed_5a(self.mixed_4a(self.mixed_3a(x)))


class ResidualBlock(nn.Module):
    """relu(x + scale * project(cat(branches(x)))): the shared Inception-ResNet wrapper."""

    def __init__(self, cfg: IRV2Config, branches: list[nn.Module], cat_ch: int, out_ch: int):
        super().__init__()
        for i, branch in enumerate(branches):
            self.add_module(f"branch{i}", branch)
        self.n_branches = len(branches)
        self.project = ConvBN(cfg, cat_ch, out_ch, 1, relu=False)
        self.scale = cfg.residual_scale
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [getattr(self, f"branch{i}")(x) for i in range(self.n_branches)]
        return self.relu(x + self.project(torch.cat(branches, 1)) * self.scale)


class InceptionResNetA(ResidualBlock):
    """35x35x384 residual block: 1x1 | 1x1,3x3 | 1x1,3x3,3x3 -> 128 -> 1x1 384."""

    def __init__(self, cfg: IRV2Config):
        w = cfg.width
        branches = [
            ConvBN(cfg, w(384), w(32), 1),
            nn.Sequential(ConvBN(cfg, w(384), w(32), 1), ConvBN(cfg, w(32), w(32), 3, padding=1)),
            nn.Sequential(
                ConvBN(cfg, w(384), w(32), 1),
                ConvBN(cfg, w(32), w(48), 3, padding=1),
                ConvBN(cfg, w(48), w(64), 3, padding=1),
            ),
        ]
        super().__init__(cfg, branches, w(128), w(384))


class InceptionResNetB(ResidualBlock):
    """17x17x1152 residual block: 1x1 | 1x1,7x1,1x7 -> 384 -> 1x1 1152."""

    def __init__(self, cfg: IRV2Config):
        w = cfg.width
        branches = [
            ConvBN(cfg, w(1152), w(192), 1),
            nn.Sequential(
                ConvBN(cfg, w(1152), w(128), 1),
                ConvBN(cfg, w(128), w(160), (7, 1), padding=(3, 0)),
                ConvBN(cfg, w(160), w(192), (1, 7), padding=(0, 3)),
            ),
        ]
        super().__init__(cfg, branches, w(384), w(1152))


class InceptionResNetC(ResidualBlock):
    """8x8x2048 residual block: 1x1 | 1x1,3x1,1x3 -> 448 -> 1x1 2048."""

    def __init__(self, cfg: IRV2Config):
        w = cfg.width
        branches = [
            ConvBN(cfg, w(2048), w(192), 1),
            nn.Sequential(
                ConvBN(cfg, w(2048), w(192), 1),
                ConvBN(cfg, w(192), w(224), (3, 1), padding=(1, 0)),
                ConvBN(cfg, w(224), w(256), (1, 3), padding=(0, 1)),
            ),
        ]
        super().__init__(cfg, branches, w(448), w(2048))


class ReductionA(nn.Module):
    """35x35x384 -> 17x17x1152: max-pool | 3x3 s2 | 1x1,3x3,3x3 s2."""

    def __init__(self, cfg: IRV2Config):
        super().__init__()
        w = cfg.width
        self.branch0 = _pool()
        self.branch1 = ConvBN(cfg, w(384), w(384), 3, stride=2)
        self.branch2 = nn.Sequential(
            ConvBN(cfg, w(384), w(256), 1),
            ConvBN(cfg, w(256), w(256), 3, padding=1),
            ConvBN(cfg, w(256), w(384), 3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class ReductionB(nn.Module):
    """17x17x1152 -> 8x8x2048: max-pool | 1x1,3x3 s2 | 1x1,3x3 s2 | 1x1,3x3,3x3 s2."""

    def __init__(self, cfg: IRV2Config):
        super().__init__()
        w = cfg.width
        self.branch0 = _pool()
        self.branch1 = nn.Sequential(
            ConvBN(cfg, w(1152), w(256), 1), ConvBN(cfg, w(256), w(384), 3, stride=2)
        )
        self.branch2 = nn.Sequential(
            ConvBN(cfg, w(1152), w(256), 1), ConvBN(cfg, w(256), w(256), 3, stride=2)
        )
        self.branch3 = nn.Sequential(
            ConvBN(cfg, w(1152), w(256), 1),
            ConvBN(cfg, w(256), w(256), 3, padding=1),
            ConvBN(cfg, w(256), w(256), 3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)]
        return torch.cat(branches, 1)


class InceptionResNetV2(nn.Module):
    """The whole network: stem, 5xA, Reduction-A, 10xB, Reduction-B, 5xC, pool, dropout, fc."""

    def __init__(self, cfg: IRV2Config | None = None):
        super().__init__()
        self.cfg = cfg = cfg or IRV2Config()
        self.num_classes = cfg.num_classes
        self.num_features = cfg.width(2048)
        self.stem = Stem(cfg)
        self.blocks_a = nn.Sequential(*[InceptionResNetA(cfg) for _ in range(cfg.blocks_a)])
        self.reduction_a = ReductionA(cfg)
        self.blocks_b = nn.Sequential(*[InceptionResNetB(cfg) for _ in range(cfg.blocks_b)])
        self.reduction_b = ReductionB(cfg)
        self.blocks_c = nn.Sequential(*[InceptionResNetC(cfg) for _ in range(cfg.blocks_c)])
        self.global_pool = nn.AvgPool2d(8, stride=1)  # Torch's SpatialAveragePooling(8,8,1,1)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = _layer(nn.Linear, self.num_features, cfg.num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks_a(self.stem(x))
        x = self.blocks_b(self.reduction_a(x))
        return self.blocks_c(self.reduction_b(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        x = self.global_pool(x).flatten(1)  # nn.View(2048): 2048x1x1 -> 2048
        return self.fc(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh `fc` for fine-tuning on `num_classes` classes (weights re-initialised)."""
        self.num_classes = num_classes
        self.cfg = IRV2Config(**{**self.cfg.to_dict(), "num_classes": num_classes})
        self.fc = nn.Linear(self.num_features, num_classes).to(self.fc.weight.device)


def skeleton(cfg: IRV2Config) -> InceptionResNetV2:
    """The network's structure on the meta device: shapes and geometry, no memory, and none of
    the random initialisation that the weights read from a file would overwrite (on the meta
    device that still costs a Python decomposition per tensor)."""
    token = _SKELETON.set(True)
    try:
        with torch.device("meta"):
            return InceptionResNetV2(cfg)
    finally:
        _SKELETON.reset(token)


def with_weights(
    cfg: IRV2Config, state: dict[str, torch.Tensor], model: InceptionResNetV2 | None = None
) -> InceptionResNetV2:
    """The network holding `state`'s tensors themselves (no copy): `model`, a `skeleton(cfg)`
    whose tensors are still on the meta device, or a new one. Initialising 56 M parameters
    only to overwrite them cost more than reading the file."""
    model = skeleton(cfg) if model is None else model
    assign_state(model, state)
    return model


def assign_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """`model.load_state_dict(state, assign=True)`: after checking that the keys and shapes
    are the model's own, each tensor is given to its module directly, in one walk of the
    network, without load_state_dict's call per module (a tenth of a full load). A mismatch raises
    RuntimeError, as load_state_dict does."""
    modules = dict(model.named_modules(remove_duplicate=False))  # a shared module: every path
    own = {  # every parameter and buffer, so none can stay on the meta device unnoticed
        f"{path}.{name}" if path else name: t
        for path, m in modules.items()
        for name, t in [*m._parameters.items(), *m._buffers.items()]
        if t is not None
    }
    problems = tensor_problems(own, state)
    if problems:
        raise RuntimeError(f"{type(model).__name__}: {problems[0]}")
    for key, tensor in state.items():
        path, _, name = key.rpartition(".")
        give(modules[path], name, tensor)
