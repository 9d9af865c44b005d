"""The k lowest eigenvalues of the periodic operator by bisection on the exact counter."""

from __future__ import annotations

import numba
import numpy as np

from lnet.physics.counting import _count_one
from lnet.physics.validation import as_potential

RTOL = 1e-12


@numba.njit(cache=True, nogil=True)
def _lowest_one(V: np.ndarray, k: int, rtol: float, out: np.ndarray) -> None:
    vmin = V.min()
    vmax = V.max()
    atol = 8.0 * np.finfo(np.float64).eps * (4.0 + vmax)
    # spec(H) ⊂ [min V, max V + 4] because 0 <= -Δ <= 4
    lo = np.full(k, vmin - atol)
    hi = np.full(k, vmax + 4.0 + atol)
    for j in range(k):
        while hi[j] - lo[j] > max(atol, rtol * max(abs(lo[j]), abs(hi[j]))):
            x = 0.5 * (lo[j] + hi[j])
            c = _count_one(V, x)
            # λ_i <= x exactly when more than i eigenvalues are <= x: every count
            # narrows the brackets of all eigenvalues still open (as LAPACK's dstebz).
            for i in range(j, k):
                if c > i:
                    hi[i] = min(hi[i], x)
                else:
                    lo[i] = max(lo[i], x)
        out[j] = 0.5 * (lo[j] + hi[j])


@numba.njit(cache=True, nogil=True, parallel=True)
def _lowest_batch(V: np.ndarray, k: int, rtol: float, out: np.ndarray) -> None:
    for b in numba.prange(V.shape[0]):
        _lowest_one(V[b], k, rtol, out[b])


def lowest_eigenvalues(V: np.ndarray, k: int) -> np.ndarray:
    """The k smallest eigenvalues of H = -Δ + V (periodic), ascending, with multiplicity.

    V: ``(n,)`` or ``(B, n)``; returns ``(k,)`` or ``(B, k)``.  Bisection on the exact
    O(n) Sturm counter :func:`lnet.physics.count_eigenvalues`, each count narrowing
    the brackets of all k eigenvalues, to a relative accuracy of 1e-12 (absolute
    floor 8 ε (4 + max V), the counter's round-off).  Cost O(k n log(1/rtol)) per
    potential, no n×n matrix; potentials run in parallel threads.
    """
    Va = as_potential(V)
    n = Va.shape[-1]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer with 1 <= k <= n = {n}, got {k!r}")
    rows = np.ascontiguousarray(np.atleast_2d(Va))
    out = np.empty((rows.shape[0], int(k)))
    _lowest_batch(rows, int(k), RTOL, out)
    return out[0] if Va.ndim == 1 else out
