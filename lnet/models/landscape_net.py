"""LandscapeNet: a learned generalisation of the landscape box count N^W(E), the default.

The slides' architecture with the potential-only work done once per potential (the
slides' own layout is :class:`~lnet.models.PaperLandscapeNet`).

Shapes: V, W, dW ``(b, n)`` with E ``(b, m)`` -> predicted N_V(E) ``(b, m)``, >= 0
(E ``(b,)`` gives ``(b,)``).  Train it on data grouped by potential
(``data.energies_per_potential``), so one pass serves m energies.

The slides' decider is a local function of (V - E, W - E, V, W, W').  Written as
d(x, E) = g(h(x), V(x) - E, W(x) - E) with h a local, energy-independent encoding of
the fields around x, the expensive part h is shared by every energy:

1. Encoder h: stride-1 circular convolutions (kernel k, normalisation, LeakyReLU) on
   the auxiliary channels (default V, W, W', standardised): ``(b, n)`` -> ``(b, C, n)``.
2. Decider g, a pointwise (1x1) network on [h(x), (V - E)/σ_V, (W - E)/σ_W, z(E)] with
   z(E) = (E - μ_E)/σ_E.  Its first layer is linear, so it splits exactly into
   A h(x) + B [V/σ_V, W/σ_W](x) + bias, computed once per potential, plus
   E · q + w_E · (-μ_E/σ_E), one vector per energy: the energy enters at the cost of
   an add.  Hidden layers: LeakyReLU, channels ``decider_channels``.
3. Box sum and dense head exactly as in :class:`~lnet.models.PaperLandscapeNet`: strided
   Conv1d (kernel = stride) per level, a sum over the remaining positions, dense
   layers, and softplus · mean(N_train) on the scalar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lnet.errors import ConfigError
from lnet.models.features import Normalizer, aux_channels, check_channels
from lnet.models.layers import BoxConv, check_box_stage, dense_head, norm_layer, width_scaler
from lnet.models.protocol import COUNTING, LnetModel


class LandscapeNet(LnetModel):
    task = COUNTING

    def __init__(
        self,
        n: int = 1000,
        aux: Sequence[str] = ("V", "W", "dW"),
        encoder_channels: Sequence[int] = (16, 32, 32),
        kernel_size: int = 9,
        decider_channels: Sequence[int] = (32, 16),
        box_channels: Sequence[int] = (40, 50, 60),
        box_strides: Sequence[int] = (10, 10, 10),
        head: Sequence[int] = (40, 20),
        norm: str = "batch",
        negative_slope: float = 0.01,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        scale = width_scaler(width)
        self.aux = check_channels(aux, "model.net.aux")
        if not encoder_channels:
            raise ConfigError("model.net.encoder_channels", "needs at least one convolution")
        if not decider_channels:
            raise ConfigError("model.net.decider_channels", "needs at least one layer")
        check_box_stage(n, box_channels, box_strides, kernel_size)
        self.n = int(n)
        self.normalizer = Normalizer()
        enc: list[nn.Module] = []
        c = len(self.aux)
        for c_out in scale(encoder_channels):
            enc += [
                nn.Conv1d(c, c_out, kernel_size, padding=kernel_size // 2, padding_mode="circular"),
                norm_layer(norm, c_out, 1),
                nn.LeakyReLU(negative_slope),
            ]
            c = c_out
        self.encoder = nn.Sequential(*enc)
        widths = scale(decider_channels)
        # first decider layer on [h, (V-E)/σ_V, (W-E)/σ_W, z(E)], split by linearity
        # Per-energy tensors are (pairs, sites, channels): pointwise layers and the
        # kernel = stride box convolutions are then plain matrix products (GEMMs).
        self.decide_site = nn.Linear(c + 2, widths[0])  # acts on [h, V/σ_V, W/σ_W]
        self.decide_energy = nn.Linear(1, widths[0], bias=False)  # the E · q term
        rest: list[nn.Module] = []
        c = widths[0]
        for c_out in widths[1:]:
            rest += [nn.LeakyReLU(negative_slope), nn.Linear(c, c_out)]
            c = c_out
        rest.append(nn.LeakyReLU(negative_slope))
        self.decider = nn.Sequential(*rest)
        box: list[nn.Module] = []
        for c_out, s in zip(scale(box_channels), box_strides, strict=True):
            box += [BoxConv(c, c_out, s, norm), nn.LeakyReLU(negative_slope)]
            c = c_out
        self.box_sum = nn.Sequential(*box)
        self.head = dense_head(c, scale(head), norm, negative_slope)
        self.register_buffer("output_scale", torch.ones(()))

    def set_stats(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        """Take normalisation statistics of the training split (see DataModule.stats)."""
        self.normalizer.set_stats(stats)
        if "N" in stats:
            self.output_scale.fill_(max(float(stats["N"]["mean"]), 1.0))

    def _energy_coefficient(self) -> torch.Tensor:
        """q with first-layer input E: -w_V/σ_V - w_W/σ_W + w_E/σ_E, shape (D,)."""
        w = self.decide_site.weight[:, -2:]  # weights of (V - E)/σ_V and (W - E)/σ_W
        sv, sw = self.normalizer.std("V"), self.normalizer.std("W")
        return (
            -w[:, 0] / sv
            - w[:, 1] / sw
            + self.decide_energy.weight[:, 0] / self.normalizer.std("E")
        )

    def forward(
        self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor
    ) -> torch.Tensor:
        dtype = self.head[-1].weight.dtype
        V, W, dW, E = (t.to(dtype) for t in (V, W, dW, E))
        single = E.ndim == 1
        E2 = E[:, None] if single else E
        b, m = E2.shape
        h = self.encoder(aux_channels(self.normalizer, self.aux, V, W, dW))
        site = torch.cat(
            [h, (V / self.normalizer.std("V"))[:, None], (W / self.normalizer.std("W"))[:, None]],
            dim=1,
        )
        site = self.decide_site(site.transpose(1, 2))  # (b, n, D): everything but the energy
        z_e = -self.normalizer.mean("E") / self.normalizer.std("E")  # z(E) = E/σ_E + z_e
        offset = (E2[..., None] * self._energy_coefficient()).to(dtype)  # (b, m, D)
        offset = offset + self.decide_energy.weight[:, 0] * z_e
        x = site[:, None] + offset[:, :, None, :]  # (b, m, n, D)
        out = self.count(x.flatten(0, 1)).view(b, m)
        return out[:, 0] if single else out

    def count(self, first: torch.Tensor) -> torch.Tensor:
        """Decider pre-activations ``(pairs, n, D)`` -> predicted counts ``(pairs,)``."""
        boxes = self.box_sum(self.decider(first)).sum(dim=1)
        return F.softplus(self.head(boxes).squeeze(-1)) * self.output_scale
