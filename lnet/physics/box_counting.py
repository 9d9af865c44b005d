"""The landscape box count N^W(E): boxes of side E^(-1/2) tiling the torus on which
min W <= E (the Weyl law of W is in :mod:`lnet.physics.weyl`).

1-D: W ``(n,)`` or ``(B, n)`` on the periodic chain.  2-D (``dim=2``): W ``(L1, L2)``
or ``(B, L1, L2)`` on the periodic L1×L2 lattice, boxes are products of the 1-D
intervals.  3-D (``dim=3``): W ``(L1, L2, L3)`` or ``(B, L1, L2, L3)`` on the
L1×L2×L3 torus, boxes are products of three 1-D tilings.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from lnet.physics.threads import start_numba_threads
from lnet.physics.validation import as_energies, as_field, check_dim


def _as_landscape_potential(W: object, dim: int = 1) -> np.ndarray:
    Wa = as_field(W, "W", dim=dim)
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


@numba.njit(cache=True, nogil=True)
def _box_count_2d_one(W: np.ndarray, e: float) -> int:
    L1, L2 = W.shape
    K1 = _num_boxes(L1, e)
    K2 = _num_boxes(L2, e)
    count = 0
    for k1 in range(K1):
        a1, b1 = _box_start(L1, K1, k1), _box_start(L1, K1, k1 + 1)
        for k2 in range(K2):
            a2, b2 = _box_start(L2, K2, k2), _box_start(L2, K2, k2 + 1)
            found = False
            for x in range(a1, b1):
                for y in range(a2, b2):
                    if W[x, y] <= e:
                        found = True
                        break
                if found:
                    break
            if found:
                count += 1
    return count


@numba.njit(cache=True, nogil=True, parallel=True)
def _box_count_2d_batch(W: np.ndarray, E: np.ndarray, out: np.ndarray) -> None:
    B, m = E.shape
    for i in numba.prange(B * m):
        b = i // m
        out[b, i - b * m] = _box_count_2d_one(W[b], E[b, i - b * m])


def _num_boxes_array(n: int, e: np.ndarray) -> np.ndarray:
    """:func:`_num_boxes` for an array of energies (the same floating-point steps)."""
    K = np.ones(e.shape, dtype=np.int64)
    pos = e > 0.0
    side = np.maximum(1.0, 1.0 / np.sqrt(e[pos]))
    K[pos] = np.minimum(n, np.maximum(1, np.ceil(n / side - 1e-12))).astype(np.int64)
    return K


def _box_count_3d_one(W: np.ndarray, E: np.ndarray) -> np.ndarray:
    """N^W(E) for one landscape W ``(L1, L2, L3)`` and energies E ``(m,)``; int64 ``(m,)``.

    Energies are grouped by their tiling (K1, K2, K3); for each tiling the box minima
    come from three ``np.minimum.reduceat`` passes (one per axis, at the box starts
    floor(k L / K)), and the count at E is the number of minima <= E.
    """
    shape = W.shape
    K = np.stack([_num_boxes_array(L, E) for L in shape], axis=1)  # (m, 3)
    tilings, which = np.unique(K, axis=0, return_inverse=True)
    out = np.empty(E.shape, dtype=np.int64)
    for t, Ks in enumerate(tilings):
        minima = W
        for axis, (L, Ki) in enumerate(zip(shape, Ks, strict=True)):
            starts = (np.arange(Ki, dtype=np.int64) * L) // Ki
            minima = np.minimum.reduceat(minima, starts, axis=axis)
        ordered = np.sort(minima, axis=None)
        sel = np.flatnonzero(which.reshape(-1) == t)
        out[sel] = np.searchsorted(ordered, E[sel], side="right")
    return out


def box_count(W: np.ndarray, E: np.ndarray, dim: int = 1) -> np.ndarray:
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

    dim = 2: W ``(L1, L2)`` with E ``(m,)`` -> ``(m,)``;  ``(B, L1, L2)`` with ``(B, m)`` ->
    ``(B, m)``.  The torus is tiled by K1 × K2 boxes, K_i = ceil(L_i / ℓ) (the same
    slack), with the 1-D near-equal split along each axis: box (k1, k2) holds the sites
    (x, y) with x in interval k1 of ``box_tiling(L1, E)`` and y in interval k2 of
    ``box_tiling(L2, E)``; N^W(E) counts the boxes with min W <= E.  E <= 0: one box.
    Cost O(L1 L2) per energy.

    dim = 3: W ``(L1, L2, L3)`` with E ``(m,)`` -> ``(m,)``;  ``(B, L1, L2, L3)`` with
    ``(B, m)`` -> ``(B, m)``.  K1 × K2 × K3 boxes, box (k1, k2, k3) the product of
    interval k_i of ``box_tiling(L_i, E)`` along axis i; N^W(E) counts the boxes with
    min W <= E.  E <= 0: one box.  The tiling depends on E only through (K1, K2, K3),
    which only grow with E: at most L1 + L2 + L3 distinct tilings.  The box minima of
    each are computed once (O(L1 L2 L3)) and shared by all energies with that tiling,
    so m energies cost O(min(m, L1 + L2 + L3) L1 L2 L3 + m log n).
    """
    dim = check_dim(dim)
    Wa = _as_landscape_potential(W, dim)
    Ea = as_energies(E, Wa, dim=dim)
    W2 = np.ascontiguousarray(Wa[None] if Wa.ndim == dim else Wa)
    E2 = np.ascontiguousarray(np.atleast_2d(Ea))
    out = np.empty(E2.shape, dtype=np.int64)
    if dim == 3:
        for b in range(W2.shape[0]):
            out[b] = _box_count_3d_one(W2[b], E2[b])
    else:
        start_numba_threads()
        (_box_count_batch if dim == 1 else _box_count_2d_batch)(W2, E2, out)
    return out[0] if Wa.ndim == dim else out


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
