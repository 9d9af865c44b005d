"""WellNet: the k lowest eigenvalues as the k lowest wells of a learned energy map.

Shapes: 1-D (``shape=None``, the periodic chain of n sites): V, W ``(b, n)`` ->
eigenvalues ``(b, k)``; 2-D (``shape=[L1, L2]``, the periodic L1 × L2 lattice, n = L1·L2):
V, W ``(b, L1, L2)`` -> ``(b, k)``. The eigenvalues are positive and ascending.

The landscape law says each low eigenvalue sits in its own well of W, at an energy
close to the well's depth.  WellNet builds that structure in and learns the rest:

1. Energy map e(x) = s · softplus(f(x)) / ln 2 > 0, where f is a stride-1 stack of
   circular convolutions (BatchNorm, ReLU) on the standardised input field(s) and a
   final 1x1 convolution; s is the training mean of the k eigenvalues.
2. Wells: sites x with e(x) < e(y) for x - r <= y < x and e(x) <= e(y) for
   x < y <= x + r (periodic, r = ``well_radius``): local minima over 2r + 1 sites,
   a flat minimum counted once (at its leftmost site).  In 2-D (Conv2d, K × K kernels):
   sites x with e(x) < e(x + d) for every offset d = (dy, dx) of the periodic
   (2r + 1) × (2r + 1) window that comes before (0, 0) in raster order (dy < 0, or
   dy = 0 and dx < 0) and e(x) <= e(x + d) for every later one: a flat minimum is
   counted once, at its first site in raster order (:func:`well_mask_2d`).
3. λ_j = exp(a_j) · (j-th smallest well value), j = 1..k, with one learned log-scale
   a_j per level (initialised at 0); the result is sorted ascending.  When the map has
   fewer than k wells, the remaining levels take the lowest non-well sites, so the
   output is always finite.

The input is ``V``, ``W`` or ``VW`` as for :class:`~lnet.models.EigenNet`, and the
architecture is identical across inputs, which makes it a V-vs-W comparison.  The net
is translation-equivariant, so its output is invariant under any periodic shift of
the potential (in 2-D: any torus translation), as the spectrum is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lnet.errors import ConfigError
from lnet.models.eigen_net import INPUTS, lattice_shape
from lnet.models.features import Normalizer
from lnet.models.protocol import EIGENVALUES, LnetModel


def well_mask_1d(e: torch.Tensor, radius: int) -> torch.Tensor:
    """Wells of a periodic 1-D map: e ``(b, n)`` -> bool ``(b, n)``.

    x is a well iff e(x) < e(y) for x - r <= y < x and e(x) <= e(y) for x < y <= x + r
    (indices mod n, r = ``radius``, 2r + 1 <= n); r = 0: every site.
    """
    r = radius
    if not r:
        return torch.ones_like(e, dtype=torch.bool)
    windows = F.pad(e[:, None], (r, r), mode="circular")[:, 0].unfold(1, 2 * r + 1, 1)
    left, right = windows[..., :r].amin(-1), windows[..., r + 1 :].amin(-1)
    return (e < left) & (e <= right)  # ties: the leftmost site of a flat minimum


def well_mask_2d(e: torch.Tensor, radius: int) -> torch.Tensor:
    """Wells of a periodic 2-D map: e ``(b, L1, L2)`` -> bool ``(b, L1, L2)``.

    x is a well iff, over the offsets d = (dy, dx) ∈ [-r, r]², d ≠ (0, 0) (indices mod
    L1, L2; 2r + 1 <= min(L1, L2), so each neighbour appears once), e(x) < e(x + d) for
    every d before (0, 0) in raster order (dy < 0, or dy = 0 and dx < 0) and
    e(x) <= e(x + d) for every d after it.  A flat minimum is thus counted once, at its
    first site in raster order (the 1-D rule's leftmost site); r = 0: every site.
    """
    r = radius
    is_well = torch.ones_like(e, dtype=torch.bool)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if (dy, dx) == (0, 0):
                continue
            neighbour = torch.roll(e, shifts=(-dy, -dx), dims=(-2, -1))  # e(x + d)
            is_well &= e < neighbour if (dy, dx) < (0, 0) else e <= neighbour
    return is_well


class WellNet(LnetModel):
    """The k lowest wells of a learned energy map (module docstring).

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
        channels: Sequence[int] = (16, 32, 32),
        kernel_size: int = 9,
        well_radius: int = 4,
        shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.shape = lattice_shape(shape)
        if self.shape is not None:
            self.dim = 2
            n = self.shape[0] * self.shape[1]
        if input not in INPUTS:
            raise ConfigError("model.net.input", f"must be one of {list(INPUTS)}, got {input!r}")
        if len(channels) < 1:
            raise ConfigError("model.net.channels", "needs at least one convolution")
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise ConfigError("model.net.kernel_size", f"must be odd and >= 1, got {kernel_size}")
        if self.shape is not None:
            side = min(self.shape)
            if kernel_size // 2 > side:  # circular padding wraps around at most once
                raise ConfigError(
                    "model.net.kernel_size",
                    f"is {kernel_size}: its padding {kernel_size // 2} exceeds the side "
                    f"{side} of the {self.shape[0]} × {self.shape[1]} lattice",
                )
            if well_radius < 0 or 2 * well_radius + 1 > side:
                raise ConfigError(
                    "model.net.well_radius",
                    f"must be in [0, (min(L1, L2) - 1) / 2] = [0, {(side - 1) // 2}] for the "
                    f"{self.shape[0]} × {self.shape[1]} lattice, got {well_radius}",
                )
            if not 1 <= k <= n:
                raise ConfigError(
                    "model.net.k",
                    f"must be in [1, L1·L2 = {n}] for the {self.shape[0]} × {self.shape[1]} "
                    f"lattice, got {k}",
                )
        elif well_radius < 0 or 2 * well_radius + 1 > n:
            raise ConfigError(
                "model.net.well_radius", f"must be in [0, (n - 1) / 2], got {well_radius}"
            )
        elif not 1 <= k <= n:
            raise ConfigError("model.net.k", f"must be in [1, n = {n}], got {k}")
        self.n, self.k, self.fields = int(n), int(k), INPUTS[input]
        self.radius = int(well_radius)
        self.normalizer = Normalizer()
        two_d = self.shape is not None
        conv, norm = (nn.Conv2d, nn.BatchNorm2d) if two_d else (nn.Conv1d, nn.BatchNorm1d)
        layers: list[nn.Module] = []
        c = len(self.fields)
        for c_out in channels:
            layers += [
                conv(c, c_out, kernel_size, padding=kernel_size // 2, padding_mode="circular"),
                norm(c_out),
                nn.ReLU(),
            ]
            c = c_out
        layers.append(conv(c, 1, 1))
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
        """The learned energy map e(x) > 0, shape ``(b, n)`` (2-D: ``(b, L1, L2)``)."""
        dtype = self.log_scale.dtype
        fields = {"V": V.to(dtype), "W": W.to(dtype)}
        x = torch.stack([self.normalizer.z(f, fields[f]) for f in self.fields], dim=1)
        return F.softplus(self.energy_map(x)[:, 0]) / math.log(2.0) * self.output_scale

    def wells(self, e: torch.Tensor) -> torch.Tensor:
        """Which sites of an energy map are wells: bool of the shape of ``e``."""
        if self.shape is not None:
            return well_mask_2d(e, self.radius)
        return well_mask_1d(e, self.radius)

    def forward(self, V: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """V, W ``(b, n)`` (2-D: ``(b, L1, L2)``) -> the k lowest eigenvalues ``(b, k)``."""
        e = self.energies(V, W)
        is_well = self.wells(e)
        e, is_well = e.flatten(1), is_well.flatten(1)  # 2-D: the L1·L2 sites in raster order
        # wells rank first; non-wells after every well, in their own order
        rank_key = torch.where(is_well, e, e + (e.max().detach() + 1.0))
        idx = torch.topk(rank_key, self.k, dim=1, largest=False, sorted=True).indices
        lowest = torch.gather(e, 1, idx)
        return torch.sort(lowest * torch.exp(self.log_scale), dim=1).values


class WellNet2D(WellNet):
    """:class:`WellNet` on the periodic L1 × L2 lattice: ``WellNet(shape=[L1, L2], ...)``.

    V, W ``(b, L1, L2)`` -> ``(b, k)``, ascending.  The same net; a class of its own so
    that its config (``conf/model/well_net_2d.yaml``) and run names say ``well_net_2d``,
    with 2-D defaults (5 × 5 kernels, wells over 5 × 5 windows).
    """

    dim = 2

    def __init__(
        self,
        shape: Sequence[int] = (32, 32),
        k: int = 20,
        input: str = "W",
        channels: Sequence[int] = (16, 32, 32),
        kernel_size: int = 5,
        well_radius: int = 2,
    ) -> None:
        if shape is None:
            raise ConfigError("model.net.shape", "WellNet2D is 2-D: must be [L1, L2], got None")
        super().__init__(
            k=k,
            input=input,
            channels=channels,
            kernel_size=kernel_size,
            well_radius=well_radius,
            shape=shape,
        )

    @classmethod
    def config_name(cls) -> str:
        return "well_net_2d"
