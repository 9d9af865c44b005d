"""The 2-D landscape u = H⁻¹1 against independent high-precision references."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_limits

from lnet.physics import (
    hamiltonian,
    landscape,
    landscape_potential,
    periodic_derivative,
    periodic_gradient,
)
from lnet.physics.hamiltonian import _neighbours_2d
from lnet.physics.landscape import residual_2d


def mp_landscape(V: np.ndarray, dps: int = 40) -> np.ndarray:
    """u = H⁻¹1 by Gaussian elimination in 40-digit arithmetic (mpmath), small lattices."""
    L1, L2 = V.shape
    n = V.size
    with mpmath.workdps(dps):
        H = mpmath.zeros(n, n)
        for i, v in enumerate(V.reshape(-1)):
            H[i, i] = 4 + mpmath.mpf(float(v))
        for i, nbs in enumerate(_neighbours_2d(L1, L2)):
            for j in nbs:
                H[i, int(j)] -= 1
        x = mpmath.lu_solve(H, mpmath.matrix([1] * n))
        return np.array([float(x[i]) for i in range(n)]).reshape(L1, L2)


def exact_residual(V: np.ndarray, u: np.ndarray) -> np.ndarray:
    """1 - H u in exact rational arithmetic, rounded to float64 at the end."""
    L1, L2 = V.shape
    uf = [Fraction(float(x)) for x in u.reshape(-1)]
    vf = [Fraction(float(x)) for x in V.reshape(-1)]
    nbs = _neighbours_2d(L1, L2)
    r = [1 - ((4 + vf[i]) * uf[i] - sum(uf[int(j)] for j in nbs[i])) for i in range(V.size)]
    return np.array([float(x) for x in r]).reshape(L1, L2)


def refined_dense_landscape(V: np.ndarray) -> np.ndarray:
    """Dense LAPACK LU plus iterative refinement on the exact rational residual."""
    with threadpool_limits(limits=1, user_api="blas"):
        lu = scipy.linalg.lu_factor(hamiltonian(V, dim=2).toarray())
    u = scipy.linalg.lu_solve(lu, np.ones(V.size)).reshape(V.shape)
    for _ in range(8):
        du = scipy.linalg.lu_solve(lu, exact_residual(V, u).reshape(-1)).reshape(V.shape)
        u = u + du
        if np.max(np.abs(du) / u) < 1e-17:
            break
    return u


def make(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    if kind == "mixed":  # 12 decades across the lattice
        return 10.0 ** rng.uniform(-6, 6, shape)
    if kind == "spikes":
        return np.where(rng.random(shape) < 0.1, 50.0, 1e-3)
    if kind == "single-site":
        V = np.zeros(shape)
        V[shape[0] // 2, shape[1] - 1] = 4.0
        return V
    if kind == "constant":
        return np.full(shape, 0.37)
    return float(kind) * rng.random(shape)


KINDS = ["1", "1e-6", "1e6", "1e-12", "mixed", "spikes", "single-site", "constant"]
SMALL = [(2, 2), (2, 3), (3, 2), (3, 3), (2, 7), (4, 5), (5, 7)]


@pytest.mark.parametrize("shape", SMALL)
@pytest.mark.parametrize("kind", KINDS)
def test_small_lattices_match_40_digit_elimination(shape, kind, rng):
    V = make(kind, shape, rng)
    u = landscape(V, dim=2)
    assert u.shape == shape and u.dtype == np.float64
    np.testing.assert_allclose(u, mp_landscape(V), rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    "shape,kind",
    [
        ((40, 40), "1"),
        ((40, 40), "1e-6"),
        ((40, 40), "1e6"),
        ((33, 17), "mixed"),
        ((31, 40), "1e-6"),
        ((2, 40), "spikes"),
        ((24, 24), "single-site"),
    ],
)
def test_large_lattices_match_refined_dense_solve(shape, kind, rng):
    V = make(kind, shape, rng)
    u = landscape(V, dim=2)
    np.testing.assert_allclose(u, refined_dense_landscape(V), rtol=1e-12, atol=0)


def test_plain_float64_solve_is_not_enough_for_tiny_potentials(rng):
    """The reason for the refinement: a plain solve is off by ~ε cond(H) ~ 1e-9 here."""
    V = 1e-6 * rng.random((24, 24))
    with threadpool_limits(limits=1, user_api="blas"):
        H = hamiltonian(V, dim=2).toarray()
        plain = np.linalg.solve(H, np.ones(V.size)).reshape(V.shape)
    exact = refined_dense_landscape(V)
    assert np.max(np.abs(plain - exact) / exact) > 1e-12
    assert np.max(np.abs(landscape(V, dim=2) - exact) / exact) < 1e-14


@pytest.mark.parametrize("shape", [(2, 2), (3, 8), (17, 17), (32, 20)])
def test_constant_potential_has_constant_landscape(shape):
    for c in (1e-6, 0.25, 3.0, 1e6):
        np.testing.assert_allclose(landscape(np.full(shape, c), dim=2), 1 / c, rtol=2e-16)


@pytest.mark.parametrize("kind", KINDS)
def test_maximum_principle_and_residual(kind, rng):
    V = make(kind, (13, 19), rng)
    u = landscape(V, dim=2)
    slack = 1e-12
    assert np.all(u > 0)
    assert np.all(u >= (1 - slack) / V.max())
    if V.min() > 0:
        assert np.all(u <= (1 + slack) / V.min())
    W = landscape_potential(V, dim=2)
    np.testing.assert_array_equal(W, 1 / u)
    # the long-double stencil residual agrees with the exact one, and is at round-off
    np.testing.assert_allclose(
        residual_2d(V, u).astype(np.float64), exact_residual(V, u), rtol=1e-3, atol=1e-18
    )
    # |1 - H u| is what rounding u to float64 leaves: a few ε (8 + V) u
    assert np.max(np.abs(exact_residual(V, u))) <= 8 * np.finfo(float).eps * np.max((8 + V) * u)


def test_batch_matches_single(rng):
    V = rng.random((4, 9, 6))
    V[2] *= 1e-6
    u = landscape(V, dim=2)
    assert u.shape == (4, 9, 6)
    for b in range(4):
        np.testing.assert_array_equal(u[b], landscape(V[b], dim=2))
    np.testing.assert_array_equal(landscape_potential(V, dim=2), 1 / u)


def test_transposed_lattice_gives_transposed_landscape(rng):
    V = rng.random((7, 12))
    np.testing.assert_allclose(landscape(V.T, dim=2), landscape(V, dim=2).T, rtol=1e-14)


def test_periodic_gradient_is_central_and_wraps(rng):
    f = rng.standard_normal((5, 7))
    g = periodic_gradient(f)
    assert g.shape == (2, 5, 7)
    for x in range(5):
        for y in range(7):
            assert g[0, x, y] == pytest.approx(0.5 * (f[(x + 1) % 5, y] - f[(x - 1) % 5, y]))
            assert g[1, x, y] == pytest.approx(0.5 * (f[x, (y + 1) % 7] - f[x, (y - 1) % 7]))
    np.testing.assert_array_equal(periodic_gradient(f, dim=2), g)
    # batch: (B, 2, L1, L2), each the single gradient
    fb = rng.standard_normal((3, 4, 6))
    gb = periodic_gradient(fb)
    assert gb.shape == (3, 2, 4, 6)
    for b in range(3):
        np.testing.assert_array_equal(gb[b], periodic_gradient(fb[b]))
    # a side of 2: x+1 and x-1 are the same site, the difference along it vanishes
    assert np.all(periodic_gradient(rng.random((2, 5)))[0] == 0)
    # smooth fields: the difference approximates the derivative
    x = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    h = x[1] - x[0]
    F = np.sin(x)[:, None] * np.cos(2 * x)[None, :]
    G = periodic_gradient(F) / h
    np.testing.assert_allclose(G[0], np.cos(x)[:, None] * np.cos(2 * x)[None, :], atol=2e-3)
    np.testing.assert_allclose(G[1], -2 * np.sin(x)[:, None] * np.sin(2 * x)[None, :], atol=8e-3)


def test_periodic_gradient_in_1d_is_the_derivative(rng):
    f = rng.standard_normal((3, 10))
    g = periodic_gradient(f, dim=1)
    assert g.shape == (3, 1, 10)
    np.testing.assert_array_equal(g[:, 0], periodic_derivative(f))
    assert periodic_gradient(f[0], dim=1).shape == (1, 10)
