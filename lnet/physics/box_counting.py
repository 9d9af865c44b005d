"""Landscape counting laws: the box count N^W(E) and the landscape Weyl law."""

from __future__ import annotations

import numpy as np

from lnet.physics.validation import as_energies, as_field

_WEYL_CHUNK = 4_000_000  # elements of the (B, m, n) intermediate evaluated at once


def _as_landscape_potential(W: object) -> np.ndarray:
    Wa = as_field(W, "W")
    neg = Wa < 0
    if neg.any():
        idx = tuple(int(i) for i in np.argwhere(neg)[0])
        raise ValueError(f"W{list(idx)} = {Wa[idx]:.6g} is negative; W = 1/u is positive")
    return Wa


def box_count(W: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Landscape box count N^W(E) = #{boxes Q of side ℓ(E) : min_Q W <= E}, as int64.

    Box side ℓ(E) = max(1, E^(-1/2)) sites.  The periodic domain of n sites is tiled
    by K = ceil(n / ℓ) boxes of near-equal integer sizes: box k holds sites
    floor(k n / K) .. floor((k+1) n / K) - 1, so every box has side <= ℓ (sizes
    differ by at most one) and no site is left over or counted twice.  E <= 0
    gives one box (the whole domain), which counts only if min W <= E.

    Shapes: W ``(n,)`` with E ``(m,)`` -> ``(m,)``;  W ``(B, n)`` with E ``(B, m)`` -> ``(B, m)``.
    Cost O(n) per distinct box number K.
    """
    Wa = _as_landscape_potential(W)
    Ea = as_energies(E, Wa)
    W2, E2 = np.atleast_2d(Wa), np.atleast_2d(Ea)
    n = W2.shape[-1]
    with np.errstate(divide="ignore"):
        side = np.where(E2 > 0, np.maximum(1.0, 1.0 / np.sqrt(np.where(E2 > 0, E2, 1.0))), n)
    K = np.clip(np.ceil(n / side - 1e-12).astype(np.int64), 1, n)
    out = np.zeros(E2.shape, dtype=np.int64)
    for k in np.unique(K):
        starts = (np.arange(k) * n) // k
        box_min = np.minimum.reduceat(W2, starts, axis=-1)  # (B, k)
        rows, cols = np.nonzero(K == k)
        out[rows, cols] = np.sum(box_min[rows] <= E2[rows, cols][:, None], axis=-1)
    return out[0] if Wa.ndim == 1 else out


def weyl_count(W: np.ndarray, E: np.ndarray, kind: str = "continuum") -> np.ndarray:
    """Landscape Weyl law, a real-valued estimate of N_V(E).

    continuum: (1/π) Σ_x sqrt((E - W(x))_+)
    lattice:   (1/π) Σ_x arccos(clip(1 - (E - W(x))/2, -1, 1))  (the free lattice
               density of states, counting states of -Δ below E - W(x) per site)

    Shapes as :func:`box_count`; returns float64.
    """
    if kind not in ("continuum", "lattice"):
        raise ValueError(f"kind must be 'continuum' or 'lattice', got {kind!r}")
    Wa = _as_landscape_potential(W)
    Ea = as_energies(E, Wa)
    W2, E2 = np.atleast_2d(Wa), np.atleast_2d(Ea)
    B, m = E2.shape
    n = W2.shape[-1]
    out = np.empty((B, m))
    step = max(1, _WEYL_CHUNK // max(1, B * n))
    for j in range(0, m, step):
        gap = E2[:, j : j + step, None] - W2[:, None, :]  # (B, chunk, n)
        if kind == "continuum":
            per_site = np.sqrt(np.maximum(gap, 0.0))
        else:
            per_site = np.arccos(np.clip(1.0 - 0.5 * gap, -1.0, 1.0))
        out[:, j : j + step] = per_site.sum(axis=-1) / np.pi
    return out[0] if Wa.ndim == 1 else out
