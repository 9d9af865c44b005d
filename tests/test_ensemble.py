"""EnsemblePredictor: the Predictor API over several member nets, their mean, calibrated
intervals, and the input-domain warning once per statistic through the ensemble."""

import warnings

import numpy as np
import pytest

from lnet.conformal import IntervalCalibration, LatticeQuantile
from lnet.ensemble import EnsemblePredictor
from lnet.errors import OutOfRangeWarning
from lnet.models import EigenNet
from lnet.predict import Predictor
from tests.pretrained.conftest import tiny_net

CAL = IntervalCalibration(level=0.9, kappa=0.2, gamma=0.5, q=1.7, n_cal=99)


def _inputs(rng, dim: int, batch: bool):
    lattice = (40,) if dim == 1 else (6, 5)
    shape = (3, *lattice) if batch else lattice
    E = rng.uniform(0.05, 2.0, (3, 4) if batch else 4)
    return rng.random(shape) + 0.1, E


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("batch", [False, True])
def test_mean_of_members_and_interval_shapes(dim, batch, rng):
    members = [tiny_net(seed, dim=dim, domain=False) for seed in (1, 2, 3)]
    ensemble = EnsemblePredictor(members, calibration=CAL)
    V, E = _inputs(rng, dim, batch)
    each = np.stack([Predictor(m).predict_counts(V, E) for m in members])
    assert ensemble.member_counts(V, E).shape == each.shape
    np.testing.assert_allclose(ensemble.member_counts(V, E), each, rtol=1e-12)
    count = ensemble.predict_counts(V, E)
    np.testing.assert_allclose(count, each.mean(axis=0), rtol=1e-12)
    assert count.shape == np.shape(E)
    c, low, high = ensemble.predict_counts(V, E, return_interval=True)
    assert c.shape == low.shape == high.shape == np.shape(E)
    np.testing.assert_array_equal(c, count)
    assert np.all(low >= 0) and np.all(low <= c) and np.all(c <= high)
    sigma = each.std(axis=0) + CAL.kappa * np.sqrt(count + 1)
    np.testing.assert_allclose(high, count + CAL.q * sigma, rtol=1e-12)
    np.testing.assert_allclose(low, np.maximum(0, count - CAL.q * sigma), rtol=1e-12)


def test_the_predictor_api(rng):
    ensemble = EnsemblePredictor([tiny_net(1, domain=False), tiny_net(2, domain=False)])
    assert isinstance(ensemble, Predictor) and len(ensemble) == 2
    assert (ensemble.dim, ensemble.task, ensemble.n, ensemble.shape) == (1, "counting", None, None)
    assert ensemble.accepts(1000) and not ensemble.accepts(2)
    with pytest.raises(ValueError, match="no interval calibration"):
        ensemble.predict_counts(rng.random(16) + 0.1, [0.5], return_interval=True)
    with pytest.raises(ValueError, match="1-D model"):
        ensemble.predict_counts(rng.random((2, 4, 4)) + 0.1, rng.random((2, 3)))
    two_d = EnsemblePredictor([tiny_net(1, dim=2, domain=False)])
    assert two_d.dim == 2 and two_d.shape is None


def test_members_must_be_one_kind_of_counting_model():
    with pytest.raises(
        ValueError, match="ensemble members differ: seed 1 is .*1-D.* seed 2 is .*2-D"
    ):
        EnsemblePredictor(
            [tiny_net(1, domain=False), tiny_net(2, dim=2, domain=False)],
            names=["seed 1", "seed 2"],
        )
    eigen = EigenNet(n=16, k=2, channels=(2,), hidden=(4,))
    with pytest.raises(ValueError, match="EigenNet .* is not a counting model"):
        EnsemblePredictor([tiny_net(1, domain=False), eigen])
    with pytest.raises(ValueError, match="at least one member"):
        EnsemblePredictor([])


def test_out_of_range_warning_fires_once_through_the_ensemble(rng):
    members = [tiny_net(seed) for seed in (1, 2, 3)]  # with the input domain of n = 32..48
    ensemble = EnsemblePredictor(members, calibration=CAL)
    assert ensemble.domain == members[0].input_domain  # the members share one domain
    V = 100 * rng.random((2, 40))  # amplitude ~50: far outside [0.5, 2.2]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ensemble.predict_counts(V, rng.random((2, 3)), return_interval=True)
        ensemble.predict_counts(V, rng.random((2, 3)))
        ensemble.member_counts(V, rng.random((2, 3)))
    found = [w for w in record if issubclass(w.category, OutOfRangeWarning)]
    stats = [w.message.statistic for w in found]
    assert "amplitude" in stats and len(stats) == len(set(stats))  # once per statistic
    assert {w.filename for w in found} == {__file__}  # points at the caller's line
    with warnings.catch_warnings():  # fresh potentials inside the domain: no warning
        warnings.simplefilter("error", OutOfRangeWarning)
        fresh = EnsemblePredictor(members)
        fresh.predict_counts(rng.uniform(0, 2, (2, 40)), rng.random((2, 3)))


@pytest.mark.parametrize("dim", [1, 2])
def test_the_interval_takes_the_quantile_of_the_inputs_lattice(dim, rng):
    """Inputs of 40 (1-D) or 30 (2-D) sites: the quantile of that calibration lattice,
    not the pooled q nor that of a lattice ten times larger."""
    sites = 40 if dim == 1 else 30
    cal = IntervalCalibration(
        level=0.9,
        kappa=0.5,
        gamma=0.5,
        q=7.0,
        n_cal=200,
        lattice_q=(LatticeQuantile(sites, 1.5, 100), LatticeQuantile(10 * sites, 4.0, 100)),
    )
    ensemble = EnsemblePredictor([tiny_net(s, dim=dim, domain=False) for s in (1, 2)], cal)
    V, E = _inputs(rng, dim, batch=True)
    count, _, high = ensemble.predict_counts(V, E, return_interval=True)
    sigma = ensemble.member_counts(V, E).std(axis=0) + 0.5 * np.sqrt(count + 1)
    np.testing.assert_allclose(high, count + 1.5 * sigma, rtol=1e-12)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("batch", [False, True])
def test_each_input_takes_the_quantile_of_its_zero_site_cell(dim, batch, rng):
    """A calibration with zero-site cells: a potential with V(x) = 0 on some site takes
    its lattice's "some V = 0" q, one positive everywhere the "V > 0" q."""
    sites = 40 if dim == 1 else 30
    cal = IntervalCalibration(
        level=0.9,
        kappa=0.5,
        gamma=0.5,
        q=7.0,
        n_cal=200,
        lattice_q=(
            LatticeQuantile(sites, 3.0, 200),
            LatticeQuantile(sites, 1.5, 100, False),
            LatticeQuantile(sites, 2.5, 100, True),
        ),
    )
    ensemble = EnsemblePredictor([tiny_net(s, dim=dim, domain=False) for s in (1, 2)], cal)
    V, E = _inputs(rng, dim, batch)
    if batch:
        V[1].flat[7] = 0.0  # the second potential has one zero site
        q = np.array([1.5, 2.5, 1.5])[:, None]
    else:
        V.flat[0] = 0.0
        q = 2.5
    count, _, high = ensemble.predict_counts(V, E, return_interval=True)
    sigma = ensemble.member_counts(V, E).std(axis=0) + 0.5 * np.sqrt(count + 1)
    np.testing.assert_allclose(high, count + q * sigma, rtol=1e-12)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("batch", [False, True])
def test_the_interval_widens_with_each_inputs_amplitude(dim, batch, rng):
    """δ > 0: σ̃ = s + κ·(μ + 1)^γ·(1 + a)^δ with a the mean of that input's V."""
    cal = IntervalCalibration(level=0.9, kappa=0.3, gamma=0.5, q=1.5, n_cal=99, delta=1.0)
    ensemble = EnsemblePredictor([tiny_net(s, dim=dim, domain=False) for s in (1, 2)], cal)
    V, E = _inputs(rng, dim, batch)
    if batch:
        V = V * np.array([1.0, 5.0, 20.0]).reshape(-1, *[1] * dim)  # three amplitudes
    count, _, high = ensemble.predict_counts(V, E, return_interval=True)
    a = np.asarray(V).reshape(3 if batch else 1, -1).mean(axis=1)
    a = a[:, None] if batch else a[0]
    sigma = ensemble.member_counts(V, E).std(axis=0) + 0.3 * np.sqrt(count + 1) * (1 + a)
    np.testing.assert_allclose(high, count + 1.5 * sigma, rtol=1e-12)


@pytest.mark.parametrize("dim", [1, 2])
def test_counts_below_integer_below_are_whole_states(dim, rng):
    """N̂ = round(μ) where μ < T, μ elsewhere; the interval still contains N̂ and is the
    plain interval of μ widened at most to N̂."""
    members = [tiny_net(seed, dim=dim, domain=False) for seed in (1, 2, 3)]
    plain = EnsemblePredictor(members, calibration=CAL)
    V, E = _inputs(rng, dim, batch=True)
    E = np.concatenate([E, 10 * E], axis=1)  # counts below and above T
    mu, low0, high0 = plain.predict_counts(V, E, return_interval=True)
    T = float(np.median(mu))
    assert 0 < np.mean(mu < T) < 1 and not np.all(mu == np.round(mu))
    rounded = EnsemblePredictor(members, calibration=CAL, integer_below=T)
    count, low, high = rounded.predict_counts(V, E, return_interval=True)
    np.testing.assert_array_equal(count, np.where(mu < T, np.round(mu), mu))
    np.testing.assert_array_equal(rounded.predict_counts(V, E), count)
    assert np.all(low <= count) and np.all(count <= high)
    np.testing.assert_array_equal(low, np.minimum(low0, count))
    np.testing.assert_array_equal(high, np.maximum(high0, count))
    # per call: 0 turns it off, inf rounds every count; the ensemble's own T stays
    np.testing.assert_array_equal(rounded.predict_counts(V, E, integer_below=0), mu)
    np.testing.assert_array_equal(
        rounded.predict_counts(V, E, integer_below=float("inf")), np.round(mu)
    )
    assert rounded.integer_below == T
    one = rounded.predict_counts(V[0], E[0], return_interval=True)
    np.testing.assert_array_equal(one[0], count[0])


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "ten", True])
def test_a_bad_integer_below_names_itself(bad, rng):
    members = [tiny_net(1, domain=False)]
    with pytest.raises(ValueError, match="integer_below"):
        EnsemblePredictor(members, integer_below=bad)
    with pytest.raises(ValueError, match="integer_below"):
        EnsemblePredictor(members).predict_counts(rng.random(16) + 0.1, [0.5], integer_below=bad)


def test_the_rule_defaults_to_the_calibrations_and_its_count_stays_inside(rng):
    """An ensemble takes integer_below from its calibration; its interval holds the
    count of that rule even when a call asks for another (the calibration scored those
    counts as covered)."""
    import dataclasses

    members = [tiny_net(seed, domain=False) for seed in (1, 2, 3)]
    V, E = _inputs(rng, 1, batch=True)
    mu = EnsemblePredictor(members).predict_counts(V, E)
    T = float(np.max(mu)) + 1.0  # every count below T
    cal = dataclasses.replace(CAL, q=1e-6, integer_below=T)  # a vanishing interval of μ
    ensemble = EnsemblePredictor(members, calibration=cal)
    assert ensemble.integer_below == T
    count, low, high = ensemble.predict_counts(V, E, return_interval=True)
    np.testing.assert_array_equal(count, np.round(mu))
    plain, low0, high0 = ensemble.predict_counts(V, E, return_interval=True, integer_below=0)
    np.testing.assert_array_equal(plain, mu)
    np.testing.assert_array_equal(low0, low)  # the hull holds μ and the calibrated round(μ)
    np.testing.assert_array_equal(high0, high)
    lo, hi = np.minimum(mu, np.round(mu)), np.maximum(mu, np.round(mu))
    assert np.all(low <= lo) and np.all(high >= hi) and np.any(mu != np.round(mu))
    assert EnsemblePredictor(members, calibration=cal, integer_below=0).integer_below == 0


def test_the_energy_check_takes_the_members_mean_count(rng):
    import dataclasses

    from lnet.domain import Range

    members = [tiny_net(seed) for seed in (1, 2, 3)]
    V, E = rng.uniform(0.5, 1.5, (2, 40)), np.linspace(0.05, 3.0, 12).reshape(2, 6)
    with warnings.catch_warnings():  # the tiny members' own domain: not what is tested
        warnings.simplefilter("ignore", OutOfRangeWarning)
        mean = np.maximum(EnsemblePredictor(members).member_counts(V, E).mean(axis=0), 0.0)
    top = np.median(mean) / 40 / 1.5  # half the pairs above the accepted 1.5·top
    domain = dataclasses.replace(members[0].input_domain, count_fraction=Range(0.0, top))
    ensemble = EnsemblePredictor(members, calibration=CAL, domain=domain)
    with pytest.warns(OutOfRangeWarning) as record:
        ensemble.predict_counts(V, E, return_interval=True)
    (w,) = [w.message for w in record if w.message.statistic == "count_fraction"]
    above = int((mean / 40 > domain.accepted()["count_fraction"].high).sum())
    assert 0 < above < mean.size and f"{above} of them out of range" in str(w)
    assert f"12 (potential, energy) pairs spans [{mean.min() / 40:.4g}" in str(w)
