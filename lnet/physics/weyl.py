"""The landscape Weyl law N(E) ≈ Σ_x N_free(E - W(x)) and the free densities of states.

``kind="continuum"``: the continuum IDOS of -Δ per site, (1/π)√e in 1-D, e/(4π) in 2-D,
e^{3/2}/(6π²) in 3-D; ``kind="lattice"``: the lattice Laplacian's own IDOS
(:func:`free_idos_2d`, :func:`free_idos_3d`); ``kind="torus"``: the free count of W's own
finite periodic lattice (:func:`free_torus_levels`), whose limit as the sides grow is
the lattice kind. Shapes as for :func:`lnet.physics.box_count`.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from scipy.special import ellipkm1, roots_legendre

from lnet.physics.box_counting import _as_landscape_potential
from lnet.physics.threads import run_ranges, start_numba_threads
from lnet.physics.validation import as_energies, check_dim

__all__ = ["free_idos_2d", "free_idos_3d", "free_torus_levels", "weyl_count"]

_WEYL_CHUNK = 4_000_000  # elements of the (B, m, n) intermediate evaluated at once

# -- the integrated density of states of the free 2-D lattice --------------------------
#
# N0(e) = |{k ∈ [-π, π]² : 4 - 2 cos k1 - 2 cos k2 <= e}| / (2π)², per site.  Its
# derivative, the density of states, is the classical
#     ρ(e) = K(m) / (2π²),   m = 1 - ((e - 4)/4)²   (K the complete elliptic integral),
# so with t = |4 - e|:  ρ = ellipkm1(t²/16) / (2π²), finite at the band edges (ρ(0) =
# 1/(4π), the continuum's) and log-divergent at the van Hove energy e = 4.  Near t = 0,
#     K = Σ_n c_n (t²/16)^n ln(16/t) + (a power series in t²),  c_n = ((1/2)_n / n!)²,
# and the log terms integrate in closed form: on [0, 4], N0 = S + R with
#     S(e) = G(4) - G(4 - e),  G(t) = (t / 2π²) [ln(16/t) A(t²) + B(t²)],
#     A(u) = Σ_n a_n u^n,  B(u) = Σ_n a_n u^n / (2n + 1),  a_n = c_n 16^-n / (2n + 1)
# (n = 0..3: G' is the first four log terms of ρ), and R the integral of ρ minus them,
# which is smooth (its derivative vanishes like t⁸ ln t at e = 4).  R is tabulated
# once, by 16-point Gauss–Legendre on each interval of a uniform grid (cumulative
# integrals: values, and derivatives at the nodes), and evaluated by cubic Hermite
# interpolation (error ~ h⁴ max|R⁗| / 384, h = 1/512; checked against 30-digit
# quadrature to 1e-12 in the tests).  The symmetry k -> k + (π, π) maps e to 8 - e, so
# N0(8 - e) = 1 - N0(e) gives [4, 8].

_LOG_C = np.array([1.0, 1.0 / 4.0, 9.0 / 64.0, 25.0 / 256.0])  # c_n = ((1/2)_n / n!)²
_LOG_A = _LOG_C * 16.0 ** -np.arange(4) / (2 * np.arange(4) + 1)  # a_n
_LOG_B = _LOG_A / (2 * np.arange(4) + 1)
_N0_NODES = 2049  # grid of [0, 4], h = 1/512
_N0_GAUSS = 16


def _rho_2d(t: np.ndarray) -> np.ndarray:
    """ρ at e = 4 - t, 0 < t <= 4 (density of states per site of the 2-D Laplacian)."""
    return ellipkm1(t * t / 16.0) / (2.0 * np.pi**2)


def _rho_log(t: np.ndarray) -> np.ndarray:
    """The log-singular part Σ_n c_n (t²/16)^n ln(16/t) / (2π²) of ρ, 0 < t <= 4."""
    u = t * t / 16.0
    poly = _LOG_C[0] + u * (_LOG_C[1] + u * (_LOG_C[2] + u * _LOG_C[3]))
    return poly * np.log(16.0 / t) / (2.0 * np.pi**2)


@functools.lru_cache(maxsize=1)
def _n0_table() -> tuple[np.ndarray, np.ndarray]:
    """R and h·R' at the nodes of the uniform grid of [0, 4] (built once, milliseconds)."""
    e = np.linspace(0.0, 4.0, _N0_NODES)
    x, w = roots_legendre(_N0_GAUSS)
    a, b = e[:-1, None], e[1:, None]
    t = 4.0 - (0.5 * (a + b) + 0.5 * (b - a) * x[None, :])  # Gauss nodes: 0 < t < 4
    pieces = 0.5 * (b - a)[:, 0] * ((_rho_2d(t) - _rho_log(t)) @ w)
    values = np.concatenate([[0.0], np.cumsum(pieces)])
    tn = 4.0 - e[:-1]
    slopes = np.concatenate([_rho_2d(tn) - _rho_log(tn), [0.0]])  # the difference -> 0 at t = 0
    h = e[1] - e[0]
    out = (values, h * slopes)
    for arr in out:
        arr.setflags(write=False)
    return out


@numba.njit(cache=True, nogil=True)
def _log_part(t: float) -> float:
    """G(t) = (t / 2π²) [ln(16/t) A(t²) + B(t²)], the integral over (0, t) of the log terms."""
    if t <= 0.0:
        return 0.0
    u = t * t
    A = _LOG_A[0] + u * (_LOG_A[1] + u * (_LOG_A[2] + u * _LOG_A[3]))
    B = _LOG_B[0] + u * (_LOG_B[1] + u * (_LOG_B[2] + u * _LOG_B[3]))
    return t * (math.log(16.0 / t) * A + B) / (2.0 * math.pi**2)


@numba.njit(cache=True, nogil=True)
def _n0(e: float, values: np.ndarray, hslopes: np.ndarray) -> float:
    """N0(e) from the table of R (see the comment above); scalar."""
    if e <= 0.0:
        return 0.0
    if e >= 8.0:
        return 1.0
    upper = e > 4.0
    x = 8.0 - e if upper else e
    nodes = values.shape[0]
    pos = x * ((nodes - 1) / 4.0)
    i = min(int(pos), nodes - 2)
    s = pos - i
    r = 1.0 - s
    # cubic Hermite on [node i, node i + 1] (hslopes: derivatives times the spacing)
    R = (
        (1.0 + 2.0 * s) * r * r * values[i]
        + s * r * r * hslopes[i]
        + s * s * (3.0 - 2.0 * s) * values[i + 1]
        - s * s * r * hslopes[i + 1]
    )
    half = R + (_log_part(4.0) - _log_part(4.0 - x))
    return 1.0 - half if upper else half


@numba.njit(cache=True, nogil=True, parallel=True)
def _n0_array(e: np.ndarray, values: np.ndarray, hslopes: np.ndarray, out: np.ndarray) -> None:
    for i in numba.prange(e.shape[0]):
        out[i] = _n0(e[i], values, hslopes)


@numba.njit(cache=True, nogil=True, parallel=True)
def _weyl_lattice_2d(
    W: np.ndarray, E: np.ndarray, values: np.ndarray, hslopes: np.ndarray, out: np.ndarray
) -> None:
    B, m = E.shape
    for task in numba.prange(B * m):
        b = task // m
        j = task - b * m
        e = E[b, j]
        total = 0.0
        for x in range(W.shape[1]):
            total += _n0(e - W[b, x], values, hslopes)
        out[b, j] = total


def free_idos_2d(e: np.ndarray | float) -> np.ndarray:
    """N0(e), the integrated density of states per site of the free 2-D periodic lattice.

    N0(e) = |{k ∈ [-π, π]² : 4 - 2 cos k1 - 2 cos k2 <= e}| / (2π)²; 0 for e <= 0, 1 for
    e >= 8, N0(4) = 1/2, N0(e) ~ e / (4π) as e -> 0 (the continuum's).  Elliptic-integral
    density of states with the log singularity at e = 4 integrated in closed form and
    the smooth rest tabulated (see the comment above); error below 1e-12.  Any shape;
    returns a float64 array of the shape of e.
    """
    ea = np.asarray(e, dtype=np.float64)
    flat = np.ascontiguousarray(ea.reshape(-1))
    out = np.empty_like(flat)
    start_numba_threads()
    _n0_array(flat, *_n0_table(), out)
    return out.reshape(ea.shape)


# -- the integrated density of states of the free 3-D lattice --------------------------
#
# N3(e) = |{k ∈ [-π, π]³ : Σ_i (2 - 2 cos k_i) <= e}| / (2π)³, per site.  One axis at a
# time, N3 is the 2-D IDOS averaged over the third axis's band:
#     N3(e) = (1/π) ∫_0^π N0(e - 2 + 2 cos k) dk,        N0 = free_idos_2d,
# whose integrand is continuous with kinks (N0' jumps at 0 and 8, is log-divergent at
# 4) where e - 2 + 2 cos k ∈ {0, 4, 8}.  The k-range is cut at those points and each
# piece integrated by tanh-sinh quadrature (double exponential: endpoint kinks and
# logs cost nothing), step 1/16, 101 nodes: 1e-15 against step 1/64.
# The only singularities of N3 are the van Hove energies 0, 4, 8, 12 (k_i ∈ {0, π}),
# where N3 = A(e) + |e - e_c|^{3/2} B(e) on one side, with A, B analytic.  In the
# variable s = √e on [0, 2], s = √(4 - e) on [2, 4], s = √(e - 4) on [4, 6], N3 is
# then analytic, and tabulated as: a Chebyshev series of degree 20 on each of 8 equal
# pieces of s ∈ [0, √2] (fitted at the Chebyshev points: the quadrature above, 504
# energies, once per process, ~15 ms), turned into values and s-derivatives at 1025
# nodes per panel for cubic Hermite interpolation (error ~ h⁴ max|N3⁗(s)| / 384,
# h = √2/1024: 1e-15).  The symmetry k -> k + (π, π, π) gives N3(12 - e) = 1 - N3(e).

_N3_PIECES = 8
_N3_DEGREE = 20
_N3_NODES = 1025
_TANH_SINH_STEP = 1.0 / 16.0
_TANH_SINH_MAX = 3.15  # |t| range: the node weights there are below 1e-19
_ROOT2 = math.sqrt(2.0)


def _tanh_sinh() -> tuple[np.ndarray, np.ndarray]:
    """Nodes in (-1, 1) and weights of tanh-sinh quadrature (Takahasi–Mori)."""
    t = np.arange(-_TANH_SINH_MAX, _TANH_SINH_MAX + 0.5 * _TANH_SINH_STEP, _TANH_SINH_STEP)
    u = 0.5 * np.pi * np.sinh(t)
    return np.tanh(u), _TANH_SINH_STEP * 0.5 * np.pi * np.cosh(t) / np.cosh(u) ** 2


def _n3_quadrature(e: np.ndarray) -> np.ndarray:
    """N3(e) for 0 < e < 12 by the cut tanh-sinh quadrature over k (see above); ``(m,)``."""
    x, w = _tanh_sinh()
    cuts = np.full((e.size, 5), np.pi)  # unused cuts at π: empty pieces
    cuts[:, 0] = 0.0
    for j, c in enumerate((0.0, 4.0, 8.0)):
        z = 0.5 * (c - e + 2.0)  # cos k at the kink
        inside = (z > -1.0) & (z < 1.0)
        cuts[inside, j + 1] = np.arccos(z[inside])
    cuts.sort(axis=1)
    a, b = cuts[:, :-1, None], cuts[:, 1:, None]  # (m, 4, 1)
    k = 0.5 * (a + b) + 0.5 * (b - a) * x
    n0 = free_idos_2d(e[:, None, None] - 2.0 + 2.0 * np.cos(k))
    return np.sum(0.5 * (b - a) * w * n0, axis=(1, 2)) / np.pi


def _panel_energy(panel: int, s: np.ndarray) -> np.ndarray:
    """e of the variable s on panel 0 ([0, 2], s = √e), 1 ([2, 4], √(4 - e)), 2 ([4, 6])."""
    return (s * s, 4.0 - s * s, 4.0 + s * s)[panel]


@functools.lru_cache(maxsize=1)
def _n3_table() -> tuple[np.ndarray, np.ndarray]:
    """Values and h·dN3/ds at the s-nodes of the three panels, ``(3, _N3_NODES)`` each."""
    cheb = np.polynomial.chebyshev
    j = np.arange(_N3_DEGREE + 1)
    theta = np.pi * (j + 0.5) / (_N3_DEGREE + 1)
    x = np.cos(theta)  # Chebyshev points of the first kind
    T = np.cos(np.outer(j, theta))  # T_m(x_j)
    piece = _ROOT2 / _N3_PIECES
    h = _ROOT2 / (_N3_NODES - 1)
    s_nodes = np.linspace(0.0, _ROOT2, _N3_NODES)
    which = np.minimum((s_nodes / piece).astype(np.int64), _N3_PIECES - 1)
    lo = which * piece
    t_nodes = (2.0 * (s_nodes - lo) - piece) / piece  # in [-1, 1] on its piece
    fit_s = (np.arange(_N3_PIECES)[:, None] + 0.5 + 0.5 * x[None, :]) * piece  # (pieces, deg+1)
    fit_e = np.stack([_panel_energy(p, fit_s) for p in range(3)])  # (3, pieces, deg+1)
    f = _n3_quadrature(fit_e.reshape(-1)).reshape(fit_e.shape)
    coef = (2.0 / (_N3_DEGREE + 1)) * f @ T.T  # (3, pieces, deg+1)
    coef[..., 0] *= 0.5
    values = np.empty((3, _N3_NODES))
    hslopes = np.empty((3, _N3_NODES))
    for p in range(3):
        for q in range(_N3_PIECES):
            at = which == q
            c = coef[p, q]
            values[p, at] = cheb.chebval(t_nodes[at], c)
            hslopes[p, at] = cheb.chebval(t_nodes[at], cheb.chebder(c)) * (2.0 / piece) * h
    values[0, 0] = 0.0  # N3(0) = 0 exactly, N3 ~ e^{3/2}: zero slope in s
    hslopes[0, 0] = 0.0
    for arr in (values, hslopes):
        arr.setflags(write=False)
    return values, hslopes


@numba.njit(cache=True, nogil=True)
def _n3(e: float, values: np.ndarray, hslopes: np.ndarray) -> float:
    """N3(e) from the Hermite table of :func:`_n3_table`; scalar."""
    if e <= 0.0:
        return 0.0
    if e >= 12.0:
        return 1.0
    upper = e > 6.0
    x = 12.0 - e if upper else e
    if x <= 2.0:
        panel, s = 0, math.sqrt(x)
    elif x <= 4.0:
        panel, s = 1, math.sqrt(4.0 - x)
    else:
        panel, s = 2, math.sqrt(x - 4.0)
    nodes = values.shape[1]
    pos = s * ((nodes - 1) / math.sqrt(2.0))
    i = min(int(pos), nodes - 2)
    t = pos - i
    r = 1.0 - t
    half = (
        (1.0 + 2.0 * t) * r * r * values[panel, i]
        + t * r * r * hslopes[panel, i]
        + t * t * (3.0 - 2.0 * t) * values[panel, i + 1]
        - t * t * r * hslopes[panel, i + 1]
    )
    return 1.0 - half if upper else half


@numba.njit(cache=True, nogil=True)
def _n3_range(
    e: np.ndarray, values: np.ndarray, hslopes: np.ndarray, out: np.ndarray, start: int, stop: int
) -> None:
    for i in range(start, stop):
        out[i] = _n3(e[i], values, hslopes)


@numba.njit(cache=True, nogil=True)
def _weyl_lattice_3d_range(
    W: np.ndarray,
    E: np.ndarray,
    values: np.ndarray,
    hslopes: np.ndarray,
    out: np.ndarray,
    start: int,
    stop: int,
) -> None:
    """Tasks start..stop-1 of the B·m (potential, energy) pairs: Σ_x N3(E - W(x))."""
    m = E.shape[1]
    for task in range(start, stop):
        b = task // m
        j = task - b * m
        e = E[b, j]
        total = 0.0
        for x in range(W.shape[1]):
            total += _n3(e - W[b, x], values, hslopes)
        out[b, j] = total


def free_idos_3d(e: np.ndarray | float) -> np.ndarray:
    """N3(e), the integrated density of states per site of the free 3-D periodic lattice.

    N3(e) = |{k ∈ [-π, π]³ : 6 - 2 cos k1 - 2 cos k2 - 2 cos k3 <= e}| / (2π)³
          = (1/π) ∫_0^π N0(e - 2 + 2 cos k) dk   (N0 = :func:`free_idos_2d`);
    0 for e <= 0, 1 for e >= 12, N3(6) = 1/2, N3(12 - e) = 1 - N3(e), and
    N3(e) ~ e^{3/2} / (6π²) as e -> 0 (the continuum's k³/(6π²), k = √e).  Tabulated
    once per process in √-variables where it is analytic (see the comment above);
    error ~1e-15 against the quadrature, ~1e-12 overall (that of N0).  Any shape;
    returns a float64 array of the shape of e.
    """
    ea = np.asarray(e, dtype=np.float64)
    flat = np.ascontiguousarray(ea.reshape(-1))
    out = np.empty_like(flat)
    run_ranges(_n3_range, flat.size, flat, *_n3_table(), out)
    return out.reshape(ea.shape)


@functools.lru_cache(maxsize=16)
def free_torus_levels(shape: tuple[int, ...]) -> np.ndarray:
    """The free operator's eigenvalues on the periodic lattice of sides ``shape``, sorted:

        ε(k) = Σ_i (2 - 2 cos(2π k_i / L_i)),   k ∈ Z_{L1} × ... × Z_{Ld},

    ``(L1 ··· Ld,)`` float64, read-only (cached per shape). #{ε <= e} / n is the free
    torus's own integrated density of states, a staircase of degenerate shells.
    """
    levels = np.zeros(())
    for L in shape:
        levels = np.add.outer(levels, 2.0 - 2.0 * np.cos(2.0 * np.pi * np.arange(L) / L))
    out = np.sort(levels.ravel())
    out.setflags(write=False)
    return out


def _weyl_torus(W2: np.ndarray, E2: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Σ_x #{ε <= E - W(x)} / n for W2 ``(B, n)``, E2 ``(B, m)`` -> ``(B, m)``."""
    levels = free_torus_levels(shape)
    B, n = W2.shape
    out = np.empty(E2.shape)
    step = max(1, _WEYL_CHUNK // max(1, n))
    for b in range(B):
        for j in range(0, E2.shape[1], step):
            gap = E2[b, j : j + step, None] - W2[b][None, :]
            out[b, j : j + step] = np.searchsorted(levels, gap, side="right").sum(axis=-1) / n
    return out


def weyl_count(W: np.ndarray, E: np.ndarray, kind: str = "continuum", dim: int = 1) -> np.ndarray:
    """Landscape Weyl law, a real-valued estimate of N_V(E).

    dim = 1 (W ``(n,)`` or ``(B, n)``):
    continuum: (1/π) Σ_x sqrt((E - W(x))_+)
    lattice:   (1/π) Σ_x arccos(clip(1 - (E - W(x))/2, -1, 1))  (the free lattice
               density of states, counting states of -Δ below E - W(x) per site)

    dim = 2 (W ``(L1, L2)`` or ``(B, L1, L2)``, sums over all L1·L2 sites):
    continuum: (1/4π) Σ_x (E - W(x))_+
    lattice:   Σ_x N0(E - W(x)), N0 the integrated density of states per site of the
               free 2-D lattice (:func:`free_idos_2d`: 0 below 0, 1 above 8)

    dim = 3 (W ``(L1, L2, L3)`` or ``(B, L1, L2, L3)``, sums over all L1·L2·L3 sites):
    continuum: (1/6π²) Σ_x (E - W(x))_+^{3/2}  (the free continuum IDOS per unit
               volume, k³/(6π²) with k = √E)
    lattice:   Σ_x N3(E - W(x)), N3 the integrated density of states per site of the
               free 3-D lattice (:func:`free_idos_3d`: 0 below 0, 1 above 12)

    torus (any dim): Σ_x #{ε(k) <= E - W(x)} / n, ε the free operator's eigenvalues on
               W's own periodic lattice (:func:`free_torus_levels`), n its sites: the
               lattice law with the finite lattice's free staircase in place of the
               infinite lattice's IDOS (its limit as the sides grow)

    Shapes as :func:`box_count`; returns float64.
    """
    if kind not in ("continuum", "lattice", "torus"):
        raise ValueError(f"kind must be 'continuum', 'lattice' or 'torus', got {kind!r}")
    dim = check_dim(dim)
    Wa = _as_landscape_potential(W, dim)
    Ea = as_energies(E, Wa, dim=dim)
    E2 = np.atleast_2d(Ea)
    B, m = E2.shape
    W2 = Wa.reshape(B, -1)  # (B, sites)
    n = W2.shape[-1]
    if kind == "torus":
        out = _weyl_torus(np.ascontiguousarray(W2), E2, tuple(Wa.shape[-dim:]))
        return out[0] if Wa.ndim == dim else out
    out = np.empty((B, m))
    if dim == 2 and kind == "lattice":  # compiled: O(B m n) table look-ups, no intermediate
        W2, E2 = np.ascontiguousarray(W2), np.ascontiguousarray(E2)
        start_numba_threads()
        _weyl_lattice_2d(W2, E2, *_n0_table(), out)
        return out[0] if Wa.ndim == dim else out
    if dim == 3 and kind == "lattice":  # the same, over threads (run_ranges)
        W2, E2 = np.ascontiguousarray(W2), np.ascontiguousarray(E2)
        run_ranges(_weyl_lattice_3d_range, B * m, W2, E2, *_n3_table(), out)
        return out[0] if Wa.ndim == dim else out
    step = max(1, _WEYL_CHUNK // max(1, B * n))
    for j in range(0, m, step):
        gap = E2[:, j : j + step, None] - W2[:, None, :]  # (B, chunk, n)
        if dim == 1:
            if kind == "continuum":
                per_site = np.sqrt(np.maximum(gap, 0.0))
            else:
                per_site = np.arccos(np.clip(1.0 - 0.5 * gap, -1.0, 1.0))
            out[:, j : j + step] = per_site.sum(axis=-1) / np.pi
        elif dim == 2:
            out[:, j : j + step] = np.maximum(gap, 0.0).sum(axis=-1) / (4.0 * np.pi)
        else:
            g = np.maximum(gap, 0.0)
            out[:, j : j + step] = (g * np.sqrt(g)).sum(axis=-1) / (6.0 * np.pi**2)
    return out[0] if Wa.ndim == dim else out
