import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnet.physics import box_count, weyl_count
from lnet.physics.box_counting import box_count_steps, box_tiling

# energies from far below to far above the lattice scale, including 0 and negatives
ENERGY = st.one_of(
    st.floats(-5, 5, allow_subnormal=False),
    st.floats(1e-9, 1e-2, allow_subnormal=False),
    st.sampled_from([0.0, 1.0, 0.25, 1 / 9, 0.01, 1e-6, 4.0]),
)
LANDSCAPE = arrays(
    np.float64, st.integers(3, 300), elements=st.floats(1e-3, 4, allow_subnormal=False)
)


def side(E: float) -> float:
    """ℓ(E) = max(1, E^(-1/2)) for E > 0 (box_count's documented box side); E <= 0: ∞."""
    return max(1.0, E**-0.5) if E > 0 else math.inf


SLACK = 1 + 1e-9  # K = ceil(n/ℓ - 1e-12): ℓ within round-off of n/K counts as n/K


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 5000), E=ENERGY)
def test_tiling_covers_the_lattice_with_the_fewest_boxes_of_mean_side_at_most_l(n, E):
    edges = box_tiling(n, E)
    sizes = np.diff(edges)
    K = sizes.size
    # full cover, contiguous, disjoint, no empty box
    assert edges[0] == 0 and edges[-1] == n and np.all(sizes >= 1)
    # near-equal integer sizes: floor(n/K) or ceil(n/K)
    assert sizes.max() - sizes.min() <= 1
    ell = side(E)
    # mean side n/K <= ℓ, so every side is <= ceil(ℓ) (< ℓ + 1; <= ℓ when ℓ is an integer)
    assert n <= K * ell * SLACK
    assert sizes.max() < ell * SLACK + 1
    # and no coarser tiling would do: K - 1 boxes of mean side <= ℓ cannot cover n sites
    assert K == 1 or (K - 1) * ell < n * SLACK
    if E <= 0:
        assert K == 1


@pytest.mark.parametrize("j", [1, 2, 3, 7, 10, 31])
@pytest.mark.parametrize("n", [3, 10, 97, 1000, 1001])
def test_integer_side_bounds_every_box(n, j):
    """E = 1/j²: ℓ = j is an integer, and then every box has side <= ℓ."""
    sizes = np.diff(box_tiling(n, 1.0 / j**2))
    assert sizes.max() <= j


@settings(max_examples=150, deadline=None)
@given(W=LANDSCAPE, E=st.lists(ENERGY, min_size=1, max_size=8))
def test_box_count_counts_the_boxes_of_the_tiling_that_reach_e(W, E):
    got = box_count(W, E)
    assert got.dtype == np.int64
    for e, count in zip(E, got, strict=True):
        edges = box_tiling(W.size, e)
        boxes = [W[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
        assert count == sum(box.min() <= e for box in boxes)
        # observable bounds that need no tiling: at most one per site with W <= E
        assert 0 <= count <= min(len(boxes), int(np.sum(W <= e)))


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(3, 500),
    site=st.integers(0, 10_000),
    low=st.floats(1e-6, 0.5),
    E=st.floats(-1, 0.99),
)
def test_single_low_site_is_one_box(n, site, low, E):
    """One site below E, all others above: exactly one box reaches E, whatever the tiling."""
    W = np.full(n, 1.0)
    W[site % n] = low
    assert box_count(W, [E])[0] == (1 if low <= E else 0)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(3, 2000), w=st.floats(1e-6, 2), E=ENERGY)
def test_flat_landscape_below_e_counts_every_box(n, w, E):
    W = np.full(n, w)
    count = box_count(W, [E])[0]
    if E < w:
        assert count == 0
    else:  # every box counts: as many boxes as the fewest of side <= ℓ that cover n sites
        assert count == len(box_tiling(n, E)) - 1
        assert count * side(E) >= n * (1 - 1e-9) and (count - 1) * side(E) < n * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
# x + 0.0 turns -0.0 into 0.0: sorted() keeps [0.0, -0.0] as drawn (they compare equal),
# and st.floats(0.0, -0.0) below is an empty range
@given(
    W=LANDSCAPE,
    t=st.tuples(ENERGY, ENERGY).map(lambda p: sorted(x + 0.0 for x in p)),
    data=st.data(),
)
def test_steps_match_box_count(W, t, data):
    """box_count_steps: N^W(t) as an exact step function of t on [t_lo, t_hi]."""
    t_lo, t_hi = t
    breaks, counts = box_count_steps(W, t_lo, t_hi)
    assert counts.size == breaks.size + 1
    assert np.all(np.diff(breaks) > 0) and np.all(np.diff(counts) != 0)
    assert breaks.size == 0 or (breaks[0] > t_lo and breaks[-1] <= t_hi)
    assert box_count(W, [t_lo])[0] == counts[0]
    edges = np.concatenate([[t_lo], breaks, [t_hi]])
    inner = edges[1:] - edges[:-1] > 1e-9 * np.maximum(1.0, np.abs(edges[1:]))
    mids = (0.5 * (edges[:-1] + edges[1:]))[inner]
    if mids.size:
        np.testing.assert_array_equal(box_count(W, mids), counts[inner])
    ts = np.array(data.draw(st.lists(st.floats(t_lo, t_hi), min_size=1, max_size=20)))
    far = np.min(np.abs(ts[:, None] - breaks[None, :]), axis=1, initial=np.inf) > 1e-9
    if far.any():
        idx = np.searchsorted(breaks, ts[far], side="left")
        np.testing.assert_array_equal(box_count(W, ts[far]), counts[idx])


def test_box_count_batch(rng):
    W = rng.uniform(0, 1, (3, 50))
    E = rng.uniform(0, 1, (3, 4))
    out = box_count(W, E)
    assert out.shape == (3, 4)
    for b in range(3):
        np.testing.assert_array_equal(out[b], box_count(W[b], E[b]))


def test_weyl_forms(rng):
    W = rng.uniform(0, 1, 200)
    E = np.array([-1.0, 0.1, 0.5, 2.0])
    cont = weyl_count(W, E)
    lat = weyl_count(W, E, kind="lattice")
    want = [np.sqrt(np.maximum(e - W, 0)).sum() / np.pi for e in E]
    np.testing.assert_allclose(cont, want)
    assert cont[0] == 0 and lat[0] == 0
    # the lattice density of states saturates: at most n states, reached for E - W >= 4
    assert weyl_count(W, [10.0], kind="lattice")[0] == pytest.approx(200.0)
    # for small E - W the two forms agree to leading order
    small = weyl_count(W, [0.02], kind="lattice")[0] / weyl_count(W, [0.02])[0]
    assert small == pytest.approx(1.0, rel=0.01)


def test_weyl_batch_and_bad_kind(rng):
    W = rng.uniform(0, 1, (2, 30))
    E = rng.uniform(0, 1, (2, 5))
    assert weyl_count(W, E).shape == (2, 5)
    with pytest.raises(ValueError, match="kind"):
        weyl_count(W, E, kind="quantum")
