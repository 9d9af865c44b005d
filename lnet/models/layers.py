"""Building blocks shared by the LandscapeNet variants.

- :func:`norm_layer`: batch / group / no normalisation, by name (``model.net.norm``).
- :func:`width_scaler`: one multiplier for every channel count (sweeps).
- :func:`check_box_stage`: the strided box sums must tile the lattice.
- :func:`dense_head`: dense layers down to one scalar.
- :class:`BoxConv`: a kernel = stride box convolution on channels-last input (a GEMM).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from lnet.errors import ConfigError


def norm_layer(kind: str, channels: int, dims: int, lattice_dim: int = 1) -> nn.Module:
    """Normalisation by name (``model.net.norm``): batch, group or none.

    ``dims = 1``: channels-first features ``(b, C, *lattice)`` with ``lattice_dim`` lattice
    axes (batch: BatchNorm1d/2d/3d; group: GroupNorm(1, C), per sample over C and the
    lattice); ``dims = 0``: channels-last vectors ``(b, C)`` (group: LayerNorm).
    """
    if kind == "batch":
        return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[lattice_dim](channels)
    if kind == "group":
        return nn.GroupNorm(1, channels) if dims == 1 else nn.LayerNorm(channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(
        "model.net.norm", f"unknown normalisation {kind!r}; allowed: batch, group, none"
    )


def width_scaler(width: float) -> Callable[[Sequence[int]], list[int]]:
    """Channel counts times ``width`` (rounded, at least 1): one knob for sweeps."""
    if not width > 0:
        raise ConfigError("model.net.width", f"must be > 0, got {width}")
    return lambda cs: [max(1, round(c * width)) for c in cs]


def check_box_stage(
    n: int, box_channels: Sequence[int], box_strides: Sequence[int], kernel_size: int
) -> None:
    """The box sums must tile the lattice, and local kernels must be odd."""
    if len(box_channels) != len(box_strides):
        raise ConfigError(
            "model.net.box_strides",
            f"needs one stride per box channel ({len(box_channels)}), got {list(box_strides)}",
        )
    reduction = math.prod(box_strides)
    if n % reduction:
        raise ConfigError(
            "model.net.n",
            f"lattice length n = {n} must be a multiple of prod(box_strides) = {reduction} "
            f"(box_strides = {list(box_strides)}); set data.n or model.net.box_strides",
        )
    if kernel_size % 2 == 0 or kernel_size < 1:
        raise ConfigError("model.net.kernel_size", f"must be odd and >= 1, got {kernel_size}")


def dense_head(c: int, widths: Sequence[int], norm: str, slope: float) -> nn.Sequential:
    """Dense c -> widths... -> 1, normalisation and LeakyReLU on the hidden layers only."""
    dense: list[nn.Module] = []
    for h in widths:
        dense += [nn.Linear(c, h), norm_layer(norm, h, 0), nn.LeakyReLU(slope)]
        c = h
    dense.append(nn.Linear(c, 1))
    return nn.Sequential(*dense)


class BoxConv(nn.Module):
    """Conv1d with kernel = stride = s on channels-last input, then normalisation.

    ``(P, L, C)`` -> ``(P, L / s, C_out)``: each box of s sites is flattened to s·C
    features and mapped by one linear layer (a GEMM).
    """

    def __init__(self, c_in: int, c_out: int, stride: int, norm: str):
        super().__init__()
        self.stride = stride
        self.linear = nn.Linear(stride * c_in, c_out)
        self.norm = norm_layer(norm, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        P, L, C = x.shape
        y = self.linear(x.reshape(P, L // self.stride, self.stride * C))
        if isinstance(self.norm, nn.BatchNorm1d):  # per channel over (pairs, boxes)
            return self.norm(y.reshape(-1, y.shape[-1])).view_as(y)
        return self.norm(y.transpose(1, 2)).transpose(1, 2)
