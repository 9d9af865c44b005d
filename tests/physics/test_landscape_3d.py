"""The 3-D landscape u = H⁻¹1 against independent high-precision references."""

import importlib
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_limits

from lnet.physics import hamiltonian, landscape, landscape_potential, periodic_gradient
from lnet.physics.landscape import residual_3d

landscape_module = importlib.import_module("lnet.physics.landscape")  # the module, not the function

EPS = np.finfo(float).eps


def neighbours(shape: tuple[int, int, int]) -> np.ndarray:
    """``(n, 6)`` flat neighbour indices by np.roll of the index array (independent of lnet)."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    cols = [np.roll(idx, s, axis=a).reshape(-1) for a in range(3) for s in (1, -1)]
    return np.stack(cols, axis=1)


def mp_landscape(V: np.ndarray, dps: int = 40) -> np.ndarray:
    """u = H⁻¹1 by Gaussian elimination in 40-digit arithmetic (mpmath), tiny lattices."""
    n = V.size
    with mpmath.workdps(dps):
        H = mpmath.zeros(n, n)
        for i, v in enumerate(V.reshape(-1)):
            H[i, i] = 6 + mpmath.mpf(float(v))
        for i, nbs in enumerate(neighbours(V.shape)):
            for j in nbs:
                H[i, int(j)] -= 1
        x = mpmath.lu_solve(H, mpmath.matrix([1] * n))
        return np.array([float(x[i]) for i in range(n)]).reshape(V.shape)


def exact_residual(V: np.ndarray, u: np.ndarray) -> np.ndarray:
    """1 - H u in exact rational arithmetic, rounded to float64 at the end."""
    uf = [Fraction(float(x)) for x in u.reshape(-1)]
    vf = [Fraction(float(x)) for x in V.reshape(-1)]
    nbs = neighbours(V.shape)
    r = [1 - ((6 + vf[i]) * uf[i] - sum(uf[int(j)] for j in nbs[i])) for i in range(V.size)]
    return np.array([float(x) for x in r]).reshape(V.shape)


def refined_dense_landscape(V: np.ndarray) -> np.ndarray:
    """Dense LAPACK LU plus iterative refinement on the exact rational residual."""
    with threadpool_limits(limits=1, user_api="blas"):
        lu = scipy.linalg.lu_factor(hamiltonian(V, dim=3).toarray())
    u = scipy.linalg.lu_solve(lu, np.ones(V.size)).reshape(V.shape)
    for _ in range(8):
        du = scipy.linalg.lu_solve(lu, exact_residual(V, u).reshape(-1)).reshape(V.shape)
        u = u + du
        if np.max(np.abs(du) / u) < 1e-17:
            break
    return u


def make(kind: str, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    if kind == "mixed":  # 12 decades across the lattice
        return 10.0 ** rng.uniform(-6, 6, shape)
    if kind == "spikes":
        return np.where(rng.random(shape) < 0.1, 50.0, 1e-3)
    if kind == "single-site":
        V = np.zeros(shape)
        V[shape[0] // 2, shape[1] - 1, 0] = 4.0
        return V
    if kind == "constant":
        return np.full(shape, 0.37)
    if kind == "slab":  # a wall of 1e6 across a region of 1e-6
        V = np.full(shape, 1e-6)
        V[: max(1, shape[0] // 3)] = 1e6
        return V
    return float(kind) * rng.random(shape)


KINDS = ["1", "1e-6", "1e6", "1e-12", "mixed", "spikes", "single-site", "constant", "slab"]
TINY = [(2, 2, 2), (2, 3, 5), (3, 3, 3)]


@pytest.mark.parametrize("shape", TINY, ids=["x".join(map(str, s)) for s in TINY])
@pytest.mark.parametrize("kind", KINDS)
def test_tiny_lattices_match_40_digit_elimination(shape, kind, rng):
    V = make(kind, shape, rng)
    u = landscape(V, dim=3)
    assert u.shape == shape and u.dtype == np.float64
    np.testing.assert_allclose(u, mp_landscape(V), rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    "shape,kind",
    [
        ((4, 5, 6), "1"),
        ((4, 5, 6), "1e-6"),
        ((4, 5, 6), "1e6"),
        ((5, 3, 7), "mixed"),
        ((2, 9, 5), "spikes"),
        ((6, 6, 6), "slab"),
        ((7, 7, 7), "1e-12"),
    ],
)
def test_small_lattices_match_refined_dense_solve(shape, kind, rng):
    V = make(kind, shape, rng)
    np.testing.assert_allclose(landscape(V, dim=3), refined_dense_landscape(V), rtol=1e-12, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["1", "1e-6", "1e6", "mixed", "single-site"])
def test_10_cubed_matches_refined_dense_solve(kind, rng):
    V = make(kind, (10, 10, 10), rng)
    np.testing.assert_allclose(landscape(V, dim=3), refined_dense_landscape(V), rtol=1e-12, atol=0)


def test_plain_float64_solve_is_not_enough_for_tiny_potentials(rng):
    """A plain dense solve is off by ~ε cond(H) here; the deflated, refined CG is not."""
    V = 1e-6 * rng.random((6, 6, 6))
    with threadpool_limits(limits=1, user_api="blas"):
        plain = np.linalg.solve(hamiltonian(V, dim=3).toarray(), np.ones(V.size)).reshape(V.shape)
    exact = refined_dense_landscape(V)
    assert np.max(np.abs(plain - exact) / exact) > 1e-12
    assert np.max(np.abs(landscape(V, dim=3) - exact) / exact) < 1e-14


@pytest.mark.parametrize("shape", [(2, 2, 2), (3, 8, 5), (16, 16, 16)])
def test_constant_potential_has_constant_landscape(shape):
    for c in (1e-20, 1e-6, 0.25, 3.0, 1e6):  # deflation: exact even below round-off of 6 + V
        np.testing.assert_allclose(landscape(np.full(shape, c), dim=3), 1 / c, rtol=2e-16)


@pytest.mark.parametrize("kind", KINDS)
def test_maximum_principle_and_residual(kind, rng):
    V = make(kind, (5, 7, 6), rng)
    u = landscape(V, dim=3)
    slack = 1e-12
    assert np.all(u > 0)
    assert np.all(u >= (1 - slack) / V.max())
    if V.min() > 0:
        assert np.all(u <= (1 + slack) / V.min())
    W = landscape_potential(V, dim=3)
    np.testing.assert_array_equal(W, 1 / u)
    # the long-double stencil residual agrees with the exact one, and is at round-off
    np.testing.assert_allclose(
        residual_3d(V, u).astype(np.float64), exact_residual(V, u), rtol=1e-3, atol=1e-18
    )
    assert np.max(np.abs(exact_residual(V, u))) <= 8 * EPS * np.max((12 + V) * u)


@pytest.mark.parametrize("kind", ["1", "1e-6", "1e6", "mixed", "spikes"])
def test_32_cubed_backward_error_at_round_off(kind, rng):
    """Beyond dense sizes: |1 - H u| (long double) is a few ε of |H| u, and the maximum
    principle holds; H is an M-matrix, so |u - u_exact| <= H⁻¹|1 - H u| site by site."""
    V = make(kind, (32, 32, 32), rng)
    u = landscape(V, dim=3)
    r = residual_3d(V, u).astype(np.float64)
    assert np.max(np.abs(r) / (1 + (12 + V) * u)) <= 4 * EPS
    assert np.all(u >= (1 - 1e-12) / V.max()) and np.all(u <= (1 + 1e-12) / V.min())


def test_batch_matches_single(rng):
    V = rng.random((3, 4, 5, 3))
    V[1] *= 1e-6
    u = landscape(V, dim=3)
    assert u.shape == (3, 4, 5, 3)
    for b in range(3):
        np.testing.assert_array_equal(u[b], landscape(V[b], dim=3))
    np.testing.assert_array_equal(landscape_potential(V, dim=3), 1 / u)


def test_permuted_lattice_gives_permuted_landscape(rng):
    V = rng.random((4, 6, 5))
    np.testing.assert_allclose(
        landscape(V.transpose(2, 0, 1), dim=3), landscape(V, dim=3).transpose(2, 0, 1), rtol=1e-14
    )


def test_separable_potential_is_not_special_but_side_two_is(rng):
    """A side of 2 doubles the bond: the 2×L2×L3 landscape of V(x, y, z) = a(y, z) is the
    2-D landscape of a with the x-axis adding nothing (u constant along x)."""
    a = rng.random((5, 6)) + 0.1
    V = np.stack([a, a])
    u = landscape(V, dim=3)
    np.testing.assert_allclose(u[0], u[1], rtol=1e-15)
    np.testing.assert_allclose(u[0], landscape(a, dim=2), rtol=1e-13)


def test_a_refinement_that_cannot_converge_raises(monkeypatch, rng):
    """Inner solves that return garbage never become a silent wrong landscape."""
    monkeypatch.setattr(
        landscape_module, "_deflated_cg", lambda H, v, total, b, tol, maxiter: -b / v.mean()
    )
    with pytest.raises(ValueError, match=r"V: the 3-D landscape did not converge"):
        landscape(rng.random((3, 4, 5)), dim=3)
    with pytest.raises(ValueError, match=r"V\[0\]: the 3-D landscape did not converge"):
        landscape(rng.random((2, 3, 4, 5)), dim=3)


def test_periodic_gradient_in_3d(rng):
    f = rng.standard_normal((4, 5, 3))
    g = periodic_gradient(f, dim=3)
    assert g.shape == (3, 4, 5, 3)
    for x, y, z in np.ndindex(f.shape):
        assert g[0, x, y, z] == pytest.approx(0.5 * (f[(x + 1) % 4, y, z] - f[(x - 1) % 4, y, z]))
        assert g[1, x, y, z] == pytest.approx(0.5 * (f[x, (y + 1) % 5, z] - f[x, (y - 1) % 5, z]))
        assert g[2, x, y, z] == pytest.approx(0.5 * (f[x, y, (z + 1) % 3] - f[x, y, (z - 1) % 3]))
    fb = rng.standard_normal((2, 4, 5, 3))
    gb = periodic_gradient(fb, dim=3)
    assert gb.shape == (2, 3, 4, 5, 3)
    for b in range(2):
        np.testing.assert_array_equal(gb[b], periodic_gradient(fb[b], dim=3))
    assert np.all(periodic_gradient(rng.random((3, 2, 4)), dim=3)[1] == 0)  # side of 2
