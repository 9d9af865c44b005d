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
def _num_boxes(n: int, e: float) -> int:
    """K(e) = ceil(n / ℓ(e)), ℓ(e) = max(1, e^(-1/2)): the fewest boxes of mean side <= ℓ.

    One box for e <= 0.
    """
    if e > 0.0:
        side = max(1.0, 1.0 / math.sqrt(e))
        return min(n, max(1, math.ceil(n / side - 1e-12)))
    return 1


@numba.njit(cache=True, nogil=True)
def _box_start(n: int, K: int, k: int) -> int:
    """First site of box k of K (box k holds sites _box_start(k) .. _box_start(k+1) - 1)."""
    return (k * n) // K


@numba.njit(cache=True, nogil=True)
def _box_count_one(W: np.ndarray, e: float) -> int:
    n = W.shape[0]
    K = _num_boxes(n, e)
    count = 0
    for k in range(K):
        for x in range(_box_start(n, K, k), _box_start(n, K, k + 1)):
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
    by K = ceil(n / ℓ) boxes (a relative slack of 1e-12 lets ℓ within round-off of
    n/K count as n/K), the fewest whose mean side n/K is <= ℓ.  Their sizes are the
    near-equal integers floor(n/K) and ceil(n/K): box k holds sites
    floor(k n / K) .. floor((k+1) n / K) - 1 (:func:`box_tiling`), so no site is left
    over or counted twice and every side is <= ceil(ℓ) (<= ℓ when ℓ is an integer;
    e.g. n = 4, ℓ = √2 gives sizes 1, 1, 2).  E <= 0 gives one box (the whole
    domain), which counts only if min W <= E.

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


def box_tiling(n: int, E: float) -> np.ndarray:
    """The boxes :func:`box_count` uses at energy E on n sites, as K + 1 edges.

    Box k holds sites ``edges[k] .. edges[k+1] - 1``; ``edges[0] = 0``, ``edges[K] = n``.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    e = float(E)
    if not math.isfinite(e):
        raise ValueError(f"E = {E!r} is not finite")
    K = _num_boxes(int(n), e)
    return np.array([_box_start(int(n), K, k) for k in range(K + 1)], dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _min_table(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse table: table[l, x] = min W[x : x + 2^l]; log2[s] = floor(log2 s)."""
    n = W.shape[0]
    log2 = np.zeros(n + 1, dtype=np.int64)
    for s in range(2, n + 1):
        log2[s] = log2[s // 2] + 1
    table = np.empty((log2[n] + 1, n))
    table[0] = W
    for lev in range(1, log2[n] + 1):
        half = 1 << (lev - 1)
        for x in range(n - (1 << lev) + 1):
            table[lev, x] = min(table[lev - 1, x], table[lev - 1, x + half])
    return table, log2


@numba.njit(cache=True, nogil=True)
def _box_minima(table: np.ndarray, log2: np.ndarray, K: int, out: np.ndarray) -> None:
    """out[k] = min of W over box k of the K-box tiling, O(1) per box.

    The box starts floor(k n / K) are stepped without dividing: b = a + n // K, plus
    one whenever the remainders n % K accumulate past K.
    """
    n = table.shape[1]
    step, extra = n // K, n % K
    a, rem = 0, 0
    for k in range(K):
        b = a + step
        rem += extra
        if rem >= K:
            b += 1
            rem -= K
        lev = log2[b - a]
        out[k] = min(table[lev, a], table[lev, b - (1 << lev)])
        a = b


@numba.njit(cache=True, nogil=True)
def _box_count_steps_one(W: np.ndarray, t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray]:
    n = W.shape[0]
    table, log2 = _min_table(W)
    minima = np.empty(n)
    inside = np.empty(n)
    breaks = [t_lo]  # typed lists (numba), emptied: breaks lie strictly above t_lo
    breaks.pop()
    counts = []
    t = t_lo
    K = _num_boxes(n, t)
    _box_minima(table, log2, K, minima)
    c = 0
    for k in range(K):
        if minima[k] <= t:
            c += 1
    counts.append(c)
    while True:
        # K boxes up to the size change at t_K = ((K + 1e-12)/n)², where K(t) steps up
        t_size = ((K + 1e-12) / n) ** 2 if K < n else np.inf
        top = min(t_size, t_hi)
        r = 0
        for k in range(K):
            if t < minima[k] <= top:
                inside[r] = minima[k]
                r += 1
        inside[:r].sort()
        i = 0
        while i < r:  # a box minimum m: the box counts from t = m on
            j = i
            while j < r and inside[j] == inside[i]:
                j += 1
            c += j - i
            breaks.append(inside[i])
            counts.append(c)
            i = j
        if t_size >= t_hi:
            break
        t = max(t, t_size)
        K += 1
        _box_minima(table, log2, K, minima)
        c_new = 0
        for k in range(K):
            if minima[k] <= t:
                c_new += 1
        if c_new != c:
            c = c_new
            breaks.append(t)
            counts.append(c)
    return np.array(breaks), np.array(counts, dtype=np.int64)


def box_count_steps(W: np.ndarray, t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """N^W(t) for t in [t_lo, t_hi] as an exact step function, for one landscape W ``(n,)``.

    Returns ``breaks`` (r,) strictly increasing in (t_lo, t_hi] and ``counts`` (r+1,)
    int64: N^W(t) = counts[0] on [t_lo, breaks[0]), counts[i] on (breaks[i-1], breaks[i])
    and counts[r] on (breaks[r-1], t_hi], i.e. :func:`box_count` of any t there
    (except within a few ulps of a break). N^W changes only where the box count K(t)
    steps up (t = ((K + 1e-12)/n)²) or where t crosses a box minimum of the current
    tiling; only breaks where the count changes are listed. O(n) per value of K in
    range, so O(n²) at worst for the whole spectrum.
    """
    Wa = _as_landscape_potential(W)
    if Wa.ndim != 1:
        raise ValueError(f"W must be one landscape of shape (n,), got shape {Wa.shape}")
    lo, hi = float(t_lo), float(t_hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"need finite t_lo <= t_hi, got {t_lo!r}, {t_hi!r}")
    return _box_count_steps_one(np.ascontiguousarray(Wa), lo, hi)


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
