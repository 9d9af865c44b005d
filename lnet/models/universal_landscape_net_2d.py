"""UniversalLandscapeNet2D: the size-free, extensive counting net on a periodic L1 × L2 lattice.

H = -Δ + V on the torus Z_{L1} × Z_{L2}: (Hψ)(x, y) = 4ψ - ψ(x±1, y) - ψ(x, y±1) + Vψ.

Shapes: V, W ``(b, L1, L2)``, dW = ∇W ``(b, 2, L1, L2)`` (periodic central differences,
component 0 along L1, component 1 along L2) with E ``(b, m)`` -> predicted N_V(E)
``(b, m)``, >= 0 (E ``(b,)`` gives ``(b,)``), for any L1, L2 >= 1 (the physics needs
>= 2); the same weights serve every lattice.

N̂(E) = Σ_{x ∈ sites} ρ(x, E), a sum over the L1·L2 sites of a local density ρ >= 0
that vanishes exactly where no state lives, in one of two forms (``form``), exactly as
in the 1-D :class:`lnet.models.universal_landscape_net.UniversalLandscapeNet`:

- ``levels`` (default): each site carries J learned levels e_j(x) = W(x)·exp(δ_j(x))
  with weights a_j(x) >= 0 and log-widths w_j(x) > 0, counted below E through ramps:

      ρ(x, E) = Σ_j a_j(x) · clamp((log E - log e_j(x)) / w_j(x), 0, 1)

  N̂ is non-decreasing in E and exactly 0 below every level; (a, e, w) are computed
  once per potential and each energy costs O(L1 L2 J).
- ``decider``: ρ(x, E) = ReLU(g(h(x), log W(x), log E)), g pointwise.

1. Dimensionless site features ``(b, 4, L1, L2)``: [log W - mean_x log W, ∂₁W/W,
   ∂₂W/W, log(1 + V/W)] (the mean over all L1·L2 sites).  The absolute scale enters
   only through log W(x) (and log E in the decider).
2. Encoder h: stride-1 circular Conv2d layers (kernel k × k, dilations d_i),
   normalisation, LeakyReLU: ``(b, 4, L1, L2)`` -> ``(b, C, L1, L2)``; receptive field
   1 + (k - 1)·Σ d_i sites per side.  Circular padding is done by index wrap-around
   on both axes, so any L1, L2 >= 1 works, even sides smaller than the kernel.
3. The sites are flattened (n = L1·L2) and the energy-dependent part is the 1-D net's
   (its ``site_levels``, ``level_count``, ``density_sum`` are reused as they are):
   a pointwise network on [h(x), log W(x)] gives (δ, log-width, weight) for each of
   the J levels.
4. The site sum makes N̂ exactly extensive: V tiled k1 × k2 times (so W, ∇W tiled)
   gives k1·k2·N̂ (in eval mode; with ``norm='group'`` up to round-off in the
   lattice mean), and a site with ρ = 0 adds exactly 0.

At inference the per-energy tensor ((b, m, L1 L2, J) or (b, m, L1 L2, D)) is
evaluated in energy chunks of at most ``chunk_elements`` elements.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lnet.errors import ConfigError
from lnet.models.layers import width_scaler
from lnet.models.protocol import COUNTING, LnetModel
from lnet.models.universal_landscape_net import UniversalLandscapeNet, check_config


def site_features_2d(V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
    """Dimensionless site fields: V, W ``(b, L1, L2)``, dW ``(b, 2, L1, L2)`` -> ``(b, 4, L1, L2)``.

    [log W - mean_x log W, ∂₁W/W, ∂₂W/W, log(1 + V/W)]; W > 0 for V >= 0, V ≢ 0.
    """
    log_w = torch.log(W)
    rel = log_w - log_w.mean(dim=(-2, -1), keepdim=True)
    return torch.cat(
        [rel[:, None], dW / W[:, None], torch.log1p(V / W)[:, None]],
        dim=1,
    )


def norm_layer_2d(kind: str, channels: int) -> nn.Module:
    """batch (BatchNorm2d), group (GroupNorm(1, C): per sample over C, L1, L2) or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(
        "model.net.norm", f"unknown normalisation {kind!r}; allowed: batch, group, none"
    )


class CircularConv2d(nn.Module):
    """Conv2d on a periodic L1 × L2 lattice: ``(b, c_in, L1, L2)`` -> ``(b, c_out, L1, L2)``.

    Each axis is padded periodically by (k - 1)/2 · dilation sites per side: by
    ``F.pad(mode='circular')`` when both sides are at least the pad (its backward is
    the cheaper one), else by wrap-around indexing, which works when a side is smaller
    than the pad (the two give the same tensor).
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, dilation=dilation)
        self.pad = dilation * (kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        if p == 0:
            return self.conv(x)
        L1, L2 = x.shape[-2:]
        if p <= min(L1, L2):
            return self.conv(F.pad(x, (p, p, p, p), mode="circular"))
        i1 = torch.arange(-p, L1 + p, device=x.device) % L1
        i2 = torch.arange(-p, L2 + p, device=x.device) % L2
        return self.conv(x[..., i1, :][..., i2])


class UniversalLandscapeNet2D(LnetModel):
    """Size-free, extensive counting net on the periodic 2-D lattice (module docstring)."""

    task = COUNTING
    dim = 2  # takes potentials (b, L1, L2)
    n = None  # size-free: any L1 × L2

    def __init__(
        self,
        encoder_channels: Sequence[int] = (32, 32, 32, 32),
        kernel_size: int = 3,
        dilations: Sequence[int] = (1, 2, 4, 8),
        decider_channels: Sequence[int] = (64, 32),
        form: str = "levels",
        levels: int = 4,
        norm: str = "batch",
        negative_slope: float = 0.01,
        width: float = 1.0,
        chunk_elements: int = 2**24,
    ) -> None:
        super().__init__()
        scale = width_scaler(width)
        check_config(
            encoder_channels, kernel_size, dilations, decider_channels, form, levels, chunk_elements
        )
        self.form = form
        self.levels = int(levels)
        self.chunk_elements = int(chunk_elements)
        layers: list[nn.Module] = []
        c = 4
        for c_out, d in zip(scale(encoder_channels), dilations, strict=True):
            layers += [
                CircularConv2d(c, c_out, kernel_size, int(d)),
                norm_layer_2d(norm, c_out),
                nn.LeakyReLU(negative_slope),
            ]
            c = c_out
        self.encoder = nn.Sequential(*layers)
        widths = scale(decider_channels)
        self.decide_site = nn.Linear(c + 1, widths[0])  # on [h, log W]
        # decider form: the log E · q term of the first layer
        self.decide_energy = nn.Linear(1, widths[0], bias=False) if form == "decider" else None
        rest: list[nn.Module] = []
        c = widths[0]
        for c_out in widths[1:]:
            rest += [nn.LeakyReLU(negative_slope), nn.Linear(c, c_out)]
            c = c_out
        out = nn.Linear(c, 3 * self.levels if form == "levels" else 1)
        rest += [nn.LeakyReLU(negative_slope), out]
        self.decider = nn.Sequential(*rest)
        if form == "levels":  # levels start at W·e^0 ... W·e^2, weight ~0.05, log-width ~0.5
            J = self.levels
            with torch.no_grad():
                out.weight.mul_(0.1)
                out.bias[:J] = torch.linspace(0.0, 2.0, J)
                out.bias[J : 2 * J] = -0.5
                out.bias[2 * J :] = -3.0

    @classmethod
    def config_name(cls) -> str:
        return "universal_landscape_net_2d"  # conf/model/universal_landscape_net_2d.yaml

    def forward(
        self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor
    ) -> torch.Tensor:
        """V, W ``(b, L1, L2)``, dW ``(b, 2, L1, L2)``, E ``(b, m)`` -> ``(b, m)`` (or ``(b,)`` -> ``(b,)``)."""
        if V.ndim != 3 or W.shape != V.shape or dW.shape != (V.shape[0], 2, *V.shape[1:]):
            raise ValueError(
                "UniversalLandscapeNet2D takes V, W (b, L1, L2) and dW (b, 2, L1, L2), got "
                f"V {tuple(V.shape)}, W {tuple(W.shape)}, dW {tuple(dW.shape)}"
            )
        if E.ndim not in (1, 2) or E.shape[0] != V.shape[0]:
            raise ValueError(
                f"E must have shape (b,) or (b, m) with b = {V.shape[0]}, got {tuple(E.shape)}"
            )
        dtype = self.decide_site.weight.dtype
        V, W, dW, E = (t.to(dtype) for t in (V, W, dW, E))
        single = E.ndim == 1
        E2 = E[:, None] if single else E
        log_e = torch.log(E2.clamp_min(torch.finfo(dtype).tiny))
        site = self.site_part(V, W, dW)  # (b, L1 L2, D)
        if self.form == "levels":
            out = self.level_count(*self.site_levels(site, W.flatten(1)), log_e)
        else:
            out = self.density_sum(site, log_e)
        return out[:, 0] if single else out

    def site_part(self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
        """Everything that does not depend on E: ``(b, L1, L2)`` fields -> ``(b, L1 L2, D)``."""
        h = self.encoder(site_features_2d(V, W, dW))  # (b, C, L1, L2)
        x = torch.cat([h, torch.log(W)[:, None]], dim=1).flatten(2)  # (b, C + 1, L1 L2)
        return self.decide_site(x.transpose(1, 2))

    # the energy-dependent part on the flattened sites is the 1-D net's, unchanged:
    # site_levels(site (b, n, D), W (b, n)) -> log e_j, w_j, a_j each (b, n, J);
    # level_count / density_sum -> (b, m), chunked over energies at inference
    site_levels = UniversalLandscapeNet.site_levels
    level_count = UniversalLandscapeNet.level_count
    density_sum = UniversalLandscapeNet.density_sum
    _step = UniversalLandscapeNet._step
