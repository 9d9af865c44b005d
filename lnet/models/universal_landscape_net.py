"""UniversalLandscapeNet: one counting network for any lattice size and any potential law.

One class for every lattice dimension ``dim`` (1: the periodic chain Z_n; 2: the torus
Z_{L1} × Z_{L2}, (Hψ)(x, y) = 4ψ - ψ(x±1, y) - ψ(x, y±1) + Vψ; 3: the torus
Z_{L1} × Z_{L2} × Z_{L3} with the 7-point Laplacian). Shapes:

- dim = 1: V, W, dW = W' ``(b, n)``;
- dim = 2: V, W ``(b, L1, L2)``, dW = ∇W ``(b, 2, L1, L2)`` (periodic central
  differences, component 0 along L1);
- dim = 3: V, W ``(b, L1, L2, L3)``, dW = ∇W ``(b, 3, L1, L2, L3)``;

with E ``(b, m)`` -> predicted N_V(E) ``(b, m)``, >= 0 (E ``(b,)`` gives ``(b,)``), for
any lattice sides >= 1; the same weights serve every size.

N̂(E) is a sum over sites of a local density ρ(x, E) >= 0 that vanishes exactly where
no state lives, in one of two forms (``form``):

- ``levels`` (default; WellNet's idea applied to counting): each site carries J
  learned levels e_j(x) = W(x)·exp(δ_j(x)) with weights a_j(x) >= 0 and log-widths
  w_j(x) > 0, and counts those below E, smoothed into ramps for training:

      ρ(x, E) = Σ_j a_j(x) · clamp((log E - log e_j(x)) / w_j(x), 0, 1)

  N̂ is non-decreasing in E, exactly 0 below every level, and the whole curve comes
  from one pass: (a, e, w) are computed once per potential, each energy costs O(n J)
  (O(nJ log m / m) at inference by the breakpoint sweep, below).
- ``decider`` (the slides' decider made size-free): ρ(x, E) = ReLU(g(h(x), log W(x),
  log E)) with g a pointwise network.
- ``weyl`` (a learned correction on top of the lattice Weyl law of W): each site
  carries the free lattice's integrated density of states N_d (per site,
  :mod:`lnet.models.free_idos`) at a locally rescaled and shifted energy,

      ρ(x, E) = e^{α(x)} · N_d(e^{-σ(x)} E - e^{δ(x)} W(x)),

  with (α, σ, δ)(x) = 2 tanh(g(h(x), log W(x)) / 2) bounded corrections from the
  pointwise network g.  g's last layer starts at zero, so the untrained net *is* the
  parameter-free lattice Weyl law Σ_x N_d(E - W(x)); a constant σ is the energy-shifted
  Weyl law N^W(E / c).  N̂ is non-decreasing in E and 0 below every e^{σ+δ} W(x).
  ``free_spectrum="torus"`` puts the free operator's own staircase on the input's
  finite torus in place of N_d (:func:`lnet.models.free_idos.torus_idos`): the exact
  free count of that lattice, whose shells dominate the low spectrum of weakly
  disordered 3-D lattices; N_d is its limit as the sides grow.  That form is not
  extensive on supercells (a supercell's free spectrum has more shells), as the exact
  count is not.

1. Inputs carry physics, not training statistics: the 2 + dim fields are made
   dimensionless or logarithmic, so nothing fitted on one law or amplitude rescales
   another: ``log W - mean_x log W`` (the landscape's relative depth, the mean over all
   sites), ``∂_i W / W`` for each axis and ``log(1 + V/W)``.  The absolute scale enters
   only through log W(x) and log E in the decider, where the kinetic term's fixed unit
   (hopping 1) makes it physical.
2. Encoder h: stride-1 circular convolutions (kernel k per axis) with dilations
   (receptive field 1 + (k - 1)·Σ dilations sites per axis), LeakyReLU:
   ``(b, 2 + dim, *lattice)`` -> ``(b, C, *lattice)``.  Circular padding works for any
   side >= 1, even sides smaller than the kernel.
3. ``levels``: a pointwise network on [h(x), log W(x)] gives (δ, log-width, weight)
   for each of the J levels.  ``decider``: g is pointwise on [h(x), log W(x), log E];
   its first layer is linear, so it splits into A [h, log W](x) + b, computed once per
   potential, plus log E · q, one vector per energy (log(E/W) is in its span).
   Hidden layers LeakyReLU, output ReLU.
   The sites are flattened (n = the number of sites) after the encoder.
   ``context="mean"`` adds to every site's first decider layer A·[mean_x h(x),
   mean_x log W(x)] + c (zero at the start): what the whole input looks like (its law,
   its scale) besides the site's window.  Still size-free and extensive (a supercell has
   the same means), but no longer local: on an input whose law changes along the
   lattice, every site sees the average.
4. The sum over sites makes N̂ extensive: no layer's shape depends on the lattice, and
   a site where the density is 0 adds exactly 0 (a positive floor would grow with n).
   V tiled k times (a supercell) gives k·N̂ in eval mode.

At inference the per-energy tensor ((b, m, n, J) or (b, m, n, D)) is evaluated in
energy chunks of at most ``chunk_elements`` elements, so n = 10^5 with 1000 energies
fits in memory.  The levels form's N̂ is piecewise linear in log E with 2nJ
breakpoints: at inference with at least ``curve_min_energies`` energies it is evaluated
by one sweep (:mod:`lnet.models.level_curve`: the energies sorted, each ramp's two
breakpoints placed among them by binary search, exact running sums; float64,
O((nJ + m) log m) instead of O(m n J)); training always takes the chunked route.

Default encoders (``encoder_channels``, ``kernel_size``, ``dilations`` left None):
dim = 1: [32, 48, 48], k = 9, dilations [1, 2, 4] (57 sites); dim = 2: [32, 32, 32, 32],
k = 3, dilations [1, 2, 4, 8] (31 sites per side); dim = 3: [24, 24, 24], k = 3,
dilations [1, 2, 4] (15 sites per side: a 3-D convolution costs k³ per site and channel
pair, so the 3-D encoder is shallower).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lnet.errors import ConfigError
from lnet.models.free_idos import free_idos, torus_idos
from lnet.models.layers import norm_layer, width_scaler
from lnet.models.level_curve import level_curve
from lnet.models.protocol import COUNTING, LnetModel


def site_features(V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Dimensionless site fields ``(b, 2 + dim, *lattice)``.

    [log W - mean_x log W, ∂_1 W/W, ..., ∂_dim W/W, log(1 + V/W)]; V, W ``(b, *lattice)``,
    dW ``(b, n)`` in 1-D and ``(b, dim, *lattice)`` otherwise; W > 0 for V >= 0, V ≢ 0.
    """
    log_w = torch.log(W)
    axes = tuple(range(-dim, 0))
    rel = log_w - log_w.mean(dim=axes, keepdim=True)
    grad = dW[:, None] if dim == 1 else dW
    return torch.cat([rel[:, None], grad / W[:, None], torch.log1p(V / W)[:, None]], dim=1)


FORMS = ("levels", "decider", "weyl")
CONTEXTS = ("none", "mean")  # what every site learns of the whole input besides its window
FREE_SPECTRA = ("infinite", "torus")  # the weyl form's per-site free count
WEYL_BOUND = 2.0  # the weyl form's corrections α, σ, δ lie in (-2, 2)


def check_config(
    encoder_channels: Sequence[int],
    kernel_size: int,
    dilations: Sequence[int],
    decider_channels: Sequence[int],
    form: str,
    levels: int,
    chunk_elements: int,
) -> None:
    """ConfigError naming the ``model.net`` key of the first bad constructor argument of
    a universal counting net (1-D and 2-D share these arguments)."""
    if not encoder_channels:
        raise ConfigError("model.net.encoder_channels", "needs at least one convolution")
    if len(dilations) != len(encoder_channels):
        raise ConfigError(
            "model.net.dilations",
            f"needs one dilation per encoder layer ({len(encoder_channels)}), "
            f"got {list(dilations)}",
        )
    if any(int(d) < 1 for d in dilations):
        raise ConfigError("model.net.dilations", f"must be >= 1, got {list(dilations)}")
    if kernel_size % 2 == 0 or kernel_size < 1:
        raise ConfigError("model.net.kernel_size", f"must be odd and >= 1, got {kernel_size}")
    if not decider_channels:
        raise ConfigError("model.net.decider_channels", "needs at least one layer")
    if form not in FORMS:
        raise ConfigError("model.net.form", f"must be one of {', '.join(FORMS)}, got {form!r}")
    if levels < 1:
        raise ConfigError("model.net.levels", f"must be >= 1, got {levels}")
    if chunk_elements < 1:
        raise ConfigError("model.net.chunk_elements", f"must be >= 1, got {chunk_elements}")


def wrap(y: torch.Tensor, pad: int, dim: int) -> torch.Tensor:
    """Pad the lattice axes 1..dim of a sites-major tensor ``(b, *lattice, c)`` periodically
    by ``pad`` sites per side -> ``(b, *(L_i + 2·pad), c)``, contiguous.

    By concatenation when every side is at least the pad (its backward is plain slicing),
    else by wrap-around indexing, which works when a side is smaller than the pad (the
    two give the same tensor).
    """
    if pad == 0:
        return y.contiguous()
    for axis in range(1, dim + 1):
        side = y.shape[axis]
        if pad <= side:
            y = torch.cat([y.narrow(axis, side - pad, pad), y, y.narrow(axis, 0, pad)], dim=axis)
        else:
            idx = torch.arange(-pad, side + pad, device=y.device) % side
            y = y.index_select(axis, idx)
    return y.contiguous()


class CircularConv(nn.Module):
    """Convolution on a periodic lattice of any size:
    ``(b, c_in, *lattice)`` -> ``(b, c_out, *lattice)``, ``dim`` lattice axes.

    Each axis is padded periodically by (k - 1)/2 · dilation sites per side
    (:func:`wrap`), so any side >= 1 works, even one smaller than the pad.  The
    convolution runs sites-major (channels last: memory ``(b, *lattice, c)``, oneDNN's
    fast layout on CPU: 2-3.5x the channels-first speed, measured at n = 10^5 in 1-D); the
    output is returned in that layout, a ``(b, c_out, *lattice)`` view.  A 1-D lattice is
    convolved as a 1 × n image (``Conv1d`` weights, unsqueezed).
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int, dim: int = 1):
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dim]
        self.conv = conv(c_in, c_out, kernel_size, dilation=dilation)
        self.pad = dilation * (kernel_size // 2)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convolve(x, self.conv.weight, self.conv.bias)

    def convolve(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """This convolution with the given weight ``(c_out, c_in, *kernel)`` and bias
        ``(c_out,)`` (the encoder's eval mode passes them with a batch norm folded in)."""
        y = wrap(x.movedim(1, -1), self.pad, self.dim)  # (b, *padded lattice, c_in)
        dilation = self.conv.dilation
        if self.dim == 1:
            image = y.unsqueeze(1).movedim(-1, 1)  # (b, c_in, 1, n + 2 pad), channels last
            out = F.conv2d(image, weight.unsqueeze(2), bias, dilation=(1, dilation[0]))
            return out.squeeze(2)
        conv = F.conv2d if self.dim == 2 else F.conv3d
        return conv(y.movedim(-1, 1), weight, bias, dilation=dilation)


class CircularEncoder(nn.Sequential):
    """The encoder h: blocks [CircularConv, norm, LeakyReLU] in sequence,
    ``(b, 2 + dim, *lattice)`` -> ``(b, C, *lattice)`` (sites-major memory).

    In eval mode a batch norm with running statistics is folded into the convolution
    before it, the same affine map in one pass: with s = γ / sqrt(σ² + ε),

        BN(conv(x; w, b)) = conv(x; s·w, s·(b − μ) + β).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return super().forward(x)
        blocks = list(self)
        for conv, norm, act in zip(blocks[0::3], blocks[1::3], blocks[2::3], strict=True):
            batch_norm = isinstance(norm, nn.modules.batchnorm._BatchNorm)
            if batch_norm and norm.affine and norm.running_var is not None:
                s = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
                weight = conv.conv.weight * s.reshape(-1, *[1] * (conv.conv.weight.ndim - 1))
                bias = (conv.conv.bias - norm.running_mean) * s + norm.bias
                x = act(conv.convolve(x, weight, bias))
            else:
                x = act(norm(conv(x)))
        return x


DEFAULT_ENCODERS = {
    1: {"encoder_channels": (32, 48, 48), "kernel_size": 9, "dilations": (1, 2, 4)},
    2: {"encoder_channels": (32, 32, 32, 32), "kernel_size": 3, "dilations": (1, 2, 4, 8)},
    3: {"encoder_channels": (24, 24, 24), "kernel_size": 3, "dilations": (1, 2, 4)},
}


class UniversalLandscapeNet(LnetModel):
    """Size-free, extensive counting net on the periodic lattice of dimension ``dim``
    (module docstring)."""

    task = COUNTING
    dim = 1  # the class default; an instance's ``dim`` is its constructor argument
    n = None  # size-free: any lattice
    # levels form at inference: from this many energies per call on, the whole curve
    # comes from one breakpoint sweep (module docstring); not a constructor argument.
    # Measured (2 CPU cores, float32): the two routes tie at about 16 energies; from 32
    # on the sweep is 2-4x faster for n >= 10^3 (and ~10x at 128 energies).
    curve_min_energies = 32

    def __init__(
        self,
        encoder_channels: Sequence[int] | None = None,
        kernel_size: int | None = None,
        dilations: Sequence[int] | None = None,
        decider_channels: Sequence[int] = (64, 32),
        form: str = "levels",
        levels: int = 4,
        norm: str = "batch",
        negative_slope: float = 0.01,
        width: float = 1.0,
        chunk_elements: int = 2**24,
        dim: int = 1,
        free_spectrum: str = "infinite",
        context: str = "none",
    ) -> None:
        super().__init__()
        if dim not in DEFAULT_ENCODERS or isinstance(dim, bool):
            raise ConfigError(
                "model.net.dim", f"must be one of {sorted(DEFAULT_ENCODERS)}, got {dim!r}"
            )
        defaults = DEFAULT_ENCODERS[dim]
        encoder_channels = (
            defaults["encoder_channels"] if encoder_channels is None else encoder_channels
        )
        kernel_size = defaults["kernel_size"] if kernel_size is None else kernel_size
        dilations = defaults["dilations"] if dilations is None else dilations
        scale = width_scaler(width)
        check_config(
            encoder_channels, kernel_size, dilations, decider_channels, form, levels, chunk_elements
        )
        if free_spectrum not in FREE_SPECTRA:
            raise ConfigError(
                "model.net.free_spectrum",
                f"must be one of {', '.join(FREE_SPECTRA)}, got {free_spectrum!r}",
            )
        if context not in CONTEXTS:
            raise ConfigError(
                "model.net.context", f"must be one of {', '.join(CONTEXTS)}, got {context!r}"
            )
        self.dim = int(dim)
        self.form = form
        self.context = context
        self.free_spectrum = free_spectrum
        self.levels = int(levels)
        self.chunk_elements = int(chunk_elements)
        layers: list[nn.Module] = []
        c = 2 + self.dim
        for c_out, d in zip(scale(encoder_channels), dilations, strict=True):
            layers += [
                CircularConv(c, c_out, kernel_size, int(d), self.dim),
                norm_layer(norm, c_out, 1, lattice_dim=self.dim),
                # in place: the backward of the norm (or conv) before it does not need its output
                nn.LeakyReLU(negative_slope, inplace=True),
            ]
            c = c_out
        self.encoder = CircularEncoder(*layers)
        widths = scale(decider_channels)
        self.decide_site = nn.Linear(c + 1, widths[0])  # on [h, log W]
        # context="mean": [mean_x h, mean_x log W] -> a shift of every site's first layer,
        # zero at the start (so a fine-tune from a context-free net starts as that net)
        self.decide_context = nn.Linear(c + 1, widths[0]) if context == "mean" else None
        if self.decide_context is not None:
            with torch.no_grad():
                self.decide_context.weight.zero_()
                self.decide_context.bias.zero_()
        # decider form: the log E · q term of the first layer
        self.decide_energy = nn.Linear(1, widths[0], bias=False) if form == "decider" else None
        rest: list[nn.Module] = []
        c = widths[0]
        for c_out in widths[1:]:
            rest += [nn.LeakyReLU(negative_slope), nn.Linear(c, c_out)]
            c = c_out
        outputs = {"levels": 3 * self.levels, "decider": 1, "weyl": 3}[form]
        out = nn.Linear(c, outputs)
        rest += [nn.LeakyReLU(negative_slope), out]
        self.decider = nn.Sequential(*rest)
        if form == "weyl":  # start as the lattice Weyl law of W: α = σ = δ = 0
            with torch.no_grad():
                out.weight.zero_()
                out.bias.zero_()
        if form == "levels":  # levels start at W·e^0 ... W·e^2, weight ~0.05, log-width ~0.5
            J = self.levels
            with torch.no_grad():
                out.weight.mul_(0.1)
                out.bias[:J] = torch.linspace(0.0, 2.0, J)
                out.bias[J : 2 * J] = -0.5
                out.bias[2 * J :] = -3.0

    def forward(
        self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor
    ) -> torch.Tensor:
        """V, W ``(b, *lattice)``, dW (module docstring), E ``(b, m)`` -> ``(b, m)``
        (or ``(b,)`` -> ``(b,)``)."""
        self._check_shapes(V, W, dW, E)
        dtype = self.decide_site.weight.dtype
        V, W, dW, E = (t.to(dtype) for t in (V, W, dW, E))
        single = E.ndim == 1
        E2 = E[:, None] if single else E
        log_e = torch.log(E2.clamp_min(torch.finfo(dtype).tiny))
        site = self.site_part(V, W, dW)  # (b, n, D)
        if self.form == "levels":
            out = self.level_count(*self.site_levels(site, W.flatten(1)), log_e)
        elif self.form == "weyl":
            out = self.weyl_sum(site, W.flatten(1), E2, tuple(W.shape[1:]))
        else:
            out = self.density_sum(site, log_e)
        return out[:, 0] if single else out

    def _check_shapes(
        self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor
    ) -> None:
        grad = V.shape if self.dim == 1 else (V.shape[0], self.dim, *V.shape[1:])
        if V.ndim != 1 + self.dim or W.shape != V.shape or dW.shape != grad:
            lattice = ", ".join(f"L{i + 1}" for i in range(self.dim)) if self.dim > 1 else "n"
            want_dw = "(b, n)" if self.dim == 1 else f"(b, {self.dim}, {lattice})"
            raise ValueError(
                f"{type(self).__name__} ({self.dim}-D) takes V, W (b, {lattice}) and dW "
                f"{want_dw}, got V {tuple(V.shape)}, W {tuple(W.shape)}, dW {tuple(dW.shape)}"
            )
        if E.ndim not in (1, 2) or E.shape[0] != V.shape[0]:
            raise ValueError(
                f"E must have shape (b,) or (b, m) with b = {V.shape[0]}, got {tuple(E.shape)}"
            )

    def site_part(self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
        """Everything that does not depend on the energy: fields -> ``(b, n, D)``, n sites."""
        h = self.encoder(site_features(V, W, dW, self.dim))  # (b, C, *lattice)
        b, C = h.shape[:2]
        h = h.movedim(1, -1).reshape(b, -1, C)  # (b, n, C): a view of the sites-major memory
        # decide_site on [h, log W] without concatenating: its weight's last column takes log W
        weight = self.decide_site.weight
        log_w = torch.log(W).reshape(b, -1, 1)
        site = F.linear(h, weight[:, :C], self.decide_site.bias)
        site = site.addcmul_(log_w, weight[:, C])
        if self.decide_context is not None:
            summary = torch.cat([h.mean(dim=1), log_w.mean(dim=1)], dim=1)  # (b, C + 1)
            site = site + self.decide_context(summary)[:, None, :]
        return site

    def site_levels(
        self, site: torch.Tensor, W: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Levels log e_j(x), log-widths w_j(x) > 0, weights a_j(x) >= 0, each ``(b, n, J)``."""
        J = self.levels
        raw = self.decider(site)  # (b, n, 3J)
        log_level = torch.log(W)[..., None] + raw[..., :J]
        positive = F.softplus(raw[..., J:].contiguous())  # one call on dense memory: faster
        width = positive[..., :J] + 1e-3
        weight = positive[..., J:]
        return log_level, width, weight

    def level_count(
        self,
        log_level: torch.Tensor,
        width: torch.Tensor,
        weight: torch.Tensor,
        log_e: torch.Tensor,
    ) -> torch.Tensor:
        """Σ_x Σ_j a_j(x) · clamp((log E - log e_j(x)) / w_j(x), 0, 1) -> ``(b, m)``.

        Without gradients and with at least ``curve_min_energies`` energies, by the
        breakpoint sweep :func:`lnet.models.level_curve.level_curve` (float64,
        O((nJ + m) log m)); otherwise every ramp at every energy, in energy chunks.
        """
        b, n, J = log_level.shape
        m = log_e.shape[1]
        if self._sweeps(m):
            return level_curve(log_level, width, weight, log_e)
        step = m if torch.is_grad_enabled() else self._step(m, b * n * J)
        parts = []
        for start in range(0, m, step):
            t = (log_e[:, start : start + step, None, None] - log_level[:, None]) / width[:, None]
            parts.append((weight[:, None] * t.clamp(0.0, 1.0)).sum(dim=(-1, -2)))
        return torch.cat(parts, dim=1)

    def weyl_sum(
        self, site: torch.Tensor, W: torch.Tensor, E: torch.Tensor, lattice: tuple[int, ...]
    ) -> torch.Tensor:
        """Σ_x e^{α(x)} N(e^{-σ(x)} E - e^{δ(x)} W(x)), N = N_d or the torus's N_L:
        site part ``(b, n, D)``, W ``(b, n)``, E ``(b, m)``, the lattice's sides ->
        ``(b, m)`` (the ``weyl`` form, module docstring)."""
        raw = WEYL_BOUND * torch.tanh(self.decider(site) / WEYL_BOUND)  # (b, n, 3)
        amplitude = torch.exp(raw[..., 0])
        rate = torch.exp(-raw[..., 1])
        level = W * torch.exp(raw[..., 2])
        b, n = W.shape
        m = E.shape[1]
        step = m if torch.is_grad_enabled() else self._step(m, b * n)
        parts = []
        for start in range(0, m, step):
            e = rate[:, None] * E[:, start : start + step, None] - level[:, None]
            free = (
                torus_idos(e, lattice) if self.free_spectrum == "torus" else free_idos(e, self.dim)
            )
            parts.append((amplitude[:, None] * free).sum(dim=-1))
        return torch.cat(parts, dim=1)

    def density_sum(self, site: torch.Tensor, log_e: torch.Tensor) -> torch.Tensor:
        """Σ_x ReLU(g(x, E)): site part ``(b, n, D)``, log E ``(b, m)`` -> ``(b, m)``."""
        b, n, D = site.shape
        m = log_e.shape[1]
        q = self.decide_energy.weight[:, 0]  # (D,)
        step = m if torch.is_grad_enabled() else self._step(m, b * n * D)
        parts = []
        for start in range(0, m, step):
            x = site[:, None] + (log_e[:, start : start + step, None] * q)[:, :, None, :]
            rho = F.relu(self.decider(x).squeeze(-1))  # (b, step, n)
            parts.append(rho.sum(dim=-1))
        return torch.cat(parts, dim=1)

    def _sweeps(self, m: int) -> bool:
        """Whether ``level_count`` takes the breakpoint sweep for m energies: at
        inference (no gradients), from ``curve_min_energies`` energies on."""
        return not torch.is_grad_enabled() and m >= self.curve_min_energies

    def _step(self, m: int, per_energy: int) -> int:
        """Energies per inference chunk: at most ``chunk_elements`` elements at once."""
        return max(1, min(m, self.chunk_elements // max(1, per_energy)))
