"""lnet.domain: the statistics of a model's training inputs and the check of new inputs."""

import dataclasses
import json

import numpy as np
import pytest

from lnet.domain import (
    COUNT_TOLERANCE,
    DEFAULT_TOLERANCE,
    ROUND_OFF,
    InputDomain,
    Range,
    has_zero_site,
    statistics,
)
from lnet.physics import landscape_potential


def _domain(rng, P=100, n=64, amplitude=1.0):
    V = amplitude * rng.random((P, n))
    return InputDomain.from_potentials(V, landscape_potential(V))


def test_statistics_follow_their_formulas():
    V = np.array([[0.0, 1.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    W = np.array([[1.0, np.e, np.e**3, 1.0], [5.0, 5.0, 5.0, 5.0]])
    s = statistics(V, W)
    assert set(s) == {"amplitude", "log_w_spread", "zero_fraction", "sites"}
    assert all(v.shape == (2,) for v in s.values())
    np.testing.assert_allclose(s["amplitude"], [1.0, 2.0])  # mean of V
    np.testing.assert_allclose(s["log_w_spread"], [np.std([0, 1, 3, 0]), 0.0])  # std of log W
    np.testing.assert_allclose(s["zero_fraction"], [0.5, 0.0])  # sites with V == 0
    np.testing.assert_array_equal(s["sites"], [4, 4])
    one = statistics(V[0], W[0])  # one potential: P = 1
    assert {k: v.shape for k, v in one.items()} == {k: (1,) for k in s}


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_the_zero_site_class_is_a_positive_zero_fraction(dim, rng):
    V = rng.random((4, *[5] * dim)) + 1e-3
    V[1].flat[-1] = 0.0
    V[3] = 0.0
    V[2].flat[0] = 1e-300  # tiny but not zero
    z = has_zero_site(V, dim)
    assert z.dtype == bool and z.tolist() == [False, True, False, True]
    W = np.ones_like(V)
    np.testing.assert_array_equal(z, statistics(V, W, dim)["zero_fraction"] > 0)
    assert has_zero_site(V[1], dim).tolist() == [True]  # one potential: P = 1
    with pytest.raises(ValueError, match="shape"):
        has_zero_site(V[..., None], dim)


def test_statistics_of_a_3d_lattice_name_its_sides(rng):
    V = rng.random((2, 3, 4, 5))
    s = statistics(V, np.ones_like(V), dim=3)
    np.testing.assert_array_equal(s["sites"], [60, 60])
    assert [s[k][0] for k in ("L1", "L2", "L3")] == [3, 4, 5]
    with pytest.raises(ValueError, match="same shape"):
        statistics(V, np.ones((2, 3, 4, 6)), dim=3)


def test_the_domain_keeps_min_and_max_and_round_trips_through_json(rng):
    V = rng.random((5, 6, 4))
    W = landscape_potential(V, dim=2)
    d = InputDomain.from_potentials(V, W, dim=2)
    s = statistics(V, W, dim=2)
    assert d.potentials == 5 and d.dim == 2 and d.tolerance == DEFAULT_TOLERANCE
    assert d.amplitude == Range(s["amplitude"].min(), s["amplitude"].max())
    assert d.log_w_spread == Range(s["log_w_spread"].min(), s["log_w_spread"].max())
    assert d.sites == Range(24, 24) and d.sides == (Range(6, 6), Range(4, 4))
    data = json.loads(json.dumps(d.to_dict()))
    assert data["ranges"]["L1"] == {"min": 6, "max": 6} and "amplitude" in data["definitions"]
    assert InputDomain.from_dict(data) == d
    with pytest.raises(ValueError, match="newer"):
        InputDomain.from_dict({**data, "version": 99})


def test_union_joins_ranges_of_two_lattices(rng):
    a = _domain(rng, P=10, n=32)
    b = _domain(rng, P=20, n=64, amplitude=2.0)
    u = a.union(b)
    assert u.potentials == 30 and u.sites == Range(32, 64)
    assert u.amplitude == Range(a.amplitude.low, b.amplitude.high)
    V = 2.0 * rng.random(48)  # between the two lattices and amplitudes
    assert u.check(V, landscape_potential(V)) == []
    assert {v.statistic for v in a.check(V, landscape_potential(V))} >= {"amplitude", "sites"}
    with pytest.raises(ValueError, match="1-D and a 2-D"):
        a.union(InputDomain.from_potentials(np.ones((1, 3, 3)), np.ones((1, 3, 3)), dim=2))


def test_fresh_potentials_of_the_training_law_are_in_range(rng):
    d = _domain(rng)
    V = np.random.default_rng(99).random((20, 64))
    assert d.check(V, landscape_potential(V)) == []


def test_a_hundredfold_amplitude_and_three_sites_are_out_of_range(rng):
    d = _domain(rng)
    V = 100 * rng.random(64)
    (amplitude,) = [v for v in d.check(V, landscape_potential(V)) if v.statistic == "amplitude"]
    assert amplitude.total == amplitude.outside == 1
    assert amplitude.observed == d.amplitude and amplitude.values.low > 30
    assert "amplitude" in amplitude.message and f"{d.amplitude.low:.4g}" in amplitude.message
    V3 = rng.random((4, 3))
    (sites,) = [v for v in d.check(V3, landscape_potential(V3)) if v.statistic == "sites"]
    assert sites.values == Range(3, 3) and sites.outside == 4 and sites.accepted == Range(64, 64)
    assert "[3, 3]" in sites.message and "[64, 64]" in sites.message


def test_continuous_ranges_are_widened_by_margin_and_tolerance():
    V = np.array([[1.0, 1.0], [3.0, 3.0]])  # amplitudes 1 and 3: width 2
    acc = InputDomain.from_potentials(V, np.ones_like(V), margin=0.5, tolerance=0.1).accepted()
    assert acc["amplitude"].low == 0.0  # 1 - 0.5·2 - 0.1·1 < 0: clipped
    assert acc["amplitude"].high == pytest.approx(3 + 0.5 * 2 + 0.1 * 3)
    exact = InputDomain.from_potentials(V, np.ones_like(V), margin=0.0, tolerance=0.0)
    r = exact.accepted()["amplitude"]
    assert (r.low, r.high) == pytest.approx((1.0, 3.0), abs=1e-8)


def test_continuous_ranges_are_widened_by_the_tolerance_lattices_are_exact():
    V = np.tile([0.0, 1.0, 1.0, 1.0], (2, 1))  # amplitude 0.75, zero fraction 0.25; width 0
    d = InputDomain.from_potentials(V, np.ones_like(V))
    acc = d.accepted()
    assert acc["amplitude"].low == pytest.approx(0.9 * 0.75) and acc["sites"] == Range(4, 4)
    assert acc["amplitude"].high == pytest.approx(1.1 * 0.75)
    assert acc["log_w_spread"].low == 0.0  # clipped at 0

    def stats_out(V):
        return {v.statistic for v in d.check(V, np.ones_like(V))}

    assert stats_out(np.array([0.0, 1.05, 1.05, 1.05])) == set()  # amplitude 1.05 × 0.75
    assert stats_out(np.array([0.0, 1.2, 1.2, 1.2])) == {"amplitude"}
    assert stats_out(np.array([0.0, 0.0, 2.0, 1.0])) == {"zero_fraction"}  # 0.5 > 1.1 × 0.25
    assert stats_out(np.array([0.0, 2.0, 2.0, 2.0, 2.0])) == {"amplitude", "zero_fraction", "sites"}


def test_a_size_free_model_accepts_larger_lattices_but_not_smaller_ones():
    """A size-free net (no fixed n or shape) is built for larger lattices than its
    training ones: sites and sides are lower bounds only; a fixed-size model keeps both."""
    from lnet.domain import InputDomain, is_size_free
    from lnet.models import LandscapeNet, UniversalLandscapeNet
    from lnet.physics import landscape_potential

    rng = np.random.default_rng(11)
    V = rng.random((6, 64))
    fixed = InputDomain.from_potentials(V, landscape_potential(V))
    free = dataclasses.replace(fixed, size_free=True)
    big = rng.random((2, 4096))
    tiny = rng.random((2, 3))
    assert [v.statistic for v in free.check(big, landscape_potential(big))] == []
    assert [v.statistic for v in fixed.check(big, landscape_potential(big))] == ["sites"]
    (low,) = [v for v in free.check(tiny, landscape_potential(tiny)) if v.statistic == "sites"]
    assert "[64, ∞)" in low.message
    assert InputDomain.from_dict(free.to_dict()) == free
    assert InputDomain.from_dict({**fixed.to_dict(), "version": 1}).size_free is False
    assert is_size_free(UniversalLandscapeNet()) and not is_size_free(LandscapeNet())
    V2 = rng.random((3, 8, 6))
    free2 = dataclasses.replace(
        InputDomain.from_potentials(V2, landscape_potential(V2, dim=2), dim=2), size_free=True
    )

    def lattice_violations(V):  # the statistics of V's lattice that are out of range
        found = free2.check(V, landscape_potential(V, dim=2))
        return [v.statistic for v in found if v.statistic in ("sites", "L1", "L2")]

    assert lattice_violations(rng.random((1, 40, 30))) == []
    # more sites than any training lattice, one side shorter
    assert lattice_violations(rng.random((1, 40, 4))) == ["L2"]


def test_the_margin_shrinks_as_the_training_set_grows():
    """A fresh draw passes the extreme of P draws with probability 1/(P + 1): up to
    MARGIN_POTENTIALS potentials the full margin, then margin·20/P, on top of the 10 %."""
    from lnet.domain import DEFAULT_MARGIN, MARGIN_POTENTIALS, ROUND_OFF

    base = dict(
        dim=1,
        amplitude=Range(1.0, 3.0),
        log_w_spread=Range(0.1, 0.2),
        zero_fraction=Range(0.0, 0.0),
        sites=Range(1000, 1000),
    )
    small = InputDomain(potentials=MARGIN_POTENTIALS, **base)
    large = InputDomain(potentials=10 * MARGIN_POTENTIALS, **base)
    assert small.effective_margin == DEFAULT_MARGIN
    assert large.effective_margin == pytest.approx(DEFAULT_MARGIN / 10)
    # amplitude [1, 3], width 2: small accepts up to 3 + 0.5·2 + 0.3, large 3 + 0.05·2 + 0.3
    assert small.accepted()["amplitude"].high == pytest.approx(4.3 + ROUND_OFF)
    assert large.accepted()["amplitude"].high == pytest.approx(3.4 + ROUND_OFF)
    V = np.full((1, 1000), 3.6)
    W = landscape_potential(V)
    assert "amplitude" not in [v.statistic for v in small.check(V, W)]
    assert "amplitude" in [v.statistic for v in large.check(V, W)]


# -- the energies: the count fraction N(E)/sites of the training pairs ---------------
def _counting_domain(rng, P=20, n=50, top=5):
    V = rng.random((P, n))
    counts = rng.integers(0, top + 1, (P, 7))
    counts[0, 0] = top  # the training maximum: top/n
    return InputDomain.from_potentials(V, landscape_potential(V), counts=counts)


def test_the_count_fraction_is_the_range_of_the_training_counts_over_the_sites(rng):
    d = _counting_domain(rng)
    assert d.count_fraction.high == 5 / 50 and d.count_fraction.low >= 0
    assert d.accepted()["count_fraction"].high == pytest.approx(0.1 * (1 + COUNT_TOLERANCE))
    data = json.loads(json.dumps(d.to_dict()))
    assert data["ranges"]["count_fraction"] == {"min": d.count_fraction.low, "max": 0.1}
    assert "count_fraction" in data["definitions"]
    assert InputDomain.from_dict(data) == d
    assert _domain(rng).count_fraction is None  # potentials only: nothing recorded
    with pytest.raises(ValueError, match="counts of the 20 potentials"):
        V = rng.random((20, 50))
        InputDomain.from_potentials(V, landscape_potential(V), counts=np.ones((19, 3)))


def test_union_keeps_a_count_fraction_only_where_both_record_one(rng):
    a, b = _counting_domain(rng, top=5), _counting_domain(rng, n=100, top=20)
    assert a.union(b).count_fraction == Range(0.0, 0.2)
    assert a.union(_domain(rng, n=50)).count_fraction is None


def test_pairs_above_the_training_energies_are_one_violation_naming_them(rng):
    d = _counting_domain(rng)  # training maximum 0.1, accepted up to 0.15
    assert d.accepted()["count_fraction"].high == pytest.approx(0.15 + ROUND_OFF, rel=1e-15)
    assert d.check_counts(np.array([[0.0, 3.0, 7.5]]), sites=50) is None  # 7.5/50 = 0.15
    v = d.check_counts(np.array([[1.0, 7.6], [30.0, 2.0]]), sites=50)
    assert v.statistic == "count_fraction" and (v.outside, v.total) == (2, 4)
    assert v.values == Range(0.02, 0.6)
    text = v.message
    assert "4 (potential, energy) pairs spans [0.02, 0.6], 2 of them out of range" in text
    assert "[0, 0.15]" in text and "count_eigenvalues" in text
    assert d.check_counts(np.array([150.0]), sites=1000) is None  # the fraction, any lattice
    assert "of the input is 0.2" in d.check_counts(np.array([200.0]), sites=1000).message
    assert _domain(rng).check_counts(np.array([1e6]), sites=64) is None  # none recorded
