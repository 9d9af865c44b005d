"""lnet.gate: the goodness-of-fit gate accepts i.i.d. draws of its law at about its
level, and rejects other laws, other amplitudes and correlated potentials."""

import numpy as np
import pytest
from scipy import stats

from lnet.data.families import make_law
from lnet.gate import GATED_FAMILIES, LawGate, ks_pvalues, neighbour_pvalues

ALPHA = 0.01  # per test: an i.i.d. draw of the law is rejected with probability <= ~0.02


def draws(law: dict, P: int, n: int, seed: int = 0, shape=None) -> np.ndarray:
    """P potentials of ``law`` drawn by lnet's own sampler."""
    rng = np.random.default_rng(seed)
    pot = make_law(law)
    return np.stack([pot.draw(rng, n, shape)[0] for _ in range(P)])


@pytest.mark.parametrize(
    "law",
    [
        {"family": "uniform", "amplitude": 1.0},
        {"family": "uniform", "amplitude": 3.5},
        {"family": "exponential", "amplitude": 0.5},
        {"family": "rayleigh", "amplitude": 2.0},
        {"family": "power", "exponent": 0.4, "amplitude": 1.0},
        {"family": "chisquare", "df": 3.0, "amplitude": 0.2},
    ],
    ids=lambda law: f"{law['family']}-{law['amplitude']}",
)
def test_draws_of_its_own_law_pass_at_about_its_level(law):
    V = draws(law, 400, 300)
    accepted = LawGate(law, ALPHA).accepts(V)
    # each test rejects with probability alpha: about 0.98 pass; 0.95 is 4 sd below
    assert accepted.mean() >= 0.95


@pytest.mark.parametrize(
    "other",
    [
        {"family": "uniform", "amplitude": 1.2},
        {"family": "uniform", "amplitude": 0.8},
        {"family": "exponential", "amplitude": 0.5},
        {"family": "rayleigh", "amplitude": 0.4},
        {"family": "laplace", "loc": 0.5, "amplitude": 0.3},
        {"family": "bernoulli", "p": 0.5, "amplitude": 1.0},
        {"family": "speckle", "amplitude": 0.5, "correlation_length": 3.0},
    ],
    ids=lambda law: law["family"] + str(law["amplitude"]),
)
def test_other_laws_and_amplitudes_are_rejected(other):
    V = draws(other, 100, 1000, seed=1)
    assert LawGate({"family": "uniform", "amplitude": 1.0}, ALPHA).accepts(V).mean() <= 0.02


def test_a_correlated_potential_with_the_right_values_is_rejected_by_the_neighbour_test():
    V = draws({"family": "uniform", "amplitude": 1.0}, 50, 1000, seed=2)
    gate = LawGate({"family": "uniform", "amplitude": 1.0}, ALPHA)
    assert gate.accepts(V).mean() > 0.9
    blocky = np.repeat(V[:, ::4], 4, axis=1)  # the same marginal law, runs of four equal sites
    p_ks, p_rho = gate.pvalues(blocky)
    assert np.median(p_ks) > 0.01 and p_rho.max() < 1e-6
    assert not gate.accepts(blocky).any()
    # sorting keeps the values exactly and destroys independence
    assert not gate.accepts(np.sort(V, axis=1)).any()


def test_two_and_three_dimensional_lattices():
    gate = LawGate({"family": "uniform", "amplitude": 1.0}, ALPHA)
    V2 = draws({"family": "uniform", "amplitude": 1.0}, 200, 24 * 20, shape=(24, 20))
    assert gate.accepts(V2, dim=2).mean() >= 0.95
    stripes = np.repeat(V2[:, :, :1], 20, axis=2)  # constant along the second axis
    assert not gate.accepts(stripes, dim=2).any()
    V3 = draws({"family": "uniform", "amplitude": 1.0}, 100, 8**3, shape=(8, 8, 8))
    assert gate.accepts(V3, dim=3).mean() >= 0.93
    assert gate.accepts(V3[0], dim=3).shape == (1,)


def test_ks_pvalues_are_scipys_exact_test_row_by_row(rng):
    V = rng.random((6, 57)) ** np.linspace(0.8, 1.3, 6)[:, None]
    ours = ks_pvalues(V, stats.uniform().cdf)
    ref = [stats.kstest(v, "uniform", method="exact").pvalue for v in V]
    np.testing.assert_allclose(ours, ref, rtol=1e-8)


@pytest.mark.parametrize("N", [1000, 4000, 30000])
def test_large_lattices_take_stephens_form_close_to_the_exact_p(N):
    """From EXACT_KS_SITES on, p is Stephens' approximation: within 2 % of the exact
    Kolmogorov p at the gates' levels, and within 0.005 anywhere."""
    cdf = stats.uniform().cdf
    i = np.arange(1, N + 1)
    for p in (0.01, 0.001):
        D = stats.kstwo.isf(p, N)
        x = (i - 0.5) / N
        x[: N // 2] = np.maximum(x[: N // 2] - (D - 0.5 / N), 0.0)  # the ECDF D above F
        ours = ks_pvalues(x[None], cdf)[0]
        distance = np.max(np.maximum(i / N - np.sort(x), np.sort(x) - (i - 1) / N))
        assert distance == pytest.approx(D, rel=1e-9)
        assert ours == pytest.approx(p, rel=0.02)
    V = np.random.default_rng(N).random((20, N)) ** np.linspace(0.97, 1.03, 20)[:, None]
    x = np.sort(V, axis=1)
    D = np.maximum((i / N - x).max(axis=1), (x - (i - 1) / N).max(axis=1))
    np.testing.assert_allclose(ks_pvalues(V, cdf), stats.kstwo.sf(D, N), atol=5e-3)


def test_the_neighbour_statistic_is_the_lag_one_autocorrelation(rng):
    v = rng.random(500)
    c = v - v.mean()
    rho = np.sum(c * np.roll(c, -1)) / np.sum(c * c)
    expected = 2 * stats.norm.sf(abs(rho) * np.sqrt(500))
    assert neighbour_pvalues(v[None], 1)[0] == pytest.approx(expected, rel=1e-12)
    assert neighbour_pvalues(np.full((2, 50), 0.3), 1).tolist() == [0.0, 0.0]  # constant


def test_a_constant_potential_is_rejected_without_warnings():
    gate = LawGate({"family": "uniform", "amplitude": 1.0})
    with np.errstate(all="raise"):
        assert not gate.accepts(np.full((3, 100), 0.5)).any()


@pytest.mark.parametrize(
    ("law", "alpha", "message"),
    [
        ({"family": "bernoulli", "p": 0.5}, 0.01, "no goodness-of-fit gate"),
        ({"family": "mixture", "components": {"uniform": {}}}, 0.01, "no goodness-of-fit gate"),
        ({"family": "uniform", "amplitude": [0.5, 2.0]}, 0.01, "gate.law.amplitude"),
        ({"family": "uniform", "amplitude": -1.0}, 0.01, "gate.law.amplitude"),
        ({"family": "uniform"}, 0.0, "gate.alpha"),
        ({"family": "uniform"}, 0.7, "gate.alpha"),
    ],
)
def test_bad_gates_are_refused_naming_what_is_wrong(law, alpha, message):
    with pytest.raises(ValueError, match=message):
        LawGate(law, alpha)


def test_round_trip_and_every_gated_family_has_a_distribution():
    for family in GATED_FAMILIES:
        gate = LawGate(make_law({"family": family}).to_config(), 0.005)
        assert LawGate.from_dict(gate.to_dict()) == gate
