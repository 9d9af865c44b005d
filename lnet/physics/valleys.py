"""Counting on the landscape's valleys: the chain cut at the barriers of W, 1-D.

The landscape potential W = 1/u has a barrier wherever it peaks: a state of energy E
decays through the sites where W > E, so at a peak with W(m) well above E the chain
nearly decouples into its valleys (Filoche & Mayboroda's valley network, in 1-D the
peaks of W).  :func:`valley_count` counts the eigenvalues <= E of the chain cut at every
peak m of W with W(m) >= barrier·E: the bond (m, m+1) is removed and replaced by a
boundary term on its two sites.  Each energy has its own cuts.

With the bond's form (ψ(m) - ψ(m+1))² replaced by

* ``boundary="neumann"``: nothing (diagonal -1 on both sites), H_N <= H, so
  N_N(E) >= N_V(E);
* ``boundary="dirichlet"``: 2ψ(m)² + 2ψ(m+1)² (diagonal +1 on both sites), H_D >= H
  since 2a² + 2b² - (a - b)² = (a + b)² >= 0, so N_D(E) <= N_V(E);
* ``boundary="free"``: ψ(m)² + ψ(m+1)² (diagonal unchanged, hopping dropped), between
  the two and no bound.

So ``dirichlet`` and ``neumann`` bracket the exact count for every potential and energy
(Dirichlet–Neumann bracketing), and each cut moves a count by at most one: with
a = ψ(m), b = ψ(m+1) the form changes by -(a - b)² (neumann) or +(a + b)² (dirichlet),
rank one and of one sign, or (free) by 2ab = ½(a + b)² - ½(a - b)², one rank-one step
up and one down.  ``barrier=inf`` cuts nothing and gives the exact count; a smaller
barrier cuts more (and, as :mod:`lnet.locality` measures, errs more).  Cost: O(n) per
energy, as :func:`lnet.physics.count_eigenvalues`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from lnet.physics.counting import _count_one
from lnet.physics.landscape import landscape_potential
from lnet.physics.threads import start_numba_threads
from lnet.physics.validation import as_energies, as_field, as_potential

BOUNDARIES = {"free": 0.0, "dirichlet": 1.0, "neumann": -1.0}  # diagonal shift at a cut


@numba.njit(cache=True, nogil=True, inline="always")
def _is_cut(W: np.ndarray, peak: np.ndarray, level: float, x: int) -> bool:
    return peak[x] and W[x] >= level  # bond (x, x + 1) is cut


@numba.njit(cache=True, nogil=True)
def _diag(V, W, peak, level, shift, e, x, n) -> float:
    """Diagonal of H - e at site x of the cut chain: one shift per cut bond at x."""
    d = 2.0 + V[x] - e
    if _is_cut(W, peak, level, x):
        d += shift
    if _is_cut(W, peak, level, (x - 1) % n):
        d += shift
    return d


@numba.njit(cache=True, nogil=True)
def _cut_count_one(
    V: np.ndarray, W: np.ndarray, peak: np.ndarray, e: float, level: float, shift: float
) -> int:
    """N(e) of the chain cut at the peaks with W >= level; the periodic count if none.

    The cut chain is a path from site first + 1 round to site first (the first cut
    bond), eliminated by the Sturm recurrence with the 2x2 pivots of
    :mod:`lnet.physics.counting`; a cut bond ends a block, whose last pivot is read.
    """
    n = V.shape[0]
    first = -1
    for m in range(n):
        if _is_cut(W, peak, level, m):
            first = m
            break
    if first < 0:
        return _count_one(V, e)
    count = 0
    x = (first + 1) % n
    a = _diag(V, W, peak, level, shift, e, x, n)
    k = 0  # steps taken along the path; the path has n sites
    while k < n - 1:
        y = (x + 1) % n
        d_next = _diag(V, W, peak, level, shift, e, y, n)
        if _is_cut(W, peak, level, x):
            if a <= 0.0:  # an exactly singular pivot counts as an eigenvalue at e
                count += 1
            a = d_next
            x = y
            k += 1
        elif abs(a) * (1.0 + abs(d_next)) < 0.5:
            # 2x2 pivot [[a, -1], [-1, d_next]]: det <= -1/2, one eigenvalue <= 0
            det = a * d_next - 1.0
            count += 1
            if k + 1 == n - 1:
                return count
            w = (y + 1) % n
            d2 = _diag(V, W, peak, level, shift, e, w, n)
            if _is_cut(W, peak, level, y):
                a = d2  # bond (y, w) cut: w starts a new block
            else:
                a = d2 - a / det  # Schur complement of the block on w
            x = w
            k += 2
        else:
            if a < 0.0:
                count += 1
            a = d_next - 1.0 / a
            x = y
            k += 1
    if a <= 0.0:
        count += 1
    return count


@numba.njit(cache=True, nogil=True, parallel=True)
def _cut_count_batch(V, W, peak, E, barrier, shift, out):
    B, m = E.shape
    for k in numba.prange(B * m):
        b = k // m
        j = k - b * m
        e = E[b, j]
        level = barrier * e if e > 0.0 else 0.0
        out[b, j] = _cut_count_one(V[b], W[b], peak[b], e, level, shift)


def landscape_peaks(W: np.ndarray) -> np.ndarray:
    """The peaks of W on the periodic chain: bool of W's shape, True at m where
    W(m - 1) <= W(m) > W(m + 1) (indices mod n; a flat top counts once, at its last site;
    a constant W has none).  W ``(n,)`` or ``(B, n)``."""
    Wa = np.asarray(W)
    return (Wa >= np.roll(Wa, 1, axis=-1)) & (Wa > np.roll(Wa, -1, axis=-1))


def _counts(
    V: np.ndarray, E: np.ndarray, W: np.ndarray, peak: np.ndarray, barrier: float, shift: float
) -> np.ndarray:
    """Run the kernel on checked V ``(n,)``/``(B, n)`` and E, with W and peak ``(B, n)``;
    the output has E's shape."""
    single = V.ndim == 1
    E2 = np.ascontiguousarray(np.atleast_2d(E))
    out = np.empty(E2.shape, dtype=np.int64)
    start_numba_threads()
    _cut_count_batch(
        np.ascontiguousarray(np.atleast_2d(V)),
        np.ascontiguousarray(W, dtype=np.float64),
        np.ascontiguousarray(peak),
        E2,
        barrier,
        shift,
        out,
    )
    return out[0] if single else out


def _check_boundary(boundary: object) -> float:
    if not isinstance(boundary, str) or boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {sorted(BOUNDARIES)}, got {boundary!r}")
    return BOUNDARIES[boundary]


def cut_count(V: np.ndarray, E: np.ndarray, cuts: np.ndarray, boundary: str = "free") -> np.ndarray:
    """N(E) of the 1-D chain with the bonds (x, x+1 mod n) cut wherever ``cuts[x]``, as int64.

    The same cuts at every energy; ``boundary`` as in :func:`valley_count`
    (``"dirichlet"`` <= N_V(E) <= ``"neumann"``).  Each cut moves the count by at most one
    from N_V(E), and cutting every L-th bond measures how local the count is: the
    error is what a sum of independent windows of L sites would make.  Shapes: V ``(n,)``
    with E ``(m,)`` and ``cuts`` ``(n,)`` -> ``(m,)``; V ``(B, n)`` with E ``(B, m)`` and
    ``cuts`` ``(n,)`` or ``(B, n)`` -> ``(B, m)``.  No cut gives the exact periodic count.
    """
    Va = as_potential(V)
    Ea = as_energies(E, Va)
    shift = _check_boundary(boundary)
    c = np.asarray(cuts)
    if c.dtype != np.bool_:
        raise ValueError(
            f"cuts must be a boolean array (True: bond (x, x+1) cut), got dtype {c.dtype}"
        )
    if c.shape not in (Va.shape, Va.shape[-1:]):
        allowed = f"{Va.shape}" if Va.ndim == 1 else f"{Va.shape[-1:]} or {Va.shape}"
        raise ValueError(f"cuts must have shape {allowed} (one flag per bond), got {c.shape}")
    # every marked bond is cut: W = 1 at level 0
    peak = np.broadcast_to(c, np.atleast_2d(Va).shape)
    return _counts(Va, Ea, np.ones(peak.shape), peak, 0.0, shift)


def valley_count(
    V: np.ndarray,
    E: np.ndarray,
    barrier: float = 3.0,
    boundary: str = "free",
    W: np.ndarray | None = None,
) -> np.ndarray:
    """N(E) of the 1-D chain cut at the landscape's barriers, as int64 (module docstring).

    Cuts at energy E the bond (m, m+1) of every peak m of W (:func:`landscape_peaks`)
    with W(m) >= ``barrier``·E; an energy with no such peak gets the exact periodic count.
    ``boundary``: ``"dirichlet"`` (a lower bound of N_V(E)), ``"neumann"`` (an upper
    bound) or ``"free"``.  Shapes as :func:`lnet.physics.count_eigenvalues` in 1-D: V
    ``(n,)`` with E ``(m,)`` -> ``(m,)``; V ``(B, n)`` with E ``(B, m)`` -> ``(B, m)``.
    ``W``: the landscape potential of V if already at hand (same shape as V), else
    solved.  Raises ValueError for bad V, E or W, a barrier that is not a positive number
    (``inf`` allowed: no cuts, the exact count) or an unknown boundary.
    """
    Va = as_potential(V)
    Ea = as_energies(E, Va)
    if isinstance(barrier, bool) or not isinstance(barrier, int | float | np.floating | np.integer):
        raise ValueError(f"barrier must be a positive number or inf, got {barrier!r}")
    barrier = float(barrier)
    if math.isnan(barrier) or barrier <= 0.0:
        raise ValueError(f"barrier must be a positive number or inf, got {barrier!r}")
    shift = _check_boundary(boundary)
    if W is None:
        Wa = landscape_potential(Va)
    else:
        Wa = as_field(W, "W")
        if Wa.shape != Va.shape:
            raise ValueError(f"W must have the shape of V {Va.shape}, got {Wa.shape}")
    W2 = np.atleast_2d(Wa)
    peak = landscape_peaks(W2)
    if math.isinf(barrier):
        peak[:] = False
        barrier = 1.0
    return _counts(Va, Ea, W2, peak, barrier, shift)
