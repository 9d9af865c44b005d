"""The k lowest eigenvalues of the periodic operator, certified by the exact counter.

1-D: bisection on the O(n) Sturm counter (every count narrows all open brackets).
2-D: candidates from sparse shift-invert Lanczos (ARPACK), each bracket then
certified and narrowed by the exact counter ``count_lattice``, with bisection on the
counter for whatever the candidates miss.
3-D: the same certified brackets and λ_k; the k lowest eigenvalues themselves come
from shift-invert Lanczos, checked complete (degenerate copies included) by one exact
count per potential, with the certified brackets as the fallback.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
import scipy.sparse.linalg as spla

from lnet.physics.counting import _count_one
from lnet.physics.hamiltonian import _hamiltonian_2d, _hamiltonian_3d, _one_blas_thread
from lnet.physics.threads import start_numba_threads
from lnet.physics.validation import as_batch, as_potential, check_dim

RTOL = 1e-12
_EPS = np.finfo(np.float64).eps
BAND_2D = 8.0  # 0 <= -Δ <= 8 on the 2-D lattice: spec(H) ⊂ [min V, max V + 8]
BAND_3D = 12.0  # 0 <= -Δ <= 12 on the 3-D lattice: spec(H) ⊂ [min V, max V + 12]
EIGSH_MAX_FRACTION = 1 / 3  # 2-D, 3-D: Lanczos candidates for k <= n/3, bisection above
EIGSH_MIN_SITES = 16  # ARPACK needs room: k < n, ncv <= n
_WIDE = 4.0 ** np.arange(1, 7)  # fallback probes at 4, 16, ..., 4096 half-widths


@numba.njit(cache=True, nogil=True)
def _brackets_one(V: np.ndarray, k: int, rtol: float, lo: np.ndarray, hi: np.ndarray) -> None:
    vmin = V.min()
    vmax = V.max()
    atol = 8.0 * np.finfo(np.float64).eps * (4.0 + vmax)
    # spec(H) ⊂ [min V, max V + 4] because 0 <= -Δ <= 4
    lo[:] = vmin - atol
    hi[:] = vmax + 4.0 + atol
    for j in range(k):
        while hi[j] - lo[j] > max(atol, rtol * max(abs(lo[j]), abs(hi[j]))):
            x = 0.5 * (lo[j] + hi[j])
            c = _count_one(V, x)
            # λ_{i+1} <= x exactly when more than i eigenvalues are <= x: every count
            # narrows the brackets of all eigenvalues still open.
            for i in range(j, k):
                if c > i:
                    hi[i] = min(hi[i], x)
                else:
                    lo[i] = max(lo[i], x)


@numba.njit(cache=True, nogil=True)
def _kth_one(V: np.ndarray, k: int, rtol: float) -> float:
    atol = 8.0 * np.finfo(np.float64).eps * (4.0 + V.max())
    lo = V.min() - atol
    hi = V.max() + 4.0 + atol
    while hi - lo > max(atol, rtol * max(abs(lo), abs(hi))):
        x = 0.5 * (lo + hi)
        if _count_one(V, x) >= k:  # λ_k <= x
            hi = x
        else:
            lo = x
    return 0.5 * (lo + hi)


@numba.njit(cache=True, nogil=True, parallel=True)
def _kth_batch(V: np.ndarray, k: int, rtol: float, out: np.ndarray) -> None:
    for b in numba.prange(V.shape[0]):
        out[b] = _kth_one(V[b], k, rtol)


@numba.njit(cache=True, nogil=True, parallel=True)
def _brackets_batch(V: np.ndarray, k: int, rtol: float, lo: np.ndarray, hi: np.ndarray) -> None:
    for b in numba.prange(V.shape[0]):
        _brackets_one(V[b], k, rtol, lo[b], hi[b])


def _check_k(k: object, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer with 1 <= k <= n = {n}, got {k!r}")
    return int(k)


def _atol_2d(vmax: np.ndarray | float, band: float = BAND_2D) -> np.ndarray | float:
    """Absolute bracket floor, 8 ε (band + max V): the round-off of H's entries (band =
    4·dim, the width of spec(-Δ): 8 in 2-D, 12 in 3-D)."""
    return 8.0 * _EPS * (band + vmax)


class _Bracketing:
    """Brackets of λ_j, j in ``js``, from exact counts at a growing set of energies.

    Holds, per potential, the energies counted so far, ``xs``, with their counts
    ``cs`` (the spectrum bounds min V - atol and max V + 4·dim + atol enter with their
    known counts 0 and n).  V is a batch ``(B, L1, L2)`` or ``(B, L1, L2, L3)``.  The
    bracket of λ_j is [xs[i], xs[i+1]] with i the last energy whose count is < j, so
    N(lo_j) < j <= N(hi_j) holds by construction (all energies after xs[i] count >= j)
    for any counter, monotone or not, and every new energy inside a bracket narrows it.
    """

    def __init__(self, V: np.ndarray, js: np.ndarray, rtol: float) -> None:
        from lnet.physics.multifrontal import count_lattice

        self._count_2d = count_lattice
        self.V = V
        self.js = js
        self.rtol = rtol
        B = V.shape[0]
        self.n = int(np.prod(V.shape[1:]))
        self.dim = V.ndim - 1
        band = 4.0 * self.dim
        vmin = V.reshape(B, -1).min(axis=1)
        vmax = V.reshape(B, -1).max(axis=1)
        self.atol = _atol_2d(vmax, band)
        self.xs = [
            np.array([vmin[b] - self.atol[b], vmax[b] + band + self.atol[b]]) for b in range(B)
        ]
        self.cs = [np.array([0, self.n], dtype=np.int64) for _ in range(B)]
        self.lo = np.empty((B, js.size))
        self.hi = np.empty((B, js.size))
        self.open = np.ones((B, js.size), dtype=bool)
        self.energies_counted = 0
        self.count_calls = 0
        for b in range(B):
            self._update(b)

    def _update(self, b: int) -> None:
        xs, cs = self.xs[b], self.cs[b]
        suffix_min = np.minimum.accumulate(cs[::-1])[::-1]
        i = np.searchsorted(suffix_min, self.js, side="left") - 1
        lo, hi = xs[i], xs[i + 1]
        self.lo[b], self.hi[b] = lo, hi
        tol = np.maximum(self.atol[b], self.rtol * np.maximum(np.abs(lo), np.abs(hi)))
        self.open[b] = hi - lo > tol

    def add(self, points: list[np.ndarray | None]) -> None:
        """Count the new energies of every potential (one vectorised call) and merge them."""
        rows = [b for b, p in enumerate(points) if p is not None and p.size]
        if not rows:
            return
        m = max(points[b].size for b in rows)
        E = np.empty((len(rows), m))
        for r, b in enumerate(rows):
            p = points[b]
            E[r, : p.size] = p
            E[r, p.size :] = p[-1]  # padding: repeats are harmless
        Vr = np.ascontiguousarray(self.V[rows])
        counts = self._count_2d(Vr, E)  # small calls run on one thread (count_lattice)
        self.energies_counted += E.size
        self.count_calls += 1
        for r, b in enumerate(rows):
            p = points[b]
            xs = np.concatenate([self.xs[b], p])
            cs = np.concatenate([self.cs[b], counts[r, : p.size]])
            order = np.argsort(xs, kind="stable")
            self.xs[b], self.cs[b] = xs[order], cs[order]
            self._update(b)

    def probes_near(self, b: int, mu: np.ndarray, scales: np.ndarray) -> np.ndarray | None:
        """Energies mu_i ± scales (broadcast) that fall inside a still-open bracket of j_i."""
        sel = self.open[b, : mu.size]
        if not sel.any():
            return None
        lo, hi = self.lo[b, : mu.size][sel, None], self.hi[b, : mu.size][sel, None]
        c = mu[sel, None]
        half = np.broadcast_to(scales, (mu.size,) + np.shape(scales)[1:])[sel]
        pts = np.concatenate([c - half, c + half], axis=1)
        pts = pts[(pts > lo) & (pts < hi)]
        return np.unique(pts) if pts.size else None

    def bisect(self) -> None:
        """Split every open bracket, all potentials at once, until none is open.

        Each round counts, in one call for the whole batch, p equally spaced points
        inside every distinct open bracket (p = 1: bisection), ~50 halvings in all from
        the spectrum bounds to round-off.  A count call has a fixed cost (Python, thread
        start-up) besides its counts, so p = 3, 7 or 15 when the counts are cheap: small
        lattices or few open brackets (:func:`_sections`).  The points depend on each
        potential alone, so a batch gives the brackets of its potentials one by one.
        """
        for _ in range(4 * 64):
            if not self.open.any():
                return
            points: list[np.ndarray | None] = []
            for b in range(self.V.shape[0]):
                sel = self.open[b]
                if not sel.any():
                    points.append(None)
                    continue
                br = np.unique(np.stack([self.lo[b, sel], self.hi[b, sel]], axis=1), axis=0)
                p = _sections(self.n, br.shape[0], self.dim)
                fractions = np.arange(1, p + 1) / (p + 1)
                points.append(np.unique(br[:, :1] + (br[:, 1:] - br[:, :1]) * fractions))
            self.add(points)
        raise RuntimeError("bisection on the counter did not converge")  # pragma: no cover


def _sections(n: int, brackets: int, dim: int = 2) -> int:
    """Points per open bracket and round: the most of 15, 7, 3 whose counts fit a budget.

    One count costs ~(n / 1024)^{3/2} units in 2-D (a unit ~1 ms, a 32×32 count on one
    core), ~(n / 340)^{3/2} in 3-D (5 ms at 10³, 45 ms at 16³, measured at small n);
    a round may spend 4 units.  Otherwise 3 points for at most two brackets (λ_k
    alone: 25 rounds instead of 50), else 1 (plain bisection, the least counting).
    """
    cost = (n / (1024.0 if dim == 2 else 340.0)) ** 1.5
    for p in (15, 7, 3):
        if brackets * p * cost <= 4.0:
            return p
    return 3 if brackets <= 2 else 1


def _lanczos_candidates(V: np.ndarray, k: int) -> np.ndarray | None:
    """The k lowest eigenvalues of one 2-D or 3-D potential by shift-invert Lanczos, ascending.

    ARPACK on (H - σ)⁻¹ with σ = min V - 1 below the spectrum (H - σ is SPD, its sparse
    LU well conditioned: cond <= max V - min V + 9), tol = 0 (machine precision), a
    fixed start vector (reproducible).  Candidates only: they may miss a copy of a
    degenerate level or be off in the last digits; the caller certifies them.
    Returns what converged (possibly fewer than k values), or None.
    """
    H = _hamiltonian_2d(V) if V.ndim == 2 else _hamiltonian_3d(V)
    n = H.shape[0]
    v0 = np.random.default_rng(0).standard_normal(n)
    # ncv ~ 1.5 k: ARPACK's default 2k + 1 is several times slower for k ~ n/4
    ncv = min(n, k + max(20, k // 2))
    try:
        with warnings.catch_warnings(), _one_blas_thread():
            warnings.simplefilter("ignore")
            w = spla.eigsh(
                H,
                k=k,
                sigma=float(V.min()) - 1.0,
                which="LM",
                tol=0.0,
                v0=v0,
                ncv=ncv,
                return_eigenvectors=False,
            )
    except spla.ArpackNoConvergence as exc:
        w = exc.eigenvalues
    except (spla.ArpackError, RuntimeError, ValueError):
        return None
    w = np.sort(np.asarray(w, dtype=np.float64))
    w = w[np.isfinite(w)]
    return w[:k] if w.size else None


def _use_lanczos(n: int, k: int) -> bool:
    return n >= EIGSH_MIN_SITES and k <= EIGSH_MAX_FRACTION * n


def _thin(points: np.ndarray, spacing: float) -> np.ndarray:
    """The sorted points, each dropped that is within ``spacing`` of the last one kept.

    Copies of a degenerate level come from Lanczos a few ulps apart: their brackets'
    ends would be counted once per copy; thinned, once per level (any set of
    energies gives valid brackets, the counts decide)."""
    pts = np.unique(points)
    keep = [0]
    for i in range(1, pts.size):
        if pts[i] - pts[keep[-1]] > spacing:
            keep.append(i)
    return pts[keep]


def _brackets_2d(
    V: np.ndarray,
    k: int,
    rtol: float,
    method: str = "auto",
    candidates: list[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, _Bracketing]:
    """Certified brackets of λ_1..λ_k for a batch V ``(B, L1, L2)`` or ``(B, L1, L2, L3)``
    (the 2-D name, for both); see eigenvalue_brackets.

    method: "auto" (Lanczos candidates when :func:`_use_lanczos`), "lanczos" or
    "bisect".  ``candidates``: per potential, eigenvalue estimates already at hand
    (ascending, or None), used instead of running Lanczos.  Returns lo, hi ``(B, k)``
    and the bracketing state (for its counters).
    """
    B = V.shape[0]
    n = int(np.prod(V.shape[1:]))
    js = np.arange(1, k + 1)
    state = _Bracketing(V, js, rtol)
    lanczos = method == "lanczos" or (method == "auto" and _use_lanczos(n, k))
    if candidates is not None or (lanczos and k < n - 1):
        if candidates is None:
            mus = [_lanczos_candidates(V[b], k) for b in range(B)]
        else:
            mus = [
                None if mu is None else np.asarray(mu, dtype=np.float64)[:k] for mu in candidates
            ]
        # round 1: a bracket of the target width around every candidate
        halves = []
        points: list[np.ndarray | None] = []
        for b, mu in enumerate(mus):
            if mu is None:
                halves.append(None)
                points.append(None)
                continue
            h = 0.45 * np.maximum(state.atol[b], rtol * np.abs(mu))
            halves.append(h)
            points.append(_thin(np.concatenate([mu - h, mu + h]), 0.05 * float(h.min())))
        state.add(points)
        # round 2: a candidate off by more than its half-width is probed further out
        state.add(
            [
                None if mu is None else state.probes_near(b, mu, halves[b][:, None] * _WIDE)
                for b, mu in enumerate(mus)
            ]
        )
    # the rest (missed eigenvalues, no candidates, k close to n): bisection on the counter
    state.bisect()
    return state.lo, state.hi, state


def eigenvalue_brackets(
    V: np.ndarray, k: int, rtol: float = RTOL, dim: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Certified brackets lo < λ_j <= hi of the k lowest eigenvalues (j = 1..k).

    Shapes ``(k,)`` or ``(B, k)`` each.  Every bracket end is certified by an exact
    count: N_V(lo_j) < j <= N_V(hi_j), and hi_j - lo_j <= max(rtol |hi_j|, round-off).
    So any E with hi_j < E <= lo_{j+1} has N_V(E) = j exactly, which is how the
    counting dataset draws energies between eigenvalues without trusting round-off.

    dim = 1: V ``(n,)`` or ``(B, n)``; bisection on the O(n) Sturm counter, round-off
    floor 8 ε (4 + max V).
    dim = 2: V ``(L1, L2)`` or ``(B, L1, L2)``, n = L1·L2.  For k <= n/3 (n >= 16)
    candidates come from shift-invert Lanczos (ARPACK, σ = min V - 1); one vectorised
    call of the exact counter ``count_lattice`` tests a bracket of the target width around
    each, a second probes 4..4096 times wider around those it missed, and bisection
    on the counter closes every bracket still open (a level the candidates missed,
    or k close to n: then bisection alone).  Brackets are derived from all counts
    together (the last energy counting < j and the next one), so missed copies of a
    degenerate level (constant V) are certified by their neighbours' counts.
    Round-off floor 8 ε (8 + max V); spec(H) ⊂ [min V, max V + 8].
    dim = 3: V ``(L1, L2, L3)`` or ``(B, L1, L2, L3)``, n = L1·L2·L3; the same algorithm
    on the 3-D exact counter (O(n²) per energy: ~5 ms at 10³, ~40 ms at 16³), so the
    cost is ~2 counts per distinct level among the k (fewer for degenerate spectra).
    Round-off floor 8 ε (12 + max V); spec(H) ⊂ [min V, max V + 12].
    """
    dim = check_dim(dim)
    Va = as_potential(V, dim=dim)
    k = _check_k(k, int(np.prod(Va.shape[-dim:])))
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1), got {rtol!r}")
    if dim >= 2:
        lo, hi, _ = _brackets_2d(as_batch(Va, dim), k, float(rtol))
        return (lo[0], hi[0]) if Va.ndim == dim else (lo, hi)
    rows = np.ascontiguousarray(np.atleast_2d(Va))
    lo = np.empty((rows.shape[0], k))
    hi = np.empty((rows.shape[0], k))
    start_numba_threads()
    _brackets_batch(rows, k, float(rtol), lo, hi)
    return (lo[0], hi[0]) if Va.ndim == 1 else (lo, hi)


def lowest_eigenvalues(V: np.ndarray, k: int, dim: int = 1) -> np.ndarray:
    """The k smallest eigenvalues of H = -Δ + V (periodic), ascending, with multiplicity.

    V: ``(n,)`` or ``(B, n)``; returns ``(k,)`` or ``(B, k)``.  Bisection on the exact
    O(n) Sturm counter :func:`lnet.physics.count_eigenvalues`, each count narrowing
    the brackets of all k eigenvalues (as LAPACK's dstebz), to a relative accuracy
    of 1e-12 (absolute floor 8 ε (4 + max V), the counter's round-off).  Cost
    O(k n log(1/rtol)) per potential, no n×n matrix; potentials run in parallel.

    dim = 2: V ``(L1, L2)`` or ``(B, L1, L2)``; the midpoints of the certified brackets
    of :func:`eigenvalue_brackets` (Lanczos candidates certified by the exact 2-D
    counter), relative accuracy 1e-12, absolute floor 8 ε (8 + max V).

    dim = 3: V ``(L1, L2, L3)`` or ``(B, L1, L2, L3)``.  Shift-invert Lanczos (ARPACK on
    (H - σ)⁻¹, σ = min V - 1, SuperLU) for k + 8 Ritz pairs, certified: a residual
    δ = ‖H X - X diag(μ)‖₂ <= 512 ε (12 + max V) puts distinct eigenvalues within δ of
    them, and one exact count per potential, at E* in the first wide gap above λ_k
    (or just below the degenerate level holding λ_k, when that level reaches past the
    k + 8 values), must equal the number of values below E*: none is missing.
    Lanczos finds one vector per distinct eigenvalue of its Krylov space, so copies
    of a degenerate level (V constant on a cubic torus: multiplicities up to 48) are
    found only through round-off and may be missed; then the count disagrees and the
    potential falls back to the midpoints of the certified brackets of
    :func:`eigenvalue_brackets`, started from the same values (their counts certify
    missed copies next to the level found).  Absolute error <= 4δ (in practice
    ~1e-14 relative), or the brackets' 1e-12 relative.  Cost at 16³, k = 20..100: a
    few seconds (ARPACK's SuperLU solves) and one count.  See :func:`lnet.physics.spectrum_3d._lowest_3d`.
    """
    if check_dim(dim) == 3:
        Va = as_potential(V, dim=3)
        k = _check_k(k, int(np.prod(Va.shape[-3:])))
        from lnet.physics.spectrum_3d import _lowest_3d

        out = _lowest_3d(as_batch(Va, 3), k)
        return out[0] if Va.ndim == 3 else out
    lo, hi = eigenvalue_brackets(V, k, RTOL, dim=dim)
    return 0.5 * (lo + hi)


def _kth_2d(V: np.ndarray, k: int, rtol: float) -> np.ndarray:
    state = _Bracketing(V, np.array([k]), rtol)
    state.bisect()
    return 0.5 * (state.lo[:, 0] + state.hi[:, 0])


def kth_eigenvalue(V: np.ndarray, k: int, dim: int = 1) -> np.ndarray | float:
    """λ_k, the k-th smallest eigenvalue of H = -Δ + V (periodic, with multiplicity).

    V: ``(n,)`` -> float, ``(B, n)`` -> ``(B,)``.  Bisection on the exact counter alone
    (N_V(x) >= k exactly when λ_k <= x), to the accuracy of :func:`lowest_eigenvalues`;
    cost O(n log(1/rtol)) per potential whatever k is, so λ_⌈0.1 n⌉ at n = 10^5 takes
    milliseconds where the k lowest would take k times longer.

    dim = 2: V ``(L1, L2)`` -> float, ``(B, L1, L2)`` -> ``(B,)``; bisection on the
    exact 2-D counter (about 50 counts, all potentials in one call per step), from
    spec(H) ⊂ [min V, max V + 8], to relative accuracy 1e-12 (floor 8 ε (8 + max V)).

    dim = 3: V ``(L1, L2, L3)`` -> float, ``(B, L1, L2, L3)`` -> ``(B,)``; the same
    bisection on the exact 3-D counter from spec(H) ⊂ [min V, max V + 12] (floor
    8 ε (12 + max V)); ~50 counts of O(n²) each (~0.3 s at 10³, ~2 s at 16³).
    """
    dim = check_dim(dim)
    Va = as_potential(V, dim=dim)
    k = _check_k(k, int(np.prod(Va.shape[-dim:])))
    if dim >= 2:
        out = _kth_2d(as_batch(Va, dim), k, RTOL)
        return float(out[0]) if Va.ndim == dim else out
    rows = np.ascontiguousarray(np.atleast_2d(Va))
    out = np.empty(rows.shape[0])
    start_numba_threads()
    _kth_batch(rows, k, RTOL, out)
    return float(out[0]) if Va.ndim == 1 else out
