"""Landscape counting laws: the box count N^W(E) and the landscape Weyl law."""

from __future__ import annotations

import math

import numba
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


@numba.njit(cache=True, nogil=True)
def _box_count_one(W: np.ndarray, e: float) -> int:
    n = W.shape[0]
    if e > 0.0:
        side = max(1.0, 1.0 / math.sqrt(e))
        K = min(n, max(1, math.ceil(n / side - 1e-12)))
    else:
        K = 1
    count = 0
    for k in range(K):
        for x in range((k * n) // K, ((k + 1) * n) // K):
            if W[x] <= e:
                count += 1
                break
    return count


@numba.njit(cache=True, nogil=True, parallel=True)
def _box_count_batch(W: np.ndarray, E: np.ndarray, out: np.ndarray) -> None:
    B, m = E.shape
    for i in numba.prange(B * m):
        b = i // m
        out[b, i - b * m] = _box_count_one(W[b], E[b, i - b * m])


def box_count(W: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Landscape box count N^W(E) = #{boxes Q of side ℓ(E) : min_Q W <= E}, as int64.

    Box side ℓ(E) = max(1, E^(-1/2)) sites.  The periodic domain of n sites is tiled
    by K = ceil(n / ℓ) boxes of near-equal integer sizes: box k holds sites
    floor(k n / K) .. floor((k+1) n / K) - 1, so every box has side <= ℓ (sizes
    differ by at most one) and no site is left over or counted twice.  E <= 0
    gives one box (the whole domain), which counts only if min W <= E.

    Shapes: W ``(n,)`` with E ``(m,)`` -> ``(m,)``;  W ``(B, n)`` with E ``(B, m)`` -> ``(B, m)``.
    Cost O(n) per energy (a box stops at its first site with W <= E).
    """
    Wa = _as_landscape_potential(W)
    Ea = as_energies(E, Wa)
    W2 = np.ascontiguousarray(np.atleast_2d(Wa))
    E2 = np.ascontiguousarray(np.atleast_2d(Ea))
    out = np.empty(E2.shape, dtype=np.int64)
    _box_count_batch(W2, E2, out)
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
