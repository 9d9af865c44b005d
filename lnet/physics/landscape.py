"""The localization landscape u = H⁻¹1 and the landscape potential W = 1/u.

1-D: O(n) per potential (Sherman–Morrison on a tridiagonal LAPACK solve).
2-D: a sparse LU factorisation of the 5-point H with iterative refinement, the
residual taken in extended precision through the stencil.
3-D: conjugate gradients on the 7-point H, Jacobi-preconditioned and deflated by the
constant vector (exactly: H·1 = V), with the same long-double iterative refinement.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg import lapack

from lnet.physics.hamiltonian import _hamiltonian_2d, _hamiltonian_3d, _one_blas_thread
from lnet.physics.validation import as_field, as_potential, check_dim

_EPS = np.finfo(np.float64).eps
_MAX_REFINE = 30  # refinement steps; contraction is ~ ε cond(H), 2–4 steps in practice
CG_TOL = 1e-10  # 3-D: relative residual of each inner (deflated, preconditioned) CG solve
BACKWARD_TOL = 1e-10  # 3-D: the largest componentwise backward error accepted


def _landscape_one(V: np.ndarray, name: str = "V") -> np.ndarray:
    # H = A + z zᵀ with z = e_0 - e_{n-1}: zzᵀ carries the corner bond (-1 at (0, n-1))
    # and adds 1 to both end diagonals, which A takes off.  A = (Neumann path
    # Laplacian) + diag(V) is SPD for V >= 0, V ≢ 0, so LAPACK's dptsv (LDLᵀ of an SPD
    # tridiagonal) applies, and Sherman–Morrison with 1 + zᵀA⁻¹z >= 1 is stable.
    n = V.shape[0]
    d = 2.0 + V
    d[0] -= 1.0
    d[-1] -= 1.0
    rhs = np.zeros((n, 2))
    rhs[:, 0] = 1.0
    rhs[0, 1] = 1.0
    rhs[-1, 1] = -1.0
    _, _, sol, info = lapack.dptsv(d, -np.ones(n - 1), rhs)
    if info != 0:
        # exact arithmetic says SPD, but every 2 + V(x) rounded to 2: V is below round-off
        raise ValueError(
            f"{name} is too small to resolve in float64 (max V = {V.max():.3g}: every "
            "2 + V(x) rounds to 2 and H is numerically singular); scale the potential up"
        )
    x, y = sol[:, 0], sol[:, 1]
    zx = x[0] - x[-1]
    zy = y[0] - y[-1]
    return x - y * (zx / (1.0 + zy))


def _residual(V: np.ndarray, u: np.ndarray, dim: int) -> np.ndarray:
    """1 - H u over the last ``dim`` axes in long double, written as differences."""
    ul = u.astype(np.longdouble)
    lap = np.zeros_like(ul)
    for axis in range(-dim, 0):
        for shift in (1, -1):
            lap += ul - np.roll(ul, shift, axis=axis)
    return 1.0 - (lap + V.astype(np.longdouble) * ul)


def residual_2d(V: np.ndarray, u: np.ndarray) -> np.ndarray:
    """1 - H u on the L1×L2 torus in extended precision (``np.longdouble``), by the stencil.

    (H u)(x, y) = Σ_nb (u(x, y) - u(nb)) + V(x, y) u(x, y) over the four neighbours
    nb = (x±1, y), (x, y±1) (repeated when a side is 2).  Written as differences, the
    large cancelling parts never meet: u(x, y) - u(nb) of two float64 values within a
    factor 2^11 of each other is exact in long double (x86 80-bit, 64-bit significand;
    other neighbours differ by about the larger one, rounded relative to itself), and
    every other operation rounds at ε_ld ≈ 1e-19 of its result.  So the residual has no
    error of size ε |4u| even when u is huge and nearly constant (V tiny), where the
    float64 product H @ u would lose it all.  (Where long double is double, e.g. on
    ARM macOS, the refinement still converges, to a few ε cond(H) instead of ~ε.)
    Shapes: V, u ``(..., L1, L2)``.
    """
    return _residual(V, u, 2)


def residual_3d(V: np.ndarray, u: np.ndarray) -> np.ndarray:
    """1 - H u on the L1×L2×L3 torus in long double, by the 7-point stencil.

    (H u)(x) = Σ_nb (u(x) - u(nb)) + V(x) u(x) over the six neighbours (x±e_i, repeated
    when a side is 2), as differences for the reasons of :func:`residual_2d`.
    Shapes: V, u ``(..., L1, L2, L3)``.
    """
    return _residual(V, u, 3)


def _too_small(V: np.ndarray, name: str) -> ValueError:
    return ValueError(
        f"{name} is too small to resolve in float64 (max V = {V.max():.3g}: 4 + V(x) rounds "
        "to 4 and H is numerically singular); scale the potential up"
    )


def _landscape_2d_one(V: np.ndarray, name: str = "V") -> np.ndarray:
    # H is SPD for V >= 0, V ≢ 0.  SuperLU with a symmetric (minimum degree on AᵀA + A)
    # ordering and diagonal pivots only is a sparse Cholesky in all but name.  The
    # stored diagonal 4 + V(x) rounds V at ε·4: for tiny V (amplitude 1e-6: cond(H) ~
    # 1e7) the float64 factor solves a perturbed system, and a plain solve is off by
    # ~ ε cond(H).  Iterative refinement with the exact residual 1 - H u (residual_2d,
    # long double) converges to u to the last bits as long as ε cond(H) < 1, i.e. for
    # any V above ~1e-14; each step costs one pair of triangular solves.
    L1, L2 = V.shape
    H = _hamiltonian_2d(V).tocsc()
    try:
        lu = spla.splu(
            H,
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
    except RuntimeError:  # "Factor is exactly singular": 4 + V rounded to 4 everywhere
        raise _too_small(V, name) from None
    u = lu.solve(np.ones(L1 * L2)).reshape(L1, L2)
    last = np.inf
    for _ in range(_MAX_REFINE):
        r = residual_2d(V, u)
        du = lu.solve(r.astype(np.float64).reshape(-1)).reshape(L1, L2)
        u = u + du
        if not np.all(np.isfinite(u)):
            break
        step = float(np.max(np.abs(du) / np.abs(u)))
        if step <= 2.0 * _EPS:
            if np.all(u > 0):
                return u
            break
        if step >= last and step > 1e3 * _EPS:
            break  # diverging or stagnating far from round-off
        last = min(last, step)
    else:
        if last <= 1e3 * _EPS and np.all(u > 0):
            return u  # stalled at round-off (last-bit oscillation)
    raise _too_small(V, name)


def _deflated_cg(
    H: sp.csr_matrix, v: np.ndarray, total: float, b: np.ndarray, tol: float, maxiter: int
) -> np.ndarray:
    """x ≈ H⁻¹ b by conjugate gradients deflated by the constant vector, Jacobi-preconditioned.

    Z = 1 (n×1) spans the near-kernel of H = -Δ + V when V is small: its Rayleigh
    quotient is mean V, every other eigenvalue is >= λ₂(-Δ) = 4 sin²(π/max L) (V >= 0),
    so plain CG would need ~ (mean V)^{-1/2} steps.  Deflation (Nicolaides; the DEF1
    variant of Tang et al. 2009) removes Z exactly, because H Z = V and
    E = Zᵀ H Z = Σ V hold without round-off (-Δ 1 = 0):

        P r = r - V (1ᵀ r) / Σ V,     Pᵀ y = y - 1 (Vᵀ y) / Σ V,
        x = 1 (1ᵀ b) / Σ V + Pᵀ x̂,

    with x̂ from CG on P H x̂ = P b, preconditioned by M = diag(6 + V) (Jacobi: huge and
    mixed V are then as easy as moderate V).  1ᵀ H p = Vᵀ p is used instead of summing
    H p.  Stops when |P b - P H x̂| <= tol |b| or after ``maxiter`` steps (or on a
    breakdown, pᵀ P H p <= 0, which round-off alone can cause); the caller's refinement
    decides whether the result is good enough.  Shapes: v, b ``(n,)``.
    """
    inv_diag = 1.0 / (6.0 + v)
    x = np.zeros_like(b)
    r = b - v * (b.sum() / total)
    stop = tol * np.linalg.norm(b)
    if np.linalg.norm(r) > stop:
        y = r * inv_diag
        p = y.copy()
        ry = r @ y
        for _ in range(maxiter):
            w = H @ p
            w -= v * ((v @ p) / total)
            pw = p @ w
            if not pw > 0.0:
                break
            alpha = ry / pw
            x += alpha * p
            r -= alpha * w
            if np.linalg.norm(r) <= stop:
                break
            y = r * inv_diag
            ry_next = r @ y
            p *= ry_next / ry
            p += y
            ry = ry_next
    return x + ((b.sum() - v @ x) / total)


def _landscape_3d_one(V: np.ndarray, name: str = "V") -> np.ndarray:
    # V near the underflow threshold: n / Σ V overflows, and the refinement raises
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return _refined_3d(V, name)


def _refined_3d(V: np.ndarray, name: str) -> np.ndarray:
    # Iterative refinement as in 2-D, the correction H⁻¹ r by deflated CG: every pass
    # gains ~log10(1/CG_TOL) digits, the residual r = 1 - H u is exact to ~ε_ld in long
    # double (residual_3d), so u converges to the last bits (2–4 passes).  Deflation
    # solves the ill-conditioned direction exactly, which also makes V below round-off
    # (every 6 + V(x) rounding to 6) resolvable: u = n / Σ V to ε.
    shape = V.shape
    H = _hamiltonian_3d(V)
    v = V.reshape(-1)
    total = float(v.sum())
    maxiter = 100 * max(shape) + 1000  # CG takes ~ 3 max(L) steps per 1e-10 in practice
    u = np.zeros(v.size)
    r = np.ones(v.size)
    last = np.inf
    done = False
    for _ in range(_MAX_REFINE):
        du = _deflated_cg(H, v, total, r, CG_TOL, maxiter)
        u = u + du
        if not np.all(np.isfinite(u)):
            break
        step = float(np.max(np.abs(du) / np.abs(u)))
        res = residual_3d(V, u.reshape(shape)).reshape(-1)
        done = step <= 2.0 * _EPS
        if done or (step >= last and step > 1e3 * _EPS):
            break  # converged, or diverging / stagnating (accepted below if at round-off)
        last = min(last, step)
        r = res.astype(np.float64)
    if np.all(np.isfinite(u)) and np.all(u > 0) and (done or last <= 1e3 * _EPS):
        # componentwise backward error |1 - H u| / (1 + (6 + V) u): what certifies u
        if np.max(np.abs(res) / (1.0 + (6.0 + v) * u)) <= BACKWARD_TOL:
            return u.reshape(shape)
    raise ValueError(
        f"{name}: the 3-D landscape did not converge to round-off (max V = {V.max():.3g}, "
        f"min V = {V.min():.3g}); the potential is outside what float64 resolves"
    )


def landscape(V: np.ndarray, dim: int = 1) -> np.ndarray:
    """The landscape u solving H u = 1 on the periodic lattice.

    dim = 1: V ``(n,)`` or ``(B, n)``; O(n) per potential, Sherman–Morrison on an SPD
    tridiagonal LAPACK solve.
    dim = 2: V ``(L1, L2)`` or ``(B, L1, L2)``, H the 5-point operator (see
    :func:`lnet.physics.hamiltonian`); a sparse LU (symmetric ordering, diagonal
    pivots: H is SPD) with iterative refinement on the long-double residual, relative
    error ~ε per site even for tiny V (amplitude 1e-6) and huge V (1e6).  No dense
    matrix; O((L1 L2)^{3/2}) per potential.

    dim = 3: V ``(L1, L2, L3)`` or ``(B, L1, L2, L3)``, H the 7-point operator.  Conjugate
    gradients deflated by the constant vector (exactly: H·1 = V, so the near-kernel of
    a small V is solved in closed form) and Jacobi-preconditioned, inside iterative
    refinement on the long-double residual (:func:`residual_3d`) until the correction
    is at round-off.  Every u returned has componentwise backward error
    |1 - H u| / (1 + (6 + V) u) <= 1e-10 (in practice ~1e-16), and H is an M-matrix
    (H⁻¹ >= 0), so |u - u_exact| <= H⁻¹ |1 - H u| site by site; against refined dense
    solves the relative error is ~ε.  O(n · max L) per potential (CG steps grow like
    max L), no matrix factorised: ~0.01 s at 16³, 0.04–0.1 s at 32³, 0.1–0.5 s at 48³
    on one core (docs/physics.md compares SuperLU and AMG).

    V >= 0 and not identically zero.  Returns u of the same shape as V; u > 0 and
    1/max V <= u <= 1/min V (maximum principle).  Raises ValueError when V is too small
    for float64 (every 2 + V(x), resp. 4 + V(x), rounds to 2, resp. 4); in 3-D the
    deflation resolves such V (u = n / Σ V to ε for V ≡ c), and ValueError is raised
    only if the refinement fails to converge.
    """
    dim = check_dim(dim)
    Va = as_potential(V, dim=dim)
    if dim == 1:
        if Va.ndim == 1:
            return _landscape_one(Va)
        return np.stack([_landscape_one(row, f"V[{b}]") for b, row in enumerate(Va)])
    one = _landscape_2d_one if dim == 2 else _landscape_3d_one
    with _one_blas_thread():
        if Va.ndim == dim:
            return one(Va)
        return np.stack([one(row, f"V[{b}]") for b, row in enumerate(Va)])


def landscape_potential(V: np.ndarray, dim: int = 1) -> np.ndarray:
    """W = 1/u, the effective potential of the landscape theory; same shape as V."""
    return 1.0 / landscape(V, dim=dim)


def periodic_derivative(f: np.ndarray) -> np.ndarray:
    """Periodic central difference f'(x) = (f(x+1) - f(x-1)) / 2 along the last axis."""
    fa = as_field(f, "f")
    return 0.5 * (np.roll(fa, -1, axis=-1) - np.roll(fa, 1, axis=-1))


def periodic_gradient(f: np.ndarray, dim: int = 2) -> np.ndarray:
    """Periodic central differences along every lattice axis, stacked before the lattice.

    dim = 2: f ``(L1, L2)`` or ``(B, L1, L2)`` -> ``(2, L1, L2)`` or ``(B, 2, L1, L2)`` with
        g[..., 0, x, y] = (f(x+1, y) - f(x-1, y)) / 2,
        g[..., 1, x, y] = (f(x, y+1) - f(x, y-1)) / 2,   indices mod (L1, L2)
    (zero along a side of length 2, where x+1 ≡ x-1).
    dim = 1: f ``(n,)`` or ``(B, n)`` -> ``(1, n)`` or ``(B, 1, n)``, the
    :func:`periodic_derivative` as a one-component gradient.
    dim = 3: f ``(L1, L2, L3)`` or ``(B, L1, L2, L3)`` -> ``(3, L1, L2, L3)`` or
    ``(B, 3, L1, L2, L3)``, g[..., i, x] = (f(x + e_i) - f(x - e_i)) / 2, indices mod the
    sides (zero along a side of 2).  The default dim = 2 reads a 3-D array as a batch of
    2-D fields: pass dim=3 for a 3-D lattice.
    """
    dim = check_dim(dim)
    fa = as_field(f, "f", dim=dim)
    parts = [
        0.5 * (np.roll(fa, -1, axis=axis) - np.roll(fa, 1, axis=axis)) for axis in range(-dim, 0)
    ]
    return np.stack(parts, axis=fa.ndim - dim)
