"""Split-conformal calibration (lnet.conformal) on synthetic scores and counts: the rank
⌈(n + 1)·0.9⌉, coverage on fresh exchangeable draws, and a (κ, γ) choice that holds
coverage on two "lattices" whose errors differ tenfold."""

import math

import numpy as np
import pytest

from lnet.conformal import (
    KAPPAS,
    IntervalCalibration,
    LatticeQuantile,
    calibrate,
    conformal_quantile,
    conformal_rank,
    min_scores,
    scale,
    scores,
)


@pytest.mark.parametrize(
    ("n", "k"), [(9, 9), (10, 10), (19, 18), (99, 90), (199, 180), (1000, 901)]
)
def test_the_rank_is_ceil_of_n_plus_one_times_the_level(n, k):
    assert conformal_rank(n, 0.9) == k == math.ceil((n + 1) * 0.9 - 1e-9)


def test_too_few_scores_for_a_finite_quantile():
    with pytest.raises(ValueError, match="needs at least 9 calibration scores, got 8"):
        conformal_rank(8, 0.9)


def test_the_quantile_is_the_kth_smallest_score():
    rng = np.random.default_rng(0)
    s = rng.exponential(size=199)
    assert conformal_quantile(s, 0.9) == np.sort(s)[179]  # k = ⌈200 · 0.9⌉ = 180
    assert conformal_quantile(s.reshape(1, 199), 0.9) == np.sort(s)[179]


def test_coverage_on_fresh_exchangeable_draws():
    """q from n = 1000 calibration scores covers 90 % of fresh draws of the same law:
    the conditional coverage is Beta(k, n + 1 − k) (mean 0.9, sd 0.0095), measured on
    100,000 fresh draws (binomial sd 0.001); over 400 repetitions of (calibration set,
    fresh draw) the marginal coverage is >= 0.9 up to the binomial noise (sd 0.015)."""
    rng = np.random.default_rng(2024)
    q = conformal_quantile(rng.standard_cauchy(1000) ** 2, 0.9)
    coverage = np.mean(rng.standard_cauchy(100_000) ** 2 <= q)
    assert 0.85 <= coverage <= 0.95
    hits = [
        rng.lognormal(size=1)[0] <= conformal_quantile(rng.lognormal(size=49), 0.9)
        for _ in range(400)
    ]
    assert 0.85 <= np.mean(hits) <= 0.95


def test_interval_contains_the_mean_and_stays_nonnegative():
    cal = IntervalCalibration(level=0.9, kappa=0.5, gamma=0.5, q=2.0, n_cal=99)
    mean = np.array([0.0, 0.3, 5.0, 500.0])
    std = np.array([0.0, 1.0, 0.2, 30.0])
    low, high = cal.interval(mean, std)
    assert np.all(low >= 0) and np.all(low <= mean) and np.all(mean <= high)
    sigma = std + 0.5 * np.sqrt(mean + 1)
    np.testing.assert_allclose(high, mean + 2.0 * sigma)
    np.testing.assert_allclose(low, np.maximum(0.0, mean - 2.0 * sigma))
    assert IntervalCalibration.from_dict(cal.to_dict()) == cal


def _synthetic(rng, P: int, sizes=(100.0, 1000.0)):
    """Counts on two "lattices": N ~ U(0, size), the ensemble's mean off by a relative
    error of 5 % plus one level of noise, its std a noisy tenth of that."""
    groups, N, mu, s = [], [], [], []
    for size in sizes:
        true = rng.uniform(0, size, P)
        err = rng.normal(0, 1, P) * (0.05 * true + 1.0)
        mu.append(np.maximum(true + err, 0))
        s.append(rng.uniform(0.05, 0.15, P) * (0.05 * true + 1.0))
        N.append(np.round(true))
        groups.append(np.full(P, f"size{int(size)}"))
    return (np.concatenate(a) for a in (N, mu, s, groups))


def test_calibration_holds_coverage_on_both_lattices():
    """Errors ~10x larger on the larger lattice: the chosen (κ, γ) make one q cover
    both to within [0.85, 0.95], measured on fresh draws."""
    rng = np.random.default_rng(7)
    N, mu, s, groups = _synthetic(rng, 1000)
    select = np.arange(N.size) % 2 == 0
    result = calibrate(N, mu, s, groups, select, 0.9)
    cal = result.calibration
    assert cal.n_cal == int((~select).sum()) == 1000 and result.n_select == 1000
    # q is the conformal quantile of the other half's scores under the chosen (κ, γ)
    r = scores(N[~select], mu[~select], s[~select], cal.kappa, cal.gamma)
    assert cal.q == np.sort(r)[conformal_rank(r.size) - 1]
    N2, mu2, s2, g2 = _synthetic(np.random.default_rng(8), 20_000)
    low, high = cal.interval(mu2, s2)
    covered = (low <= N2) & (N2 <= high)
    for g in np.unique(g2):
        assert 0.85 <= covered[g2 == g].mean() <= 0.95, (g, cal)
    # a fixed Poisson-like floor (γ = 1/2, a relative error dwarfed) would miss one size
    sigma = scale(mu2, 0.0 * s2, 1.0, 0.5)
    q = conformal_quantile(np.abs(N[~select] - mu[~select]) / scale(mu[~select], 0.0, 1.0, 0.5))
    poisson = np.abs(N2 - mu2) <= q * sigma
    spread = [poisson[g2 == g].mean() for g in np.unique(g2)]
    assert max(spread) - min(spread) > 0.1


def test_one_quantile_per_lattice_covers_each_lattice():
    """Relative errors twice as large on the larger lattice than the score assumes
    (γ fixed at 1/2): the pooled q over- and under-covers the two lattices; with the
    pairs' sites given, each lattice's own q covers it, on fresh draws."""
    rng = np.random.default_rng(11)

    def draws(P):
        N, mu, s, sites = [], [], [], []
        for size, rel in ((100, 0.03), (1000, 0.06)):
            true = rng.uniform(0, size, P)
            mu.append(np.maximum(true + rng.normal(0, 1, P) * (rel * true + 1.0), 0))
            s.append(np.zeros(P))
            N.append(np.round(true))
            sites.append(np.full(P, size))
        return (np.concatenate(a) for a in (N, mu, s, sites))

    N, mu, s, sites = draws(2000)
    select = np.arange(N.size) % 2 == 0
    cal = calibrate(N, mu, s, sites.astype(str), select, 0.9, gammas=(0.5,), sites=sites)
    cal = cal.calibration
    assert [(lq.sites, lq.n) for lq in cal.lattice_q] == [(100, 1000), (1000, 1000)]
    for lq in cal.lattice_q:  # each q_L is the conformal quantile of its own lattice's scores
        mine = (~select) & (sites == lq.sites)
        r = scores(N[mine], mu[mine], s[mine], cal.kappa, cal.gamma)
        assert lq.q == np.sort(r)[conformal_rank(r.size) - 1]
    N2, mu2, s2, sites2 = draws(20_000)
    pooled, own = [], []
    for size in (100, 1000):
        at = sites2 == size
        lo, hi = cal.interval(mu2[at], s2[at])  # no lattice given: the pooled q
        pooled.append(np.mean((lo <= N2[at]) & (N2[at] <= hi)))
        lo, hi = cal.interval(mu2[at], s2[at], size)
        own.append(np.mean((lo <= N2[at]) & (N2[at] <= hi)))
    assert max(pooled) - min(pooled) > 0.05
    assert all(0.88 <= c <= 0.92 for c in own), own
    assert IntervalCalibration.from_dict(cal.to_dict()) == cal


def test_another_lattice_takes_the_nearest_calibrated_quantile():
    cal = IntervalCalibration(
        level=0.9,
        kappa=0.1,
        gamma=0.5,
        q=2.5,
        n_cal=200,
        lattice_q=(LatticeQuantile(1000, 2.0, 100), LatticeQuantile(10_000, 3.0, 100)),
    )
    assert cal.q_at(None) == 2.5
    assert cal.q_at(1000) == 2.0 and cal.q_at(3000) == 2.0 and cal.q_at(10**5) == 3.0
    assert cal.q_at(3163) == 3.0 and cal.q_at(3) == 2.0  # 3163 is nearer 10^4 in log
    tie = IntervalCalibration(
        0.9, 0.1, 0.5, 2.5, 200, (LatticeQuantile(100, 3.0, 100), LatticeQuantile(10_000, 2.0, 100))
    )
    assert tie.q_at(1000) == 3.0  # equally near both in log: the larger quantile
    _, high = cal.interval(np.array([10.0]), np.array([0.0]), 10_000)
    assert high[0] == pytest.approx(10.0 + 3.0 * 0.1 * np.sqrt(11.0))
    with pytest.raises(ValueError, match=r"distinct \(lattice size"):
        IntervalCalibration(0.9, 0.1, 0.5, 2.0, 10, (LatticeQuantile(5, 1.0, 9),) * 2)
    with pytest.raises(ValueError, match=r"lattice_q\[5 sites\]"):
        IntervalCalibration(0.9, 0.1, 0.5, 2.0, 10, (LatticeQuantile(5, float("nan"), 9),))


def test_a_version_1_calibration_still_loads_with_one_quantile():
    d = {"version": 1, "level": 0.9, "kappa": 0.03, "gamma": 0.75, "q": 3.8, "n_cal": 1000}
    cal = IntervalCalibration.from_dict(d)
    assert cal.lattice_q == () and cal.q_at(10**4) == 3.8


def _amplitude_draws(rng, P: int):
    """Counts whose error grows like sqrt(1 + a) with the potential's amplitude a
    (log-uniform on [0.1, 10]), ensemble spread 0: a score without a cannot cover weak
    and strong potentials alike."""
    a = np.exp(rng.uniform(np.log(0.1), np.log(10.0), P))
    true = rng.uniform(0, 200, P)
    mu = np.maximum(true + rng.normal(0, 1, P) * 0.3 * np.sqrt(true + 1) * np.sqrt(1 + a), 0)
    labels = np.where(a > 1.0, "strong", "weak")
    return np.round(true), mu, np.zeros(P), labels, a


def test_the_amplitude_factor_covers_weak_and_strong_potentials():
    rng = np.random.default_rng(21)
    N, mu, s, labels, a = _amplitude_draws(rng, 4000)
    select = np.arange(N.size) % 2 == 0
    with_a = calibrate(N, mu, s, labels, select, 0.9, gammas=(0.5,), amplitude=a).calibration
    without = calibrate(N, mu, s, labels, select, 0.9, gammas=(0.5,)).calibration
    assert without.delta == 0.0 and with_a.delta in (0.25, 0.5, 0.75)
    # q is the conformal quantile of the quantile half's scores with the chosen δ
    r = scores(N[~select], mu[~select], s[~select], with_a.kappa, 0.5, a[~select], with_a.delta)
    assert with_a.q == np.sort(r)[conformal_rank(r.size) - 1]
    N2, mu2, s2, g2, a2 = _amplitude_draws(np.random.default_rng(22), 40_000)
    cover = {}
    for name, cal in (("with", with_a), ("without", without)):
        lo, hi = cal.interval(mu2, s2, amplitude=a2)
        inside = (lo <= N2) & (N2 <= hi)
        cover[name] = [inside[g2 == g].mean() for g in ("weak", "strong")]
    assert all(0.87 <= c <= 0.93 for c in cover["with"]), cover
    assert cover["without"][0] - cover["without"][1] > 0.05, cover  # strong ones missed
    assert IntervalCalibration.from_dict(with_a.to_dict()) == with_a
    with pytest.raises(ValueError, match="amplitude"):
        with_a.interval(mu2, s2)  # δ > 0 needs each input's amplitude


def test_a_version_2_calibration_loads_without_the_amplitude_factor():
    d = {
        "version": 2,
        "level": 0.9,
        "kappa": 0.1,
        "gamma": 0.5,
        "q": 2.0,
        "n_cal": 100,
        "lattice_q": [{"sites": 1000, "q": 2.2, "n": 50}],
    }
    cal = IntervalCalibration.from_dict(d)
    assert cal.delta == 0.0
    lo, hi = cal.interval(np.array([10.0]), np.array([0.0]), 1000)  # no amplitude needed
    assert hi[0] == pytest.approx(10.0 + 2.2 * 0.1 * np.sqrt(11.0))


def _spread_draws(rng, P: int, informative: bool):
    """Errors of scale 0.5·sqrt(N + 1): the members' spread s equals that scale
    (``informative``) or is unrelated noise of the same size."""
    true = rng.uniform(0, 300, P)
    sd = 0.5 * np.sqrt(true + 1)
    mu = np.maximum(true + rng.normal(0, 1, P) * sd, 0)
    s = sd if informative else rng.permutation(sd) * rng.uniform(0.2, 2.0, P)
    groups = np.where(true > 150, "high", "low")
    return np.round(true), mu, s, groups


def test_selection_leans_on_the_spread_unless_the_floor_is_clearly_better():
    """Where the spread and a Poisson-like floor calibrate equally well, the spread is
    kept (it is what widens on unfamiliar inputs); where the spread is noise, the
    floor wins by more than sampling noise and is kept."""
    from lnet.conformal import select_scale

    rng = np.random.default_rng(5)
    N, mu, s, g = _spread_draws(rng, 4000, informative=True)
    choice = select_scale(N, mu, s, g, 0.9, gammas=(0.5,))
    assert choice.kappa == min(KAPPAS) and choice.floor_share < 0.05
    N, mu, s, g = _spread_draws(rng, 4000, informative=False)
    choice = select_scale(N, mu, s, g, 0.9, gammas=(0.5,))
    assert choice.floor_share > 0.5


def _low_counts(rng, P: int):
    """Small exact counts with an ensemble that usually lands within half a level:
    true N in 0..8, μ = N + noise of sd 0.3, spread s of the same scale."""
    N = rng.integers(0, 9, P).astype(float)
    mu = np.maximum(N + rng.normal(0, 0.3, P), 0.0)
    s = np.abs(rng.normal(0, 0.3, P)) + 0.05
    return N, mu, s, np.full(P, "low")


def test_whole_state_scores_are_zero_where_the_rounded_count_is_exact():
    N = np.array([0.0, 1.0, 2.0, 3.0, 40.0])
    mu = np.array([0.3, 1.6, 2.4, 2.4, 40.0])
    r0 = scores(N, mu, np.ones(5), 0.1, 0.5)
    r = scores(N, mu, np.ones(5), 0.1, 0.5, integer_below=10.0)
    # exact after rounding: 0.3 -> 0 and 2.4 -> 2; 1.6 -> 2 != 1, 2.4 -> 2 != 3; 40 >= T
    np.testing.assert_array_equal(r, [0.0, r0[1], 0.0, r0[3], r0[4]])


def test_whole_state_calibration_keeps_the_level_and_not_more():
    """With the rule, q is the quantile of r' and the hull [min(low, N̂), max(high, N̂)]
    covers about the level on fresh draws; the plain q with the same hull would
    over-cover."""
    rng = np.random.default_rng(11)
    N, mu, s, g = _low_counts(rng, 4000)
    select = np.arange(N.size) % 2 == 0
    plain = calibrate(N, mu, s, g, select, 0.9).calibration
    whole = calibrate(N, mu, s, g, select, 0.9, integer_below=10.0).calibration
    assert whole.integer_below == 10.0 and plain.integer_below == 0.0
    assert whole.q < plain.q
    N2, mu2, s2, _ = _low_counts(np.random.default_rng(12), 40_000)
    point = np.round(mu2)

    def hull_coverage(cal):
        low, high = cal.interval(mu2, s2)
        low, high = np.minimum(low, point), np.maximum(high, point)
        return np.mean((low <= N2) & (N2 <= high))

    assert 0.885 <= hull_coverage(whole) <= 0.915
    assert hull_coverage(plain) > 0.93
    restored = IntervalCalibration.from_dict(whole.to_dict())
    assert restored == whole and whole.to_dict()["version"] == 5


def test_a_version_3_calibration_loads_without_whole_states():
    d = IntervalCalibration(level=0.9, kappa=0.1, gamma=0.5, q=2.0, n_cal=100).to_dict()
    d.pop("integer_below")
    d["version"] = 3
    assert IntervalCalibration.from_dict(d).integer_below == 0.0


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan")])
def test_a_bad_integer_below_is_refused_by_calibrate(bad):
    N, mu, s, g = _low_counts(np.random.default_rng(0), 40)
    with pytest.raises(ValueError, match="integer_below"):
        calibrate(N, mu, s, g, np.arange(40) % 2 == 0, 0.9, integer_below=bad)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95])
def test_min_scores_is_the_fewest_with_a_finite_quantile(level):
    n = min_scores(level)
    assert conformal_rank(n, level) <= n
    with pytest.raises(ValueError, match="calibration scores"):
        conformal_rank(n - 1, level)


def _zero_class_draws(rng, P: int):
    """Two lattices; on each, potentials with a zero site (z) err three times as much as
    the score assumes, those without as assumed: one q per lattice over- and
    under-covers the two classes."""
    N, mu, s, sites, z = [], [], [], [], []
    for size in (100, 1000):
        zero = rng.random(P) < 0.4
        # counts well above 0 and not rounded: no clipping, no tied scores
        true = rng.uniform(size / 20, size / 10, P)
        err = np.where(zero, 3.0, 1.0) * np.sqrt(true + 1) / 10
        mu.append(true + rng.normal(0, 1, P) * err)
        s.append(np.zeros(P))
        N.append(true)
        sites.append(np.full(P, size))
        z.append(zero)
    return (np.concatenate(a) for a in (N, mu, s, sites, z))


def test_zero_site_cells_cover_each_class_on_fresh_draws():
    rng = np.random.default_rng(5)
    N, mu, s, sites, z = _zero_class_draws(rng, 5000)
    select = np.arange(N.size) % 2 == 0
    groups = np.char.add(sites.astype(str), np.where(z, "/zero", "/positive"))
    fit = dict(gammas=(0.5,), deltas=(0.0,), sites=sites)
    cal = calibrate(N, mu, s, groups, select, 0.9, zero_sites=z, **fit).calibration
    plain = calibrate(N, mu, s, groups, select, 0.9, **fit).calibration
    assert plain.lattice_q == tuple(lq for lq in cal.lattice_q if lq.zero_sites is None)
    cells = [lq for lq in cal.lattice_q if lq.zero_sites is not None]
    assert sorted((lq.sites, lq.zero_sites) for lq in cells) == [
        (100, False),
        (100, True),
        (1000, False),
        (1000, True),
    ]
    for lq in cells:  # each cell's q is the conformal quantile of that cell's scores alone
        mine = (~select) & (sites == lq.sites) & (z == lq.zero_sites)
        r = scores(N[mine], mu[mine], s[mine], cal.kappa, cal.gamma)
        assert lq.n == r.size and lq.q == np.sort(r)[conformal_rank(r.size) - 1]
        assert cal.q_at(lq.sites, lq.zero_sites) == lq.q
    N2, mu2, s2, sites2, z2 = _zero_class_draws(rng, 20_000)
    for size in (100, 1000):
        for cls in (False, True):
            at = (sites2 == size) & (z2 == cls)
            lo, hi = plain.interval(mu2[at], s2[at], size, zero_sites=z2[at])
            pooled = np.mean((lo <= N2[at]) & (N2[at] <= hi))
            assert abs(pooled - 0.9) > 0.03  # one q for both classes misses each
            lo, hi = cal.interval(mu2[at], s2[at], size, zero_sites=z2[at])
            own = np.mean((lo <= N2[at]) & (N2[at] <= hi))
            assert 0.88 <= own <= 0.92, (size, cls, own)  # cells of ~1000 pairs
    # an input of unknown class takes its lattice's pooled q
    lo, hi = cal.interval(mu2[:5], s2[:5], 100)
    lo2, hi2 = plain.interval(mu2[:5], s2[:5], 100)
    np.testing.assert_array_equal(hi, hi2)
    restored = IntervalCalibration.from_dict(cal.to_dict())
    assert restored == cal and cal.to_dict()["version"] == 5


def test_a_cell_too_small_or_alone_on_its_lattice_takes_the_lattices_quantile():
    rng = np.random.default_rng(6)
    N, mu, s, sites, _ = _zero_class_draws(rng, 200)
    z = np.zeros(N.size, dtype=bool)
    rest = np.flatnonzero((np.arange(N.size) % 2 == 1) & (sites == 100))
    z[rest[: min_scores() - 1]] = True  # 8 quantile pairs with a zero site on 100 sites
    select = np.arange(N.size) % 2 == 0
    cal = calibrate(N, mu, s, sites.astype(str), select, 0.9, sites=sites, zero_sites=z)
    cells = [lq for lq in cal.calibration.lattice_q if lq.zero_sites is not None]
    # 100 sites: the zero cell is too small; 1000 sites: one class only, so no cells
    assert [(lq.sites, lq.zero_sites) for lq in cells] == [(100, False)]
    q100 = cal.calibration.q_at(100)
    assert cal.calibration.q_at(100, True) == q100 != cal.calibration.q_at(100, False)
    assert cal.calibration.q_at(1000, True) == cal.calibration.q_at(1000)
    with pytest.raises(ValueError, match="give sites too"):
        calibrate(N, mu, s, sites.astype(str), select, 0.9, zero_sites=z)
    with pytest.raises(ValueError, match="zero_sites must have one entry per pair"):
        calibrate(N, mu, s, sites.astype(str), select, 0.9, sites=sites, zero_sites=z[:-1])


def test_cells_need_their_lattices_pooled_quantile_and_a_boolean_class():
    with pytest.raises(ValueError, match="pooled entry"):
        IntervalCalibration(0.9, 0.1, 0.5, 2.0, 10, (LatticeQuantile(5, 1.0, 9, True),))
    with pytest.raises(ValueError, match=r"lattice_q\[5 sites, some V = 0\]"):
        IntervalCalibration(
            0.9,
            0.1,
            0.5,
            2.0,
            10,
            (LatticeQuantile(5, 1.0, 9), LatticeQuantile(5, float("inf"), 9, True)),
        )
    d = IntervalCalibration(
        0.9, 0.1, 0.5, 2.0, 20, (LatticeQuantile(5, 1.0, 20), LatticeQuantile(5, 1.5, 10, True))
    ).to_dict()
    d["lattice_q"][1]["zero_sites"] = "yes"
    with pytest.raises(ValueError, match="zero_sites must be true, false or null"):
        IntervalCalibration.from_dict(d)


def test_a_version_4_calibration_loads_with_one_quantile_per_lattice():
    d = IntervalCalibration(
        0.9, 0.1, 0.5, 2.0, 100, (LatticeQuantile(1000, 2.2, 50),), integer_below=10.0
    ).to_dict()
    d["version"] = 4
    for entry in d["lattice_q"]:
        del entry["zero_sites"]
    cal = IntervalCalibration.from_dict(d)
    assert not cal.has_cells and cal.q_at(1000, True) == 2.2 == cal.q_at(1000, False)
    lo, hi = cal.interval(
        np.array([[10.0]]), np.array([[0.0]]), 1000, zero_sites=np.array([[True]])
    )
    assert hi[0, 0] == pytest.approx(10.0 + 2.2 * 0.1 * np.sqrt(11.0))
