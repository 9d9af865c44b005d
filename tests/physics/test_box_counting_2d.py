"""2-D landscape laws: the box count on the L1×L2 torus and the 2-D Weyl laws."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnet.physics import box_count, box_tiling, weyl_count
from lnet.physics.weyl import free_idos_2d

ENERGY = st.one_of(
    st.floats(-5, 5, allow_subnormal=False),
    st.floats(1e-9, 1e-2, allow_subnormal=False),
    st.sampled_from([0.0, 1.0, 0.25, 1 / 9, 0.01, 1e-6, 4.0]),
)
LANDSCAPE_2D = arrays(
    np.float64,
    st.tuples(st.integers(2, 40), st.integers(2, 40)),
    elements=st.floats(1e-3, 4, allow_subnormal=False),
)


def brute_box_count(W: np.ndarray, e: float) -> int:
    """Boxes = products of the 1-D tilings of each axis; count those with min W <= e."""
    r, c = box_tiling(W.shape[0], e), box_tiling(W.shape[1], e)
    return sum(
        W[r[i] : r[i + 1], c[j] : c[j + 1]].min() <= e
        for i in range(r.size - 1)
        for j in range(c.size - 1)
    )


@settings(max_examples=150, deadline=None)
@given(W=LANDSCAPE_2D, E=st.lists(ENERGY, min_size=1, max_size=6))
def test_box_count_is_the_product_tiling(W, E):
    got = box_count(W, E, dim=2)
    assert got.dtype == np.int64 and got.shape == (len(E),)
    for e, count in zip(E, got, strict=True):
        assert count == brute_box_count(W, e)
        K = (box_tiling(W.shape[0], e).size - 1) * (box_tiling(W.shape[1], e).size - 1)
        assert 0 <= count <= min(K, int(np.sum(W <= e)))


@pytest.mark.parametrize("shape", [(2, 2), (2, 9), (7, 3), (16, 16), (30, 17)])
def test_box_sizes_follow_the_energy(shape):
    """E = 1/j²: side ℓ = j, K_i = ceil(L_i / j) boxes along axis i; E <= 0: one box."""
    L1, L2 = shape
    W = np.zeros(shape)  # every box reaches E >= 0: the count is the number of boxes
    for j in (1, 2, 3, 5, 8):
        got = box_count(W, [1.0 / j**2], dim=2)[0]
        assert got == math.ceil(L1 / j) * math.ceil(L2 / j)
    assert box_count(W, [0.0, 100.0], dim=2).tolist() == [1, L1 * L2]
    assert box_count(W + 1, [-1.0, 0.5], dim=2).tolist() == [0, 0]


@settings(max_examples=60, deadline=None)
@given(
    L1=st.integers(2, 50),
    L2=st.integers(2, 50),
    site=st.integers(0, 10_000),
    low=st.floats(1e-6, 0.5),
    E=st.floats(-1, 0.99),
)
def test_single_low_site_is_one_box(L1, L2, site, low, E):
    W = np.ones((L1, L2))
    W.reshape(-1)[site % (L1 * L2)] = low
    assert box_count(W, [E], dim=2)[0] == (1 if low <= E else 0)


def test_axes_are_tiled_independently():
    """A low row crosses every box column: the count is K2 times the boxes it meets."""
    W = np.ones((12, 20))
    W[5, :] = 0.01
    for e in (0.2, 1 / 4, 1 / 9, 1 / 16):
        K2 = box_tiling(20, e).size - 1
        assert box_count(W, [e], dim=2)[0] == K2
        assert box_count(W.T, [e], dim=2)[0] == K2


def test_box_count_batch(rng):
    W = rng.uniform(0, 1, (3, 9, 14))
    E = rng.uniform(0, 1, (3, 5))
    out = box_count(W, E, dim=2)
    assert out.shape == (3, 5)
    for b in range(3):
        np.testing.assert_array_equal(out[b], box_count(W[b], E[b], dim=2))


# -- the free 2-D integrated density of states ---------------------------------------


def idos_reference(e: float) -> float:
    """N0(e) = (1/π) ∫_0^π f(e - 2 + 2 cos k) dk, f the 1-D IDOS, in 30-digit quadrature."""
    if e <= 0:
        return 0.0
    if e >= 8:
        return 1.0
    with mpmath.workdps(30):
        x = mpmath.mpf(e)

        def f(k):
            t = x - 2 + 2 * mpmath.cos(k)
            return mpmath.acos(max(-1, min(1, 1 - t / 2))) / mpmath.pi

        kinks = [mpmath.acos(-(x - c) / 2) for c in (2, 6) if -1 < -(x - c) / 2 < 1]
        return float(mpmath.quad(f, sorted([0, *kinks, mpmath.pi])) / mpmath.pi)


ENERGIES_N0 = [
    1e-12, 1e-6, 1e-3, 0.1, 0.5, 1.0, 1.7, 2.0, 2.5, 3.0, 3.5, 3.9, 3.99, 3.9999, 4 - 1e-9,
    4.0, 4 + 1e-7, 4.01, 4.3, 5.0, 6.0, 6.6, 7.5, 7.99, 8 - 1e-8,
]  # fmt: skip


def test_free_idos_matches_30_digit_quadrature():
    got = free_idos_2d(np.array(ENERGIES_N0))
    want = np.array([idos_reference(e) for e in ENERGIES_N0])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_free_idos_limits_and_symmetry(rng):
    e = np.concatenate([rng.uniform(-3, 11, 2000), [0.0, 4.0, 8.0, -1e-300, 8 + 1e-12]])
    n0 = free_idos_2d(e)
    assert n0.shape == e.shape
    assert np.all(n0[e <= 0] == 0) and np.all(n0[e >= 8] == 1)
    assert free_idos_2d(4.0) == pytest.approx(0.5, abs=1e-14)
    np.testing.assert_allclose(free_idos_2d(8 - e), 1 - n0, atol=1e-13)  # k -> k + (π, π)
    order = np.argsort(e)
    assert np.all(np.diff(n0[order]) >= -1e-15)  # monotone
    # the band edge: N0(e) = e/(4π) + O(e²), the continuum's density of states
    small = np.array([1e-8, 1e-6, 1e-4])
    np.testing.assert_allclose(free_idos_2d(small), small / (4 * np.pi), rtol=1e-3)


@pytest.mark.parametrize("L", [256, 601])
def test_free_idos_matches_brute_force_lattice_count(L):
    """The fraction of the L×L free lattice's eigenvalues 4 - 2cos(2πj/L) - 2cos(2πk/L) <= e."""
    c = 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L)
    levels = np.sort((c[:, None] + c[None, :]).ravel())
    e = np.linspace(0.05, 7.95, 80)
    frac = np.searchsorted(levels, e, side="right") / L**2
    # finite size: the lattice count differs from the integral by O(1/L) (edges of the
    # level set; a log more at the van Hove energy 4)
    np.testing.assert_allclose(frac, free_idos_2d(e), rtol=0, atol=1.0 / L)


# -- the 2-D Weyl laws -----------------------------------------------------------------


def test_weyl_forms_2d(rng):
    W = rng.uniform(0, 1, (12, 17))
    E = np.array([-1.0, 0.1, 0.5, 2.0, 30.0])
    cont = weyl_count(W, E, dim=2)
    lat = weyl_count(W, E, kind="lattice", dim=2)
    want = [np.maximum(e - W, 0).sum() / (4 * np.pi) for e in E]
    np.testing.assert_allclose(cont, want, rtol=1e-14)
    np.testing.assert_allclose(lat, [free_idos_2d(e - W).sum() for e in E], rtol=1e-12)
    assert cont[0] == 0 and lat[0] == 0
    # the lattice density of states saturates at one state per site (E - W >= 8)
    assert lat[-1] == W.size
    # for small E - W the two forms agree to leading order
    assert weyl_count(W, [0.02], kind="lattice", dim=2)[0] == pytest.approx(
        weyl_count(W, [0.02], dim=2)[0], rel=0.01
    )


def test_weyl_of_a_flat_landscape_is_the_free_count():
    """W ≡ w: the lattice law is L1·L2·N0(E - w), close to the exact count of -Δ + w."""
    L, w = 64, 0.3
    E = np.array([0.5, 1.3, 2.9, 4.3, 6.0])
    got = weyl_count(np.full((L, L), w), E, kind="lattice", dim=2)
    np.testing.assert_allclose(got, L * L * free_idos_2d(E - w), rtol=1e-12)
    c = 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L)
    levels = w + (c[:, None] + c[None, :]).ravel()
    exact = np.array([np.sum(levels <= e) for e in E])
    assert np.all(np.abs(got - exact) <= 8 * L)  # finite size, O(L) states


def test_weyl_batch_and_bad_kind_2d(rng):
    W = rng.uniform(0, 1, (2, 5, 6))
    E = rng.uniform(0, 3, (2, 4))
    for kind in ("continuum", "lattice"):
        out = weyl_count(W, E, kind=kind, dim=2)
        assert out.shape == (2, 4)
        for b in range(2):
            np.testing.assert_allclose(out[b], weyl_count(W[b], E[b], kind=kind, dim=2))
    with pytest.raises(ValueError, match="kind"):
        weyl_count(W, E, kind="quantum", dim=2)


def test_weyl_many_energies_same_as_one_by_one(rng):
    """Continuum: more than one chunk of the (B, m, n) intermediate; lattice: compiled loop."""
    W = rng.uniform(0, 2, (40, 40))
    E = np.linspace(-0.5, 9.0, 3000)
    pick = [0, 1, 1499, 2500, 2999]
    lat = weyl_count(W, E, kind="lattice", dim=2)
    np.testing.assert_allclose(lat[pick], [free_idos_2d(E[i] - W).sum() for i in pick], rtol=1e-12)
    cont = weyl_count(np.stack([W] * 3), np.stack([E] * 3), dim=2)  # 3 chunks
    want = [np.maximum(E[i] - W, 0).sum() / (4 * np.pi) for i in pick]
    np.testing.assert_allclose(cont[:, pick], np.stack([want] * 3), rtol=1e-12)
