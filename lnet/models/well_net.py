"""WellNet: the k lowest eigenvalues as the k lowest wells of a learned energy map.

Shapes: V, W ``(b, n)`` -> eigenvalues ``(b, k)``, positive and ascending.

The landscape law says each low eigenvalue sits in its own well of W, at an energy
close to the well's depth.  WellNet builds that structure in and learns the rest:

1. Energy map e(x) = s · softplus(f(x)) / ln 2 > 0, where f is a stride-1 stack of
   circular convolutions (BatchNorm, ReLU) on the standardised input field(s) and a
   final 1x1 convolution; s is the training mean of the k eigenvalues.
2. Wells: sites x with e(x) < e(y) for x - r <= y < x and e(x) <= e(y) for
   x < y <= x + r (periodic, r = ``well_radius``): local minima over 2r + 1 sites,
   a flat minimum counted once (at its leftmost site).
3. λ_j = exp(a_j) · (j-th smallest well value), j = 1..k, with one learned log-scale
   a_j per level (initialised at 0); the result is sorted ascending.  When the map has
   fewer than k wells, the remaining levels take the lowest non-well sites, so the
   output is always finite.

The input is ``V``, ``W`` or ``VW`` as for :class:`~lnet.models.EigenNet`, and the
architecture is identical across inputs, which makes it a V-vs-W comparison.  The net
is translation-equivariant, so its output is invariant under any periodic shift of
the potential, as the spectrum is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lnet.errors import ConfigError
from lnet.models.eigen_net import INPUTS
from lnet.models.features import Normalizer
from lnet.models.protocol import EIGENVALUES, LnetModel


class WellNet(LnetModel):
    task = EIGENVALUES

    def __init__(
        self,
        n: int = 1000,
        k: int = 20,
        input: str = "W",
        channels: Sequence[int] = (16, 32, 32),
        kernel_size: int = 9,
        well_radius: int = 4,
    ) -> None:
        super().__init__()
        if input not in INPUTS:
            raise ConfigError("model.net.input", f"must be one of {list(INPUTS)}, got {input!r}")
        if len(channels) < 1:
            raise ConfigError("model.net.channels", "needs at least one convolution")
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise ConfigError("model.net.kernel_size", f"must be odd and >= 1, got {kernel_size}")
        if well_radius < 0 or 2 * well_radius + 1 > n:
            raise ConfigError(
                "model.net.well_radius", f"must be in [0, (n - 1) / 2], got {well_radius}"
            )
        if not 1 <= k <= n:
            raise ConfigError("model.net.k", f"must be in [1, n = {n}], got {k}")
        self.n, self.k, self.fields = int(n), int(k), INPUTS[input]
        self.radius = int(well_radius)
        self.normalizer = Normalizer()
        layers: list[nn.Module] = []
        c = len(self.fields)
        for c_out in channels:
            layers += [
                nn.Conv1d(c, c_out, kernel_size, padding=kernel_size // 2, padding_mode="circular"),
                nn.BatchNorm1d(c_out),
                nn.ReLU(),
            ]
            c = c_out
        layers.append(nn.Conv1d(c, 1, 1))
        self.energy_map = nn.Sequential(*layers)
        self.log_scale = nn.Parameter(torch.zeros(k))
        self.register_buffer("output_scale", torch.ones(()))

    def set_stats(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        self.normalizer.set_stats(stats)
        if "eigenvalues" in stats:
            mean = torch.as_tensor(stats["eigenvalues"]["mean"])
            if mean.numel() != self.k:
                raise ConfigError(
                    "model.net.k", f"is {self.k} but the data has {mean.numel()} eigenvalues"
                )
            self.output_scale.fill_(max(float(mean.mean()), 1e-12))

    def energies(self, V: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """The learned energy map e(x) > 0, shape ``(b, n)``."""
        dtype = self.log_scale.dtype
        fields = {"V": V.to(dtype), "W": W.to(dtype)}
        x = torch.stack([self.normalizer.z(f, fields[f]) for f in self.fields], dim=1)
        return F.softplus(self.energy_map(x)[:, 0]) / math.log(2.0) * self.output_scale

    def forward(self, V: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        e = self.energies(V, W)
        r = self.radius
        if r:
            windows = F.pad(e[:, None], (r, r), mode="circular")[:, 0].unfold(1, 2 * r + 1, 1)
            left, right = windows[..., :r].amin(-1), windows[..., r + 1 :].amin(-1)
            is_well = (e < left) & (e <= right)  # ties: the leftmost site of a flat minimum
        else:
            is_well = torch.ones_like(e, dtype=torch.bool)
        # wells rank first; non-wells after every well, in their own order
        rank_key = torch.where(is_well, e, e + (e.max().detach() + 1.0))
        idx = torch.topk(rank_key, self.k, dim=1, largest=False, sorted=True).indices
        lowest = torch.gather(e, 1, idx)
        return torch.sort(lowest * torch.exp(self.log_scale), dim=1).values
