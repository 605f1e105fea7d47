"""qassemoquab/stnbhwd (88e7a83), the spatial transformer in Torch7's BHWD layout (channels
last): AffineTransformMatrixGenerator, AffineGridGeneratorBHWD, BilinearSamplerBHWD
(MANIFEST-zoo3 §5.11).

Its grids hold (y, x) in that order, the reverse of PyTorch's affine_grid/grid_sample, and
its coordinates are corner-aligned (-1 and 1 are the centres of the border pixels): so the
sampler is grid_sample(align_corners=True) with the grid's two channels swapped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converter.generic.registry import register_translation


def _batched(x: torch.Tensor, sample_dims: int) -> tuple[torch.Tensor, bool]:
    """`x` with a batch dim, and whether one was added (stnbhwd takes one sample too)."""
    return (x.unsqueeze(0), True) if x.dim() == sample_dims else (x, False)


class AffineTransformMatrixGenerator(nn.Module):
    """B x P parameters -> B x 2 x 3 matrices: the first two rows of I·R(a)·S(s)·T(tx, ty)
    with only the enabled factors, their parameters in that order; with none enabled the
    input is the matrix (B x 6 viewed B x 2 x 3)."""

    def __init__(self, rotation: bool, scale: bool, translation: bool):
        super().__init__()
        self.rotation, self.scale, self.translation = rotation, scale, translation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params, single = _batched(x, 1)
        if not (self.rotation or self.scale or self.translation):
            out = params.reshape(-1, 2, 3)
            return out[0] if single else out
        eye = torch.eye(3, dtype=x.dtype, device=x.device)
        matrix = eye.expand(params.shape[0], 3, 3)
        column = iter(params.unbind(1))
        if self.rotation:
            a = next(column)
            factor = eye.repeat(params.shape[0], 1, 1)
            factor[:, 0, 0], factor[:, 0, 1] = torch.cos(a), -torch.sin(a)
            factor[:, 1, 0], factor[:, 1, 1] = torch.sin(a), torch.cos(a)
            matrix = torch.bmm(matrix, factor)
        if self.scale:
            s = next(column)
            factor = eye.repeat(params.shape[0], 1, 1)
            factor[:, 0, 0], factor[:, 1, 1] = s, s
            matrix = torch.bmm(matrix, factor)
        if self.translation:
            factor = eye.repeat(params.shape[0], 1, 1)
            factor[:, 0, 2], factor[:, 1, 2] = next(column), next(column)
            matrix = torch.bmm(matrix, factor)
        out = matrix[:, :2].contiguous()
        return out[0] if single else out

    def extra_repr(self) -> str:
        return f"rotation={self.rotation}, scale={self.scale}, translation={self.translation}"


class AffineGridGeneratorBHWD(nn.Module):
    """B x 2 x 3 matrices M -> B x H x W x 2 grids: grid[b, i, j] = M[b] · (y_i, x_j, 1), with
    y_i, x_j evenly spaced from -1 to 1 (computed in double, as the Lua code does)."""

    def __init__(self, height: int, width: int):
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        matrices, single = _batched(x, 2)
        h, w = self.height, self.width
        ys = (-1 + torch.arange(h, dtype=torch.float64) / (h - 1) * 2).to(x)
        xs = (-1 + torch.arange(w, dtype=torch.float64) / (w - 1) * 2).to(x)
        ones = torch.ones(h, w, dtype=x.dtype, device=x.device)
        base = torch.stack([ys[:, None].expand(h, w), xs[None, :].expand(h, w), ones], dim=-1)
        grid = torch.matmul(base.reshape(1, h * w, 3), matrices.transpose(1, 2))
        grid = grid.reshape(-1, h, w, 2)
        return grid[0] if single else grid

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}"


class BilinearSamplerBHWD(nn.Module):
    """{images B x H x W x C, grids B x oH x oW x 2 of (y, x)} -> B x oH x oW x C: bilinear
    samples, the neighbours outside the image counting as 0."""

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        images, grids = xs
        images, single = _batched(images, 3)
        grids = grids.unsqueeze(0) if single else grids
        out = F.grid_sample(
            images.permute(0, 3, 1, 2),
            grids.flip(-1),
            mode="bilinear",
            padding_mode="zeros",
            align_corners=True,
        ).permute(0, 2, 3, 1)
        out = out.contiguous()
        return out[0] if single else out


@register_translation("nn.AffineTransformMatrixGenerator")
def _matrix_generator(m, ctx):
    flags = (bool(m.get(f"use{name}", False)) for name in ("Rotation", "Scale", "Translation"))
    return AffineTransformMatrixGenerator(*flags)


@register_translation("nn.AffineGridGeneratorBHWD")
def _grid_generator(m, ctx):
    return AffineGridGeneratorBHWD(*ctx.ints("height", "width"))


@register_translation("nn.BilinearSamplerBHWD")
def _bilinear_sampler(m, ctx):
    return BilinearSamplerBHWD()
