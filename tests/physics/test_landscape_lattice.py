"""The 2-D and 3-D landscape u = H⁻¹1 against independent high-precision references,
and the periodic gradient; shapes chosen per lattice dimension."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_limits

from lnet.physics import hamiltonian, landscape, landscape_potential, periodic_gradient
from lnet.physics.landscape import residual_2d, residual_3d

EPS = np.finfo(float).eps
RESIDUAL = {2: residual_2d, 3: residual_3d}


def shape_id(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def neighbours(shape: tuple[int, ...]) -> np.ndarray:
    """``(n, 2d)`` flat neighbour indices by np.roll of the index array (independent of lnet)."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    cols = [np.roll(idx, s, axis=a).reshape(-1) for a in range(len(shape)) for s in (1, -1)]
    return np.stack(cols, axis=1)


def mp_landscape(V: np.ndarray, dps: int = 40) -> np.ndarray:
    """u = H⁻¹1 by Gaussian elimination in 40-digit arithmetic (mpmath), small lattices."""
    n = V.size
    with mpmath.workdps(dps):
        H = mpmath.zeros(n, n)
        for i, v in enumerate(V.reshape(-1)):
            H[i, i] = 2 * V.ndim + mpmath.mpf(float(v))
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
    d2 = 2 * V.ndim
    r = [1 - ((d2 + vf[i]) * uf[i] - sum(uf[int(j)] for j in nbs[i])) for i in range(V.size)]
    return np.array([float(x) for x in r]).reshape(V.shape)


def refined_dense_landscape(V: np.ndarray) -> np.ndarray:
    """Dense LAPACK LU plus iterative refinement on the exact rational residual."""
    with threadpool_limits(limits=1, user_api="blas"):
        lu = scipy.linalg.lu_factor(hamiltonian(V, dim=V.ndim).toarray())
    u = scipy.linalg.lu_solve(lu, np.ones(V.size)).reshape(V.shape)
    for _ in range(8):
        du = scipy.linalg.lu_solve(lu, exact_residual(V, u).reshape(-1)).reshape(V.shape)
        u = u + du
        if np.max(np.abs(du) / u) < 1e-17:
            break
    return u


def make(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if kind == "mixed":  # 12 decades across the lattice
        return 10.0 ** rng.uniform(-6, 6, shape)
    if kind == "spikes":
        return np.where(rng.random(shape) < 0.1, 50.0, 1e-3)
    if kind == "single-site":
        V = np.zeros(shape)
        V[(shape[0] // 2, shape[1] - 1) + (0,) * (len(shape) - 2)] = 4.0
        return V
    if kind == "constant":
        return np.full(shape, 0.37)
    if kind == "slab":  # a wall of 1e6 across a region of 1e-6
        V = np.full(shape, 1e-6)
        V[: max(1, shape[0] // 3)] = 1e6
        return V
    return float(kind) * rng.random(shape)


KINDS = ["1", "1e-6", "1e6", "1e-12", "mixed", "spikes", "single-site", "constant", "slab"]
SMALL = [
    *[(2, 2), (2, 3), (3, 2), (3, 3), (2, 7), (4, 5), (5, 7)],
    *[(2, 2, 2), (2, 3, 5), (3, 3, 3)],
]


@pytest.mark.parametrize("shape", SMALL, ids=shape_id)
@pytest.mark.parametrize("kind", KINDS)
def test_small_lattices_match_40_digit_elimination(shape, kind, rng):
    V = make(kind, shape, rng)
    u = landscape(V, dim=len(shape))
    assert u.shape == shape and u.dtype == np.float64
    np.testing.assert_allclose(u, mp_landscape(V), rtol=1e-13, atol=0)


def case(shape, kind, *marks):
    return pytest.param(shape, kind, marks=marks, id=f"{shape_id(shape)}-{kind}")


@pytest.mark.parametrize(
    "shape,kind",
    [
        case((40, 40), "1"),
        case((40, 40), "1e-6"),
        case((40, 40), "1e6"),
        case((33, 17), "mixed"),
        case((31, 40), "1e-6"),
        case((2, 40), "spikes"),
        case((24, 24), "single-site"),
        case((4, 5, 6), "1"),
        case((4, 5, 6), "1e-6"),
        case((4, 5, 6), "1e6"),
        case((5, 3, 7), "mixed"),
        case((2, 9, 5), "spikes"),
        case((6, 6, 6), "slab"),
        case((7, 7, 7), "1e-12"),
        *[
            case((10, 10, 10), k, pytest.mark.slow)
            for k in ["1", "1e-6", "1e6", "mixed", "single-site"]
        ],
    ],
)
def test_lattices_match_refined_dense_solve(shape, kind, rng):
    V = make(kind, shape, rng)
    u = landscape(V, dim=len(shape))
    np.testing.assert_allclose(u, refined_dense_landscape(V), rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape", [(24, 24), (6, 6, 6)], ids=shape_id)
def test_plain_float64_solve_is_not_enough_for_tiny_potentials(shape, rng):
    """The reason for the refinement: a plain dense solve is off by ~ε cond(H) here (~1e-9
    on 24×24); the refined solve (2-D) and the deflated, refined CG (3-D) are not."""
    V = 1e-6 * rng.random(shape)
    with threadpool_limits(limits=1, user_api="blas"):
        H = hamiltonian(V, dim=V.ndim).toarray()
        plain = np.linalg.solve(H, np.ones(V.size)).reshape(V.shape)
    exact = refined_dense_landscape(V)
    assert np.max(np.abs(plain - exact) / exact) > 1e-12
    assert np.max(np.abs(landscape(V, dim=V.ndim) - exact) / exact) < 1e-14


@pytest.mark.parametrize(
    "shape", [(2, 2), (3, 8), (17, 17), (32, 20), (2, 2, 2), (3, 8, 5), (16, 16, 16)], ids=shape_id
)
def test_constant_potential_has_constant_landscape(shape):
    dim = len(shape)
    levels = [1e-6, 0.25, 3.0, 1e6]
    if dim == 3:  # deflation: exact even below round-off of 6 + V (2-D: test_validation_2d.py)
        levels.append(1e-20)
    for c in levels:
        np.testing.assert_allclose(landscape(np.full(shape, c), dim=dim), 1 / c, rtol=2e-16)


@pytest.mark.parametrize("shape", [(13, 19), (5, 7, 6)], ids=shape_id)
@pytest.mark.parametrize("kind", KINDS)
def test_maximum_principle_and_residual(kind, shape, rng):
    dim = len(shape)
    V = make(kind, shape, rng)
    u = landscape(V, dim=dim)
    slack = 1e-12
    assert np.all(u > 0)
    assert np.all(u >= (1 - slack) / V.max())
    if V.min() > 0:
        assert np.all(u <= (1 + slack) / V.min())
    W = landscape_potential(V, dim=dim)
    np.testing.assert_array_equal(W, 1 / u)
    # the long-double stencil residual agrees with the exact one, and is at round-off
    np.testing.assert_allclose(
        RESIDUAL[dim](V, u).astype(np.float64), exact_residual(V, u), rtol=1e-3, atol=1e-18
    )
    # |1 - H u| is what rounding u to float64 leaves: a few ε (4d + V) u
    assert np.max(np.abs(exact_residual(V, u))) <= 8 * EPS * np.max((4 * dim + V) * u)


@pytest.mark.parametrize("shape,tiny", [((4, 9, 6), 2), ((3, 4, 5, 3), 1)], ids=["2d", "3d"])
def test_batch_matches_single(shape, tiny, rng):
    dim = len(shape) - 1
    V = rng.random(shape)
    V[tiny] *= 1e-6
    u = landscape(V, dim=dim)
    assert u.shape == shape
    for b in range(shape[0]):
        np.testing.assert_array_equal(u[b], landscape(V[b], dim=dim))
    np.testing.assert_array_equal(landscape_potential(V, dim=dim), 1 / u)


@pytest.mark.parametrize(
    "shape,axes", [((7, 12), (1, 0)), ((4, 6, 5), (2, 0, 1))], ids=["2d", "3d"]
)
def test_permuted_lattice_gives_permuted_landscape(shape, axes, rng):
    V = rng.random(shape)
    dim = len(shape)
    np.testing.assert_allclose(
        landscape(V.transpose(axes), dim=dim), landscape(V, dim=dim).transpose(axes), rtol=1e-14
    )


@pytest.mark.parametrize(
    "shape,batch,side_of_two",
    [((5, 7), (3, 4, 6), (2, 5)), ((4, 5, 3), (2, 4, 5, 3), (3, 2, 4))],
    ids=["2d", "3d"],
)
def test_periodic_gradient_is_central_and_wraps(shape, batch, side_of_two, rng):
    dim = len(shape)
    f = rng.standard_normal(shape)
    g = periodic_gradient(f, dim=dim)
    assert g.shape == (dim, *shape)
    for x in np.ndindex(shape):
        for a in range(dim):
            up, down = list(x), list(x)
            up[a], down[a] = (x[a] + 1) % shape[a], (x[a] - 1) % shape[a]
            assert g[(a, *x)] == pytest.approx(0.5 * (f[tuple(up)] - f[tuple(down)]))
    # batch: (B, d, L1, ..., Ld), each the single gradient
    fb = rng.standard_normal(batch)
    gb = periodic_gradient(fb, dim=dim)
    assert gb.shape == (batch[0], dim, *batch[1:])
    for b in range(batch[0]):
        np.testing.assert_array_equal(gb[b], periodic_gradient(fb[b], dim=dim))
    # a side of 2: x+1 and x-1 are the same site, the difference along it vanishes
    axis = side_of_two.index(2)
    assert np.all(periodic_gradient(rng.random(side_of_two), dim=dim)[axis] == 0)
