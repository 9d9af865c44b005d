"""EigenNet: the V-vs-W baseline of the slides, potential -> its k lowest eigenvalues.

Shapes: V, W ``(b, n)`` -> eigenvalues ``(b, k)``, positive.

Input channels ``V``, ``W`` or ``VW`` (both), standardised on the training split;
4 strided convolutions (circular padding, BatchNorm, ReLU), then 3 dense layers.
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


class EigenNet(LnetModel):
    task = EIGENVALUES

    def __init__(
        self,
        n: int = 1000,
        k: int = 20,
        input: str = "W",
        channels: Sequence[int] = (16, 32, 64, 64),
        kernel_size: int = 8,
        stride: int = 4,
        hidden: Sequence[int] = (128, 64),
    ) -> None:
        super().__init__()
        if input not in INPUTS:
            raise ConfigError("model.net.input", f"must be one of {list(INPUTS)}, got {input!r}")
        if len(channels) < 1 or len(hidden) < 1:
            raise ConfigError("model.net.channels", "needs at least one conv and one hidden layer")
        self.n, self.k, self.fields = int(n), int(k), INPUTS[input]
        self.normalizer = Normalizer()
        layers: list[nn.Module] = []
        c, length = len(self.fields), int(n)
        for c_out in channels:
            pad = kernel_size // 2
            layers += [
                nn.Conv1d(
                    c, c_out, kernel_size, stride=stride, padding=pad, padding_mode="circular"
                ),
                nn.BatchNorm1d(c_out),
                nn.ReLU(),
            ]
            length = (length + 2 * pad - kernel_size) // stride + 1
            c = c_out
            if length < 1:
                raise ConfigError(
                    "model.net.channels", f"n = {n} is too short for {len(channels)} strided convs"
                )
        self.features = nn.Sequential(*layers)
        dense: list[nn.Module] = []
        width = c * length
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
        dtype = self.head[-1].weight.dtype
        fields = {"V": V.to(dtype), "W": W.to(dtype)}
        x = torch.stack([self.normalizer.z(f, fields[f]) for f in self.fields], dim=1)
        z = self.head(self.features(x).flatten(1))
        return F.softplus(z) / math.log(2.0) * self.output_scale
