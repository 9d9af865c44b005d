"""2-D and 3-D landscape laws: the box count on the L1×…×Ld torus, the free lattice's
integrated density of states (its limits, against the lattice count) and the Weyl laws;
shapes chosen per lattice dimension."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnet.physics import box_count, box_tiling, weyl_count
from lnet.physics.weyl import free_idos_2d, free_idos_3d

ENERGY = st.one_of(
    st.floats(-5, 5, allow_subnormal=False),
    st.floats(1e-9, 1e-2, allow_subnormal=False),
    st.sampled_from([0.0, 1.0, 0.25, 1 / 9, 1 / 16, 0.01, 1e-6, 4.0]),
)


def sides(dim: int, most: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.tuples(*[st.integers(2, most)] * dim)


# landscapes of up to 40×40 and 9×9×9 sites
LANDSCAPES = {
    dim: arrays(np.float64, sides(dim, most), elements=st.floats(1e-3, 4, allow_subnormal=False))
    for dim, most in [(2, 40), (3, 9)]
}


def shape_id(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def brute_box_count(W: np.ndarray, e: float) -> int:
    """Boxes = products of the 1-D tilings of each axis; count those with min W <= e."""
    t = [box_tiling(L, e) for L in W.shape]
    boxes = itertools.product(*[range(ti.size - 1) for ti in t])
    return sum(
        W[tuple(slice(ti[i], ti[i + 1]) for ti, i in zip(t, box, strict=True))].min() <= e
        for box in boxes
    )


@pytest.mark.parametrize("dim", [2, 3])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_box_count_is_the_product_tiling(dim, data):
    W = data.draw(LANDSCAPES[dim], label="W")
    E = data.draw(st.lists(ENERGY, min_size=1, max_size=6), label="E")
    got = box_count(W, E, dim=dim)
    assert got.dtype == np.int64 and got.shape == (len(E),)
    for e, count in zip(E, got, strict=True):
        assert count == brute_box_count(W, e)
        K = math.prod(box_tiling(L, e).size - 1 for L in W.shape)
        assert 0 <= count <= min(K, int(np.sum(W <= e)))


@pytest.mark.parametrize(
    "shape",
    [
        *[(2, 2), (2, 9), (7, 3), (16, 16), (30, 17)],
        *[(2, 2, 2), (2, 9, 3), (7, 3, 5), (16, 16, 16), (30, 17, 4)],
    ],
    ids=shape_id,
)
def test_box_sizes_follow_the_energy(shape):
    """E = 1/j²: side ℓ = j, K_i = ceil(L_i / j) boxes along axis i; E <= 0: one box."""
    dim = len(shape)
    W = np.zeros(shape)  # every box reaches E >= 0: the count is the number of boxes
    for j in (1, 2, 3, 5, 8):
        got = box_count(W, [1.0 / j**2], dim=dim)[0]
        assert got == math.prod(math.ceil(L / j) for L in shape)
    assert box_count(W, [0.0, 100.0], dim=dim).tolist() == [1, math.prod(shape)]
    assert box_count(W + 1, [-1.0, 0.5], dim=dim).tolist() == [0, 0]


@pytest.mark.parametrize("dim,most", [(2, 50), (3, 12)], ids=["2d", "3d"])
@settings(max_examples=60, deadline=None)
@given(data=st.data(), site=st.integers(0, 10_000), low=st.floats(1e-6, 0.5), E=st.floats(-1, 0.99))
def test_single_low_site_is_one_box(dim, most, data, site, low, E):
    W = np.ones(data.draw(sides(dim, most), label="shape"))
    W.reshape(-1)[site % W.size] = low
    assert box_count(W, [E], dim=dim)[0] == (1 if low <= E else 0)


@pytest.mark.parametrize("shape", [(12, 20), (12, 20, 9)], ids=shape_id)
def test_axes_are_tiled_independently(shape):
    """A low line (2-D) or plane (3-D) x = 5 meets one layer of boxes: the count is the
    number of boxes across it, K2 (·K3), for every tiling, whichever axis x is."""
    dim = len(shape)
    W = np.ones(shape)
    W[5] = 0.01
    for e in (0.2, 1 / 4, 1 / 9, 1 / 16):
        across = math.prod(box_tiling(L, e).size - 1 for L in shape[1:])
        assert box_count(W, [e], dim=dim)[0] == across
        assert box_count(np.moveaxis(W, 0, -1), [e], dim=dim)[0] == across


@pytest.mark.parametrize("shape,m", [((3, 9, 14), 5), ((3, 9, 14, 5), 40)], ids=["2d", "3d"])
def test_box_count_batch_and_energy_order(shape, m, rng):
    dim = len(shape) - 1
    W = rng.uniform(0, 1, shape)
    E = rng.uniform(0, 1, (3, m))
    out = box_count(W, E, dim=dim)
    assert out.shape == (3, m)
    for b in range(3):
        np.testing.assert_array_equal(out[b], box_count(W[b], E[b], dim=dim))
        perm = rng.permutation(m)
        np.testing.assert_array_equal(box_count(W[b], E[b, perm], dim=dim), out[b, perm])


# -- the free lattice's integrated density of states, and the Weyl laws ------------------
# dim -> the IDOS per site of the free lattice (0 below 0, 1 above the band top 4d), and
# the continuum's N(e) = e^{d/2} / c_d per unit volume: c_2 = 4π, c_3 = 6π²

FREE_IDOS = {2: free_idos_2d, 3: free_idos_3d}
CONTINUUM = {2: 4 * np.pi, 3: 6 * np.pi**2}


def continuum_count(W: np.ndarray, e: float) -> float:
    """The continuum Weyl law Σ_x (e - W(x))_+^{d/2} / c_d, d = W.ndim."""
    return np.sum(np.maximum(e - W, 0) ** (W.ndim / 2)) / CONTINUUM[W.ndim]


def free_levels(L: int, dim: int) -> np.ndarray:
    """The eigenvalues Σ_i (2 - 2cos(2πj_i/L)) of the free L^d lattice, with multiplicity."""
    c = 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L)
    levels = c
    for _ in range(dim - 1):
        levels = np.add.outer(levels, c)
    return levels.ravel()


@pytest.mark.parametrize(
    "dim,half,symmetry,edge", [(2, 1e-14, 1e-13, 1e-3), (3, 1e-15, 1e-14, 1e-4)], ids=["2d", "3d"]
)
def test_free_idos_limits_and_symmetry(dim, half, symmetry, edge, rng):
    """Limits, N(2d) = 1/2, the symmetry k -> k + (π, …, π): N(4d - e) = 1 - N(e) (to
    ``symmetry``), monotone, and the band edge N(e) = e^{d/2}/c_d (1 + O(e)) (to ``edge``)."""
    N, top = FREE_IDOS[dim], 4 * dim
    e = np.concatenate(
        [rng.uniform(-3, top + 3, 4000), [*range(0, top + 1, 2), -1e-300, top + 1e-12]]
    )
    n0 = N(e)
    assert n0.shape == e.shape and n0.dtype == np.float64
    assert np.all(n0[e <= 0] == 0) and np.all(n0[e >= top] == 1)
    assert N(2.0 * dim) == pytest.approx(0.5, abs=half)
    np.testing.assert_allclose(N(top - e), 1 - n0, atol=symmetry)
    order = np.argsort(e)
    assert np.all(np.diff(n0[order]) >= -1e-15)  # monotone
    small = np.array([1e-8, 1e-6, 1e-4])
    np.testing.assert_allclose(N(small), small ** (dim / 2) / CONTINUUM[dim], rtol=edge)
    assert N(np.zeros((2, 0))).shape == (2, 0)
    assert N(3.0).shape == ()


@pytest.mark.parametrize("dim,L", [(2, 256), (2, 601), (3, 64), (3, 100)])
def test_free_idos_matches_brute_force_lattice_count(dim, L):
    """The fraction of the L^d free lattice's eigenvalues <= e. Finite size: the lattice
    count differs from the integral by O(1/L) (edges of the level set; a log more at a
    van Hove energy)."""
    levels = np.sort(free_levels(L, dim))
    e = np.linspace(0.05, 4 * dim - 0.05, 40 * dim)
    frac = np.searchsorted(levels, e, side="right") / L**dim
    np.testing.assert_allclose(frac, FREE_IDOS[dim](e), rtol=0, atol=1.0 / L)


@pytest.mark.parametrize(
    "shape,top,small", [((12, 17), 30.0, 0.02), ((6, 7, 5), 50.0, 0.01)], ids=["2d", "3d"]
)
def test_weyl_forms(shape, top, small, rng):
    dim = len(shape)
    W = rng.uniform(0, 1, shape)
    E = np.array([-1.0, 0.1, 0.5, 2.0, top])
    cont = weyl_count(W, E, dim=dim)
    lat = weyl_count(W, E, kind="lattice", dim=dim)
    np.testing.assert_allclose(cont, [continuum_count(W, e) for e in E], rtol=1e-14)
    np.testing.assert_allclose(lat, [FREE_IDOS[dim](e - W).sum() for e in E], rtol=1e-13)
    assert cont[0] == 0 and lat[0] == 0
    assert lat[-1] == W.size  # one state per site once E - W >= 4d
    # for small E - W the two forms agree to leading order
    assert weyl_count(W, [small], kind="lattice", dim=dim)[0] == pytest.approx(
        weyl_count(W, [small], dim=dim)[0], rel=0.01
    )


@pytest.mark.parametrize("dim,L", [(2, 64), (3, 24)])
def test_weyl_of_a_flat_landscape_is_the_free_count(dim, L):
    """W ≡ w: the lattice law is L^d N(E - w), close to the exact count of -Δ + w."""
    w = 0.3
    E = np.array([0.5, 1.3, 2.9, 4.3, 6.0, 9.1])
    got = weyl_count(np.full((L,) * dim, w), E, kind="lattice", dim=dim)
    np.testing.assert_allclose(got, L**dim * FREE_IDOS[dim](E - w), rtol=1e-12)
    levels = w + free_levels(L, dim)
    exact = np.array([np.sum(levels <= e) for e in E])
    assert np.all(np.abs(got - exact) <= 4 * dim * L ** (dim - 1))  # finite size, O(L^{d-1})


@pytest.mark.parametrize("shape,top", [((2, 5, 6), 3.0), ((2, 3, 4, 5), 5.0)], ids=["2d", "3d"])
def test_weyl_batch_and_bad_kind(shape, top, rng):
    dim = len(shape) - 1
    W = rng.uniform(0, 1, shape)
    E = rng.uniform(0, top, (2, 4))
    for kind in ("continuum", "lattice"):
        out = weyl_count(W, E, kind=kind, dim=dim)
        assert out.shape == (2, 4)
        for b in range(2):
            np.testing.assert_allclose(out[b], weyl_count(W[b], E[b], kind=kind, dim=dim))
    with pytest.raises(ValueError, match="kind"):
        weyl_count(W, E, kind="quantum", dim=dim)


@pytest.mark.parametrize("shape,top", [((40, 40), 9.0), ((8, 8, 8), 14.0)], ids=["2d", "3d"])
def test_weyl_many_energies_same_as_one_by_one(shape, top, rng):
    """Continuum: more than one chunk of the (B, m, n) intermediate (3 potentials × 3000
    energies × 1600 sites: 3 chunks, × 512 sites: 2); lattice: the compiled loop."""
    dim = len(shape)
    W = rng.uniform(0, 2, shape)
    E = np.linspace(-0.5, top, 3000)
    pick = [0, 1, 1499, 2500, 2999]
    lat = weyl_count(W, E, kind="lattice", dim=dim)
    want = [FREE_IDOS[dim](E[i] - W).sum() for i in pick]
    np.testing.assert_allclose(lat[pick], want, rtol=1e-13)
    cont = weyl_count(np.stack([W] * 3), np.stack([E] * 3), dim=dim)
    want = [continuum_count(W, E[i]) for i in pick]
    np.testing.assert_allclose(cont[:, pick], np.stack([want] * 3), rtol=1e-12)
