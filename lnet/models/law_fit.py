"""Closed-form fits of the landscape laws' parameters (the optimisers, not the laws).

- :func:`box_law_c2`: the exact global minimiser over c2 of the box law's training MSE
  min_c1 Σ (c1 N^W(c2 E) - N)² in 1-D. For fixed c2 the best c1 is Σ N B / Σ B²
  (B = N^W(c2 E)), leaving a piecewise-constant objective in c2 whose breakpoints (c2 E
  crossing a box-size change or a box minimum) are swept in increasing c2 by compiled
  kernels (a heap per chunk, exact rational comparison of the kept pieces):
  O(n²) per potential plus O(log Q) per breakpoint, Q = number of pairs.
- :func:`box_law_c2_grid`: the same objective on a zooming logarithmic grid (2-D).
- :func:`grid_search`: that zooming grid, also used for the Weyl law's energy scale.
- :func:`weyl_shift_c`: the one constant c of the energy-shifted lattice Weyl law
  N^W_Weyl(E / c), a log grid then scipy's bounded Brent search (least squares on counts).

The laws themselves (:mod:`lnet.models.laws`) call these from ``fit_closed_form``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numba
import numpy as np
from scipy.optimize import minimize_scalar

from lnet.physics import box_count, weyl_count
from lnet.physics.box_counting import box_count_steps
from lnet.physics.threads import run_ranges


def grid_search(
    objective: Callable[[float], float],
    lo: float,
    hi: float,
    coarse: int,
    fine: int,
    levels: int = 4,
    keep: int = 3,
) -> tuple[float, float]:
    """Minimise a 1-D objective on [lo, hi] by a zooming log grid (WeylLaw, 2-D box law).

    A ``coarse`` grid, then ``levels`` rounds in which each of the ``keep`` best
    points so far is re-searched on ``fine`` points spanning its two neighbouring
    cells; the final resolution is (hi/lo)^(2 / (coarse-1) · (2 / (fine-1))^levels).
    A heuristic: a minimum narrower than the coarse grid away from the ``keep`` best
    coarse points can be missed (the 1-D box law uses the exact :func:`box_law_c2`).
    """
    xs = list(np.geomspace(lo, hi, coarse))
    vals = [objective(x) for x in xs]
    log_step = np.log(hi / lo) / (coarse - 1)
    for _ in range(levels):
        best = np.argsort(vals, kind="stable")[:keep]
        centres = [xs[i] for i in best]
        for c in centres:
            grid = c * np.exp(np.linspace(-log_step, log_step, fine))
            grid = grid[(grid >= lo) & (grid <= hi)]
            xs.extend(grid)
            vals.extend(objective(x) for x in grid)
        log_step = 2 * log_step / (fine - 1)
    i = int(np.argmin(vals))
    return float(xs[i]), float(vals[i])


SHIFT_GRID = 17  # log-grid points of c before the bounded refinement (weyl_shift_c)
SHIFT_XATOL = 1e-6  # absolute tolerance of the refinement in log c (relative in c)


def weyl_shift_c(
    W: np.ndarray,
    E: np.ndarray,
    N: np.ndarray,
    lo: float,
    hi: float,
    dim: int = 1,
    grid: int = SHIFT_GRID,
) -> tuple[float, float, float]:
    """The constant c of the shifted lattice Weyl law N ≈ N^W_Weyl(E / c), fitted by least
    squares on the counts: c minimises the training MSE mean((N^W_Weyl(E / c) - N)²) over
    [lo, hi] (N^W_Weyl: :func:`lnet.physics.weyl_count` with ``kind="lattice"``).

    A ``grid``-point logarithmic grid of [lo, hi] (and c = 1 when lo <= 1 <= hi), then
    scipy's bounded Brent search (``minimize_scalar(method="bounded")``, tolerance
    :data:`SHIFT_XATOL` in log c) over the two grid cells around the best grid point; the
    best of every point evaluated is returned (ties: the c nearest 1), so the fit is never
    worse than its grid or than the unshifted law c = 1. Deterministic (no random start;
    the Weyl sums are evaluated in a fixed order). A local refinement: a minimum narrower
    than a grid cell away from the best grid point can be missed.

    Cost: about 40 Weyl sums over the whole training split (17 grid points, c = 1 and
    ~25 Brent steps); in 1-D each is O(P·m·n) numpy arccos, ~0.25 s per 10⁷ (potential,
    energy, site) triples on one core of the project's machine.

    Returns (c, training MSE at c, training MSE at c = 1).
    """
    seen: dict[float, float] = {}

    def mse(log_c: float) -> float:
        log_c = float(log_c)
        if log_c not in seen:
            pred = weyl_count(W, E / math.exp(log_c), kind="lattice", dim=dim)
            seen[log_c] = float(np.mean((pred - N) ** 2))
        return seen[log_c]

    xs = np.linspace(math.log(lo), math.log(hi), grid)
    values = [mse(x) for x in xs]
    if lo <= 1.0 <= hi:
        mse(0.0)
    i = int(np.argmin(values))
    a, b = xs[max(i - 1, 0)], xs[min(i + 1, grid - 1)]
    minimize_scalar(mse, bounds=(a, b), method="bounded", options={"xatol": SHIFT_XATOL})
    best = min(seen, key=lambda x: (seen[x], abs(x), x))  # ties: the c nearest 1
    unshifted = seen[0.0] if 0.0 in seen else mse(0.0)
    return math.exp(best), seen[best], unshifted


_SWEEP_KEEP = 16  # best pieces kept per chunk of the sweep for the exact final comparison
_SWEEP_CHUNKS = 64  # c2 chunks (event quantiles) swept in parallel; fixed: thread-independent


@numba.njit(cache=True, nogil=True)
def _pair_windows(breaks, boff, pot, E, c_lo, c_hi, start, stop):
    """Pair q's breaks with c_lo < break / E_q < c_hi are start[q] .. stop[q] - 1."""
    for q in range(E.shape[0]):
        i, j = boff[pot[q]], boff[pot[q] + 1]
        while i < j and breaks[i] / E[q] <= c_lo:
            i += 1
        start[q] = i
        while i < j and breaks[i] / E[q] < c_hi:
            i += 1
        stop[q] = i


@numba.njit(cache=True, nogil=True)
def _sift_down(key, who, size, k):
    x, w = key[k], who[k]
    while True:
        c = 2 * k + 1
        if c >= size:
            break
        if c + 1 < size and key[c + 1] < key[c]:
            c += 1
        if key[c] >= x:
            break
        key[k], who[k] = key[c], who[c]
        k = c
    key[k], who[k] = x, w


@numba.njit(cache=True, nogil=True)
def _first_above(breaks, e, i, j, c):
    """The first index in i .. j-1 with breaks[k] / e > c (j if none); breaks sorted."""
    while i < j:
        mid = (i + j) // 2
        if breaks[mid] / e > c:
            j = mid
        else:
            i = mid + 1
    return i


@numba.njit(cache=True, nogil=True)
def _sweep_chunk(breaks, counts, pot, E, N, start, stop, c_a, c_b, s_nb, s_bb, snn, M, keep):
    """Sweep the events with c_a < c2 <= c_b in increasing c2 and keep the ``keep`` pieces
    of lowest objective, rows [mse, Σ N B, Σ B², left, right] (unused rows: inf).

    Pair q's count changes at c2 = breaks[i] / E[q], i = start[q] .. stop[q] - 1, from
    counts[i + pot[q]] to counts[i + pot[q] + 1] (potential p's counts start at
    boff[p] + p). The pairs' next events sit in a heap, so nothing is stored per event.
    s_nb, s_bb: the sums of the pairs with no events (E <= 0).
    """
    Q = E.shape[0]
    key = np.empty(Q)
    who = np.empty(Q, dtype=np.int64)
    ptr = np.empty(Q, dtype=np.int64)
    end = np.empty(Q, dtype=np.int64)
    size = 0
    for q in range(Q):
        ptr[q] = _first_above(breaks, E[q], start[q], stop[q], c_a)
        end[q] = _first_above(breaks, E[q], ptr[q], stop[q], c_b)
        b = counts[ptr[q] + pot[q]]
        s_nb += N[q] * b
        s_bb += b * b
        if ptr[q] < end[q]:
            key[size] = breaks[ptr[q]] / E[q]
            who[size] = q
            size += 1
    for k in range(size // 2 - 1, -1, -1):
        _sift_down(key, who, size, k)
    best = np.full((keep, 5), np.inf)
    worst = 0  # the row of best with the largest mse
    left = c_a
    while True:
        right = key[0] if size else c_b
        val = (snn - s_nb * s_nb / s_bb) / M if s_bb > 0 else snn / M
        if val < best[worst, 0]:
            best[worst] = (val, s_nb, s_bb, left, right)
            for k in range(keep):
                if best[k, 0] > best[worst, 0]:
                    worst = k
        if size == 0:
            break
        x = key[0]
        while size and key[0] == x:
            q = who[0]
            i = ptr[q]
            before = counts[i + pot[q]]
            after = counts[i + pot[q] + 1]
            s_nb += N[q] * (after - before)
            s_bb += after * after - before * before
            ptr[q] = i + 1
            if i + 1 < end[q]:
                key[0] = breaks[i + 1] / E[q]
            else:
                size -= 1
                key[0], who[0] = key[size], who[size]
            _sift_down(key, who, size, 0)
        left = x
    return best


@numba.njit(cache=True, nogil=True)
def _sweep_range(breaks, counts, pot, E, N, start, stop, bounds, s_nb, s_bb, snn, M, out, j0, j1):
    """:func:`_sweep_chunk` on (bounds[j], bounds[j+1]] into ``out[j]`` ``(keep, 5)``, for
    j0 <= j < j1 (one thread's share, see :func:`~lnet.physics.threads.run_ranges`).

    A piece cut by a bound is reported by both chunks, each part with the piece's sums
    and ends at the bound (:func:`_piece_around` recovers the whole piece).
    """
    keep = out.shape[1]
    for j in range(j0, j1):
        out[j] = _sweep_chunk(
            breaks,
            counts,
            pot,
            E,
            N,
            start,
            stop,
            bounds[j],
            bounds[j + 1],
            s_nb,
            s_bb,
            snn,
            M,
            keep,
        )


@numba.njit(cache=True, nogil=True)
def _piece_around(breaks, E, start, stop, x, c_lo, c_hi):
    """The piece (lo, hi) holding x: the last event <= x and the first event > x."""
    lo, hi = c_lo, c_hi
    for q in range(E.shape[0]):
        i = _first_above(breaks, E[q], start[q], stop[q], x)
        if i < stop[q]:
            hi = min(hi, breaks[i] / E[q])
        if i > start[q]:
            lo = max(lo, breaks[i - 1] / E[q])
    return lo, hi


def box_law_c2(W: np.ndarray, E: np.ndarray, N: np.ndarray, c_lo: float, c_hi: float) -> float:
    """The exact minimiser over c2 in [c_lo, c_hi] of min_c1 Σ (c1 N^W(c2 E) - N)².

    For fixed c2 the best c1 is Σ N B / Σ B² (B = N^W(c2 E)), leaving the objective
    Σ N² - (Σ N B)² / Σ B². Each potential's N^W(t) is an exact step function of t
    (:func:`box_count_steps`: it changes only where the box size changes or t crosses
    a box minimum); the pair (potential, E > 0) sees it at t = c2 E, so its count
    changes only at c2 = break / E. Sweeping all these events in increasing c2 keeps
    Σ N B and Σ B² up to date and gives the objective on every piece between
    consecutive events; pairs with E <= 0 keep one count (t <= 0: one box).

    The best piece is chosen with exact rational arithmetic when N is integer-valued
    (the swept sums are then exact integers in float64), ties going to the smallest
    c2; its geometric midpoint is returned once :func:`box_count` there reproduces the
    swept sums (so a piece narrower than round-off is never returned).
    """
    M = N.size
    snn = float(np.sum(N * N))
    pos = E > 0
    s_nb = s_bb = 0.0  # Σ N B and Σ B² of the pairs with E <= 0 (constant in c2)
    if not pos.all():
        rows = np.flatnonzero(~pos.all(axis=1))
        B = box_count(W[rows], c_lo * E[rows]).astype(np.float64)
        const = ~pos[rows]
        s_nb += float(np.sum(N[rows][const] * B[const]))
        s_bb += float(np.sum(B[const] ** 2))
    all_breaks, all_counts, pot = [np.empty(0)], [np.empty(0, dtype=np.int64)], [np.empty(0, int)]
    for k, p in enumerate(np.flatnonzero(pos.any(axis=1))):
        e = E[p][pos[p]]
        t_lo, t_hi = c_lo * e.min() * (1 - 1e-9), c_hi * e.max() * (1 + 1e-9)
        breaks, counts = box_count_steps(W[p], t_lo, t_hi)
        all_breaks.append(breaks)
        all_counts.append(counts)
        pot.append(np.full(e.size, k))
    breaks = np.concatenate(all_breaks)
    counts = np.concatenate(all_counts)
    boff = np.cumsum([0] + [b.size for b in all_breaks[1:]]).astype(np.int64)
    pot = np.concatenate(pot).astype(np.int64)
    Eq, Nq = E[pos], N[pos]  # row-major, the order of pot
    start = np.empty(Eq.size, dtype=np.int64)
    stop = np.empty(Eq.size, dtype=np.int64)
    _pair_windows(breaks, boff, pot, Eq, c_lo, c_hi, start, stop)
    # chunks of about equal event counts: quantiles of the events of a sample of pairs
    sample = [breaks[start[q] : stop[q]] / Eq[q] for q in range(0, Eq.size, 1 + Eq.size // 512)]
    sample = np.concatenate([np.empty(0), *sample])
    inner = np.quantile(sample, np.arange(1, _SWEEP_CHUNKS) / _SWEEP_CHUNKS) if sample.size else []
    bounds = np.unique(np.concatenate([[c_lo], np.clip(inner, c_lo, c_hi), [c_hi]]))
    T = bounds.size - 1
    out = np.empty((T, _SWEEP_KEEP, 5))
    run_ranges(
        _sweep_range, T, breaks, counts, pot, Eq, Nq, start, stop, bounds, s_nb, s_bb, snn, M, out
    )
    best = out.reshape(T * _SWEEP_KEEP, 5)
    best = best[np.isfinite(best[:, 0])]

    # best first: by the float objective, and within round-off of the lowest by the exact
    # ratio (Σ N B)² / Σ B² (the sums are exact integers in float64 for integer N)
    rows = sorted(map(list, best), key=lambda c: c[0])
    n = W.shape[-1]
    exact = bool(np.all(N == np.round(N))) and float(np.sum(np.abs(N))) * n + M * n * n < 2**53
    close = [c for c in rows if c[0] <= rows[0][0] + 1e-9 * snn / M]
    if exact:
        close.sort(key=lambda c: (-Fraction(int(c[1]) ** 2, int(c[2])) if c[2] else 0, c[3]))
    else:
        close.sort(key=lambda c: (c[0], c[3]))
    for _, nb, bb, left, right in close + rows[len(close) :]:
        x = math.sqrt(left * right)
        if not left < x < right:
            x = left + 0.5 * (right - left)
        if not left < x < right:
            continue  # a piece narrower than round-off
        left, right = _piece_around(breaks, Eq, start, stop, x, c_lo, c_hi)  # the whole piece
        x = math.sqrt(left * right)
        if not left < x < right:
            x = left + 0.5 * (right - left)
        B = box_count(W, x * E).astype(np.float64)
        got = float(np.sum(N * B)), float(np.sum(B * B))
        if got == (nb, bb) or (not exact and np.allclose(got, (nb, bb), rtol=1e-9, atol=0)):
            return x  # box_count there agrees with the sweep: a genuine piece
    raise RuntimeError("box law fit: no piece reproduced its swept sums")  # pragma: no cover


def box_law_c2_grid(
    W: np.ndarray, E: np.ndarray, N: np.ndarray, c_lo: float, c_hi: float, dim: int
) -> float:
    """c2 in [c_lo, c_hi] minimising min_c1 Σ (c1 N^W(c2 E) - N)², by a zooming log grid.

    For fixed c2 the best c1 = Σ N B / Σ B² (B = N^W(c2 E)) leaves Σ N² - (Σ N B)² / Σ B²;
    this piecewise-constant objective is minimised by :func:`grid_search` (121 coarse
    points, then 4 rounds of 17 around the 3 best: a heuristic, not the exact optimum
    the 1-D sweep finds). Used in 2-D, where the box count is evaluated with ``dim``.
    """
    snn = float(np.sum(N * N))
    kw = {} if dim == 1 else {"dim": dim}

    def objective(c2: float) -> float:
        B = box_count(W, c2 * E, **kw).astype(np.float64)
        nb, bb = float(np.sum(N * B)), float(np.sum(B * B))
        return (snn - nb * nb / bb if bb > 0 else snn) / N.size

    c2, _ = grid_search(objective, c_lo, c_hi, 121, 17)
    return c2
