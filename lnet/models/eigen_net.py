"""EigenNet: the V-vs-W baseline of the slides, potential -> its k lowest eigenvalues.

Shapes: 1-D (``shape=None``, the periodic chain of n sites): V, W ``(b, n)`` ->
eigenvalues ``(b, k)``; 2-D (``shape=[L1, L2]``, the periodic L1 × L2 lattice, n = L1·L2):
V, W ``(b, L1, L2)`` -> ``(b, k)``. The eigenvalues are positive.

Input channels ``V``, ``W`` or ``VW`` (both), standardised on the training split;
4 strided convolutions (circular padding, BatchNorm, ReLU), then 3 dense layers.
In 2-D the convolutions are Conv2d with square K × K kernels and the same stride s on
both axes.  Each convolution (padding p = ⌊K/2⌋) maps a side of L sites to
⌊(L + 2p - K) / s⌋ + 1 sites (per axis in 2-D); the dense head takes the flattened
output.
The output is λ_j = mean_j · softplus(z_j) / ln 2 (so z = 0 predicts the training
mean of λ_j), positive as eigenvalues of H with V >= 0, V ≢ 0 are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lnet.errors import ConfigError
from lnet.models.features import Normalizer
from lnet.models.protocol import EIGENVALUES, LnetModel

INPUTS = {"V": ("V",), "W": ("W",), "VW": ("V", "W")}


def lattice_shape(shape: Sequence[int] | None) -> tuple[int, int] | None:
    """``model.net.shape`` checked: None (1-D) or ``(L1, L2)``, integers L1, L2 >= 2 (2-D)."""
    if shape is None:
        return None
    sides = list(shape) if isinstance(shape, Sequence) and not isinstance(shape, str) else []
    if len(sides) != 2 or not all(
        isinstance(L, int) and not isinstance(L, bool) and L >= 2 for L in sides
    ):
        raise ConfigError(
            "model.net.shape", f"must be null (1-D) or [L1, L2], integers >= 2, got {shape!r}"
        )
    return int(sides[0]), int(sides[1])


class EigenNet(LnetModel):
    """Potential -> its k lowest eigenvalues (module docstring).

    ``n``: sites of the 1-D chain (ignored in 2-D, where n = L1·L2); ``shape``: None for
    the 1-D chain, ``[L1, L2]`` for the periodic 2-D lattice (then ``dim = 2``).
    """

    task = EIGENVALUES
    dim: int = 1  # an instance built with shape=[L1, L2] has dim = 2

    def __init__(
        self,
        n: int = 1000,
        k: int = 20,
        input: str = "W",
        channels: Sequence[int] = (16, 32, 64, 64),
        kernel_size: int = 8,
        stride: int = 4,
        hidden: Sequence[int] = (128, 64),
        shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.shape = lattice_shape(shape)
        if self.shape is not None:
            self.dim = 2
            n = self.shape[0] * self.shape[1]
        if input not in INPUTS:
            raise ConfigError("model.net.input", f"must be one of {list(INPUTS)}, got {input!r}")
        if len(channels) < 1 or len(hidden) < 1:
            raise ConfigError("model.net.channels", "needs at least one conv and one hidden layer")
        self.n, self.k, self.fields = int(n), int(k), INPUTS[input]
        self.normalizer = Normalizer()
        two_d = self.shape is not None
        conv, norm = (nn.Conv2d, nn.BatchNorm2d) if two_d else (nn.Conv1d, nn.BatchNorm1d)
        lattice = f"shape = {self.shape[0]} × {self.shape[1]}" if two_d else f"n = {n}"
        layers: list[nn.Module] = []
        c, sides = len(self.fields), list(self.shape) if two_d else [int(n)]
        for c_out in channels:
            pad = kernel_size // 2
            if two_d and pad > min(sides):  # circular padding wraps around at most once
                raise ConfigError(
                    "model.net.channels",
                    f"{lattice} is too small for {len(channels)} strided convs of kernel "
                    f"{kernel_size}: a side of {min(sides)} sites cannot be padded by {pad}",
                )
            layers += [
                conv(c, c_out, kernel_size, stride=stride, padding=pad, padding_mode="circular"),
                norm(c_out),
                nn.ReLU(),
            ]
            sides = [(L + 2 * pad - kernel_size) // stride + 1 for L in sides]
            c = c_out
            if min(sides) < 1:
                too = "too small" if two_d else "too short"
                raise ConfigError(
                    "model.net.channels", f"{lattice} is {too} for {len(channels)} strided convs"
                )
        self.features = nn.Sequential(*layers)
        dense: list[nn.Module] = []
        width = c * math.prod(sides)
        for h in hidden:
            dense += [nn.Linear(width, h), nn.ReLU()]
            width = h
        dense.append(nn.Linear(width, k))
        self.head = nn.Sequential(*dense)
        self.register_buffer("output_scale", torch.ones(k))

    def set_stats(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        self.normalizer.set_stats(stats)
        if "eigenvalues" in stats:
            mean = torch.as_tensor(stats["eigenvalues"]["mean"], dtype=self.output_scale.dtype)
            if mean.numel() != self.k:
                raise ConfigError(
                    "model.net.k", f"is {self.k} but the data has {mean.numel()} eigenvalues"
                )
            self.output_scale.copy_(mean.clamp_min(1e-12))

    def forward(self, V: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """V, W ``(b, n)`` (2-D: ``(b, L1, L2)``) -> the k lowest eigenvalues ``(b, k)``."""
        dtype = self.head[-1].weight.dtype
        fields = {"V": V.to(dtype), "W": W.to(dtype)}
        x = torch.stack([self.normalizer.z(f, fields[f]) for f in self.fields], dim=1)
        z = self.head(self.features(x).flatten(1))
        return F.softplus(z) / math.log(2.0) * self.output_scale


class EigenNet2D(EigenNet):
    """:class:`EigenNet` on the periodic L1 × L2 lattice: ``EigenNet(shape=[L1, L2], ...)``.

    V, W ``(b, L1, L2)`` -> ``(b, k)``.  The same net; a class of its own so that its
    config (``conf/model/eigen_net_2d.yaml``) and run names say ``eigen_net_2d``, with
    2-D defaults (32 × 32: 32 -> 16 -> 8 -> 4 -> 2 sites per axis after the four convs,
    103,028 trainable parameters at k = 20, about the 1-D EigenNet's 104,548).
    """

    dim = 2

    def __init__(
        self,
        shape: Sequence[int] = (32, 32),
        k: int = 20,
        input: str = "W",
        channels: Sequence[int] = (16, 32, 64, 64),
        kernel_size: int = 3,
        stride: int = 2,
        hidden: Sequence[int] = (128, 64),
    ) -> None:
        if shape is None:
            raise ConfigError("model.net.shape", "EigenNet2D is 2-D: must be [L1, L2], got None")
        super().__init__(
            k=k,
            input=input,
            channels=channels,
            kernel_size=kernel_size,
            stride=stride,
            hidden=hidden,
            shape=shape,
        )

    @classmethod
    def config_name(cls) -> str:
        return "eigen_net_2d"
