"""Goodness-of-fit gates: is a potential consistent with i.i.d. draws of one law?

A :class:`LawGate` for a law L (one continuous family of :mod:`lnet.data.families` with
fixed parameters: V(x) = amplitude · X(x), X i.i.d.) tests each potential V on N sites
(any lattice dimension d) twice, at level ``alpha`` each:

- **the marginal law**, Kolmogorov–Smirnov: the N site values against the CDF F_L,

      D = sup_v |F̂_N(v) − F_L(v)|,     p_KS = P(D_N >= D)  under L  (scipy.stats.kstwo),

  F̂_N the empirical CDF of V's values; P(D_N >= D) exact (``scipy.stats.kstwo``) for
  N < :data:`EXACT_KS_SITES`, above it Stephens' form of the limit law,
  P(√N·D_N >= x) ≈ Q_KS(D·(√N + 0.12 + 0.11/√N)) (``scipy.stats.kstwobign``): within
  1.3 % of the exact p at p = 0.001 and 0.01 for N = 1000 to 10⁵, where the exact one
  costs up to 0.15 s a potential (N = 10⁵), as much as a net's pass;
- **independence of neighbours**, the lag-1 autocorrelation on the periodic lattice,
  averaged over the d axes,

      ρ = (1/d) Σ_axes Σ_x (V(x) − V̄)(V(x + e_axis) − V̄) / Σ_x (V(x) − V̄)²,
      z = ρ·sqrt(d·N),    p_ρ = 2·Φ(−|z|)

  (under i.i.d. sites ρ is about normal with mean −1/N and variance 1/(d·N); a
  constant potential has no correlation to speak of and is rejected, p_ρ = 0).

The gate accepts V when p_KS >= alpha and p_ρ >= alpha: a potential of law L is then
rejected with probability at most about 2·alpha. It is what lets a generalist hand the
inputs of its experts' training law to them (:mod:`lnet.routing`): the expert was
trained on i.i.d. draws of L, and a potential the two tests cannot tell from such a
draw is what it knows. The tests see only V; any lattice is tested (the experts' input
domain, :mod:`lnet.domain`, says which lattice sizes they take).

Families with a gate: uniform (U[0, 1)), exponential (Exp(1)), rayleigh (Rayleigh(1)),
power (density a·x^(a − 1) on [0, 1], ``exponent`` a) and chisquare (χ²(``df``)), each
times ``amplitude``. The atoms of bernoulli and poisson, the clipped laws and the
correlated speckle have none (ValueError naming them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

DEFAULT_ALPHA = 1e-3
EXACT_KS_SITES = 1000  # below: the exact Kolmogorov distribution; from here: Stephens' form
GATED_FAMILIES = ("uniform", "exponential", "rayleigh", "power", "chisquare")


def _distribution(law: Mapping[str, Any]) -> Any:
    """The frozen scipy.stats distribution of V(x) under ``law`` (a single-family config)."""
    from lnet.data.families import make_law

    family = law.get("family") if isinstance(law, Mapping) else None
    if family not in GATED_FAMILIES:
        raise ValueError(
            f"no goodness-of-fit gate for the law {dict(law) if isinstance(law, Mapping) else law!r}: "
            f"a gate needs one continuous family with fixed parameters, one of "
            f"{', '.join(GATED_FAMILIES)}"
        )
    params = make_law(dict(law), key="gate.law").params
    for key, value in params.items():
        if not isinstance(value, (int, float)):
            raise ValueError(
                f"gate.law.{key} = {value!r}: a gate needs fixed parameters, not a range"
            )
    scale = float(params["amplitude"])
    if family == "uniform":
        return stats.uniform(loc=0.0, scale=scale)
    if family == "exponential":
        return stats.expon(scale=scale)
    if family == "rayleigh":
        return stats.rayleigh(scale=scale)
    if family == "power":
        return stats.powerlaw(float(params["exponent"]), scale=scale)
    return stats.chi2(float(params["df"]), scale=scale)


def ks_pvalues(values: np.ndarray, cdf: Any) -> np.ndarray:
    """p_KS of each row of ``values`` ``(B, N)`` against the continuous ``cdf`` (module
    docstring): ``(B,)``, two-sided; exact below :data:`EXACT_KS_SITES` points, Stephens'
    approximation from there."""
    x = np.sort(np.asarray(values, dtype=np.float64), axis=1)
    N = x.shape[1]
    F = cdf(x)
    i = np.arange(1, N + 1)
    D = np.maximum((i / N - F).max(axis=1), (F - (i - 1) / N).max(axis=1))
    if N < EXACT_KS_SITES:
        return stats.kstwo.sf(D, N)
    root = math.sqrt(N)
    return stats.kstwobign.sf(D * (root + 0.12 + 0.11 / root))


def neighbour_pvalues(V: np.ndarray, dim: int) -> np.ndarray:
    """p_ρ of each potential of ``V`` ``(B, *lattice)`` (``dim`` axes): the two-sided
    normal p-value of z = ρ·sqrt(d·N), ρ the lag-1 autocorrelation averaged over the
    axes (module docstring); 0 for a constant potential."""
    V = np.asarray(V, dtype=np.float64)
    axes = tuple(range(1, dim + 1))
    centred = V - V.mean(axis=axes, keepdims=True)
    var = (centred**2).sum(axis=axes)
    lag = sum((centred * np.roll(centred, -1, axis=a)).sum(axis=axes) for a in axes) / dim
    constant = (V.max(axis=axes) == V.min(axis=axes)) | (var <= 0)  # round-off: var ~ 1e-32
    rho = np.where(constant, 0.0, lag / np.where(constant, 1.0, var))
    sites = math.prod(V.shape[1:])
    p = 2.0 * stats.norm.sf(np.abs(rho) * math.sqrt(dim * sites))
    return np.where(constant, 0.0, p)


@dataclass(frozen=True)
class LawGate:
    """Accept the potentials consistent with i.i.d. draws of ``law`` (module docstring):
    ``law`` a single-family potential config (``data.potential`` form, fixed
    parameters), ``alpha`` the level of each of the two tests."""

    law: Mapping[str, Any]
    alpha: float = DEFAULT_ALPHA

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and 0.0 < self.alpha < 0.5):
            raise ValueError(f"gate.alpha must be in (0, 0.5), got {self.alpha!r}")
        _distribution(self.law)  # fail at construction, naming the law

    def pvalues(self, V: Any, dim: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(p_KS, p_ρ), each ``(B,)``, of potentials V ``(B, *lattice)`` (or one,
        ``(*lattice)``) on a ``dim``-D lattice."""
        Va = np.asarray(V, dtype=np.float64)
        if Va.ndim == dim:
            Va = Va[None]
        if Va.ndim != dim + 1:
            raise ValueError(f"V must have shape (*lattice) or (B, *lattice) for dim {dim}")
        flat = Va.reshape(len(Va), -1)
        return ks_pvalues(flat, _distribution(self.law).cdf), neighbour_pvalues(Va, dim)

    def accepts(self, V: Any, dim: int = 1) -> np.ndarray:
        """Whether each potential passes both tests: ``(B,)`` booleans."""
        p_ks, p_rho = self.pvalues(V, dim)
        return (p_ks >= self.alpha) & (p_rho >= self.alpha)

    def to_dict(self) -> dict[str, Any]:
        return {"law": dict(self.law), "alpha": self.alpha}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LawGate:
        return cls(law=dict(d["law"]), alpha=float(d.get("alpha", DEFAULT_ALPHA)))
