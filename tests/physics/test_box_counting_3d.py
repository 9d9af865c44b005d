"""3-D landscape laws: the box count on the L1×L2×L3 torus and the 3-D Weyl laws."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.integrate import IntegrationWarning, quad

from lnet.physics import box_count, box_tiling, weyl_count
from lnet.physics.box_counting import _num_boxes, _num_boxes_array
from lnet.physics.weyl import free_idos_3d

ENERGY = st.one_of(
    st.floats(-5, 5, allow_subnormal=False),
    st.floats(1e-9, 1e-2, allow_subnormal=False),
    st.sampled_from([0.0, 1.0, 0.25, 1 / 9, 1 / 16, 0.01, 1e-6, 4.0]),
)
LANDSCAPE_3D = arrays(
    np.float64,
    st.tuples(st.integers(2, 9), st.integers(2, 9), st.integers(2, 9)),
    elements=st.floats(1e-3, 4, allow_subnormal=False),
)


def brute_box_count(W: np.ndarray, e: float) -> int:
    """Boxes = products of the 1-D tilings of each axis; count those with min W <= e."""
    t = [box_tiling(L, e) for L in W.shape]
    return sum(
        W[t[0][i] : t[0][i + 1], t[1][j] : t[1][j + 1], t[2][k] : t[2][k + 1]].min() <= e
        for i in range(t[0].size - 1)
        for j in range(t[1].size - 1)
        for k in range(t[2].size - 1)
    )


@settings(max_examples=60, deadline=None)
@given(W=LANDSCAPE_3D, E=st.lists(ENERGY, min_size=1, max_size=6))
def test_box_count_is_the_product_tiling(W, E):
    got = box_count(W, E, dim=3)
    assert got.dtype == np.int64 and got.shape == (len(E),)
    for e, count in zip(E, got, strict=True):
        assert count == brute_box_count(W, e)
        K = math.prod(box_tiling(L, e).size - 1 for L in W.shape)
        assert 0 <= count <= min(K, int(np.sum(W <= e)))


@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 9, 3), (7, 3, 5), (16, 16, 16), (30, 17, 4)])
def test_box_sizes_follow_the_energy(shape):
    """E = 1/j²: side ℓ = j, K_i = ceil(L_i / j) boxes along axis i; E <= 0: one box."""
    W = np.zeros(shape)  # every box reaches E >= 0: the count is the number of boxes
    for j in (1, 2, 3, 5, 8):
        got = box_count(W, [1.0 / j**2], dim=3)[0]
        assert got == math.prod(math.ceil(L / j) for L in shape)
    assert box_count(W, [0.0, 100.0], dim=3).tolist() == [1, math.prod(shape)]
    assert box_count(W + 1, [-1.0, 0.5], dim=3).tolist() == [0, 0]


def test_tiling_counts_match_the_1d_rule():
    """The vectorised K(E) is the compiled 1-D rule, energy by energy (E = 1/j² included)."""
    E = np.concatenate(
        [
            1.0 / np.arange(1, 60, dtype=float) ** 2,
            np.linspace(-1, 2, 301),
            np.geomspace(1e-300, 1e3, 200),
            [0.0, -0.0, 1e-12, 0.25 * (1 + 1e-15), 0.25 * (1 - 1e-15)],
        ]
    )
    for n in (1, 2, 3, 7, 16, 48, 101):
        np.testing.assert_array_equal(_num_boxes_array(n, E), [_num_boxes(n, e) for e in E])


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(2, 12), st.integers(2, 12), st.integers(2, 12)),
    site=st.integers(0, 10_000),
    low=st.floats(1e-6, 0.5),
    E=st.floats(-1, 0.99),
)
def test_single_low_site_is_one_box(shape, site, low, E):
    W = np.ones(shape)
    W.reshape(-1)[site % W.size] = low
    assert box_count(W, [E], dim=3)[0] == (1 if low <= E else 0)


def test_axes_are_tiled_independently():
    """A low plane x = 5 meets one box layer: the count is K2·K3 for every tiling."""
    W = np.ones((12, 20, 9))
    W[5] = 0.01
    for e in (0.2, 1 / 4, 1 / 9, 1 / 16):
        K2, K3 = (box_tiling(L, e).size - 1 for L in (20, 9))
        assert box_count(W, [e], dim=3)[0] == K2 * K3
        assert box_count(W.transpose(1, 2, 0), [e], dim=3)[0] == K2 * K3


def test_box_count_batch_and_energy_order(rng):
    W = rng.uniform(0, 1, (3, 9, 14, 5))
    E = rng.uniform(0, 1, (3, 40))
    out = box_count(W, E, dim=3)
    assert out.shape == (3, 40)
    for b in range(3):
        np.testing.assert_array_equal(out[b], box_count(W[b], E[b], dim=3))
        perm = rng.permutation(40)
        np.testing.assert_array_equal(box_count(W[b], E[b, perm], dim=3), out[b, perm])


# -- the free 3-D integrated density of states ---------------------------------------


def _n1(x: float) -> float:
    return math.acos(max(-1.0, min(1.0, 1.0 - x / 2.0))) / math.pi


def _kinks(x: float, levels: tuple[float, ...]) -> list[float]:
    out = [0.0, math.pi]
    for c in levels:
        z = (c - x + 2.0) / 2.0
        if -1 < z < 1:
            out.append(math.acos(z))
    return sorted(out)


def _n2_quad(x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 8:
        return 1.0
    pts = _kinks(x, (0.0, 4.0))

    def f(q: float) -> float:
        return _n1(x - 2 + 2 * math.cos(q))

    pieces = zip(pts[:-1], pts[1:], strict=True)
    return sum(quad(f, a, b, epsabs=1e-15, epsrel=1e-14)[0] for a, b in pieces) / math.pi


def idos_3d_reference(e: float) -> float:
    """N3(e) = (1/π²) ∫∫ N1(e - t(k) - t(q)) dq dk, N1 the closed-form 1-D IDOS, by nested
    adaptive quadrature cut at the kinks (shares no code with lnet's N0 and N3 tables)."""
    pts = _kinks(e, (0.0, 4.0, 8.0))

    def f(k: float) -> float:
        return _n2_quad(e - 2 + 2 * math.cos(k))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        pieces = zip(pts[:-1], pts[1:], strict=True)
        parts = [quad(f, a, b, epsabs=1e-14, epsrel=1e-13)[0] for a, b in pieces]
    return sum(parts) / math.pi


ENERGIES_N3 = [0.3, 1.7, 3.99, 4.0, 4.5, 11.2]


def test_free_idos_matches_nested_quadrature():
    got = free_idos_3d(np.array(ENERGIES_N3))
    want = np.array([idos_3d_reference(e) for e in ENERGIES_N3])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_free_idos_matches_nested_quadrature_everywhere(rng):
    E = np.concatenate([rng.uniform(0, 12, 30), [1e-6, 1e-3, 2.0, 4 - 1e-9, 4 + 1e-9, 8, 10]])
    got = free_idos_3d(E)
    want = np.array([idos_3d_reference(e) for e in E])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_free_idos_limits_and_symmetry(rng):
    e = np.concatenate([rng.uniform(-3, 15, 4000), [0.0, 4.0, 6.0, 8.0, 12.0, -1e-300, 12 + 1e-12]])
    n0 = free_idos_3d(e)
    assert n0.shape == e.shape and n0.dtype == np.float64
    assert np.all(n0[e <= 0] == 0) and np.all(n0[e >= 12] == 1)
    assert free_idos_3d(6.0) == pytest.approx(0.5, abs=1e-15)
    np.testing.assert_allclose(free_idos_3d(12 - e), 1 - n0, atol=1e-14)  # k -> k + (π, π, π)
    order = np.argsort(e)
    assert np.all(np.diff(n0[order]) >= -1e-15)  # monotone
    # the band edge: N3(e) = e^{3/2}/(6π²) (1 + O(e)), the continuum's k³/(6π²)
    small = np.array([1e-8, 1e-6, 1e-4])
    np.testing.assert_allclose(free_idos_3d(small), small**1.5 / (6 * np.pi**2), rtol=1e-4)
    assert free_idos_3d(np.zeros((2, 0))).shape == (2, 0)
    assert free_idos_3d(3.0).shape == ()


@pytest.mark.parametrize("L", [64, 100])
def test_free_idos_matches_brute_force_lattice_count(L):
    """The fraction of the L³ free lattice's eigenvalues Σ_i (2 - 2cos(2πj_i/L)) <= e."""
    c = 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L)
    levels = np.sort((c[:, None, None] + c[None, :, None] + c[None, None, :]).ravel())
    e = np.linspace(0.05, 11.95, 120)
    frac = np.searchsorted(levels, e, side="right") / L**3
    np.testing.assert_allclose(frac, free_idos_3d(e), rtol=0, atol=1.0 / L)


# -- the 3-D Weyl laws -----------------------------------------------------------------


def test_weyl_forms_3d(rng):
    W = rng.uniform(0, 1, (6, 7, 5))
    E = np.array([-1.0, 0.1, 0.5, 2.0, 50.0])
    cont = weyl_count(W, E, dim=3)
    lat = weyl_count(W, E, kind="lattice", dim=3)
    want = [np.sum(np.maximum(e - W, 0) ** 1.5) / (6 * np.pi**2) for e in E]
    np.testing.assert_allclose(cont, want, rtol=1e-14)
    np.testing.assert_allclose(lat, [free_idos_3d(e - W).sum() for e in E], rtol=1e-13)
    assert cont[0] == 0 and lat[0] == 0
    assert lat[-1] == W.size  # one state per site once E - W >= 12
    # for small E - W the two forms agree to leading order
    assert weyl_count(W, [0.01], kind="lattice", dim=3)[0] == pytest.approx(
        weyl_count(W, [0.01], dim=3)[0], rel=0.01
    )


def test_weyl_of_a_flat_landscape_is_the_free_count():
    """W ≡ w: the lattice law is L³ N3(E - w), close to the exact count of -Δ + w."""
    L, w = 24, 0.3
    E = np.array([0.5, 1.3, 2.9, 4.3, 6.0, 9.1])
    got = weyl_count(np.full((L, L, L), w), E, kind="lattice", dim=3)
    np.testing.assert_allclose(got, L**3 * free_idos_3d(E - w), rtol=1e-12)
    c = 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L)
    levels = w + (c[:, None, None] + c[None, :, None] + c[None, None, :]).ravel()
    exact = np.array([np.sum(levels <= e) for e in E])
    assert np.all(np.abs(got - exact) <= 12 * L**2)  # finite size, O(L²) states


def test_weyl_batch_and_bad_kind_3d(rng):
    W = rng.uniform(0, 1, (2, 3, 4, 5))
    E = rng.uniform(0, 5, (2, 4))
    for kind in ("continuum", "lattice"):
        out = weyl_count(W, E, kind=kind, dim=3)
        assert out.shape == (2, 4)
        for b in range(2):
            np.testing.assert_allclose(out[b], weyl_count(W[b], E[b], kind=kind, dim=3))
    with pytest.raises(ValueError, match="kind"):
        weyl_count(W, E, kind="quantum", dim=3)


def test_weyl_many_energies_same_as_one_by_one(rng):
    """Continuum: several chunks of the (B, m, n) intermediate; lattice: compiled loop."""
    W = rng.uniform(0, 2, (8, 8, 8))
    E = np.linspace(-0.5, 14.0, 3000)  # 3 potentials × 3000 energies × 512 sites: 2 chunks
    pick = [0, 1, 1499, 2500, 2999]
    lat = weyl_count(W, E, kind="lattice", dim=3)
    np.testing.assert_allclose(lat[pick], [free_idos_3d(E[i] - W).sum() for i in pick], rtol=1e-13)
    cont = weyl_count(np.stack([W] * 3), np.stack([E] * 3), dim=3)
    want = [np.sum(np.maximum(E[i] - W, 0) ** 1.5) / (6 * np.pi**2) for i in pick]
    np.testing.assert_allclose(cont[:, pick], np.stack([want] * 3), rtol=1e-12)
