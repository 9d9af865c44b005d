"""lnet.routing: each potential is answered, count and interval, by the ensemble its
route picks: the first expert whose gate and domain take it, else the generalist."""

import dataclasses
import warnings

import numpy as np
import pytest

from lnet.conformal import IntervalCalibration
from lnet.domain import InputDomain
from lnet.ensemble import EnsemblePredictor
from lnet.errors import OutOfRangeWarning
from lnet.gate import LawGate
from lnet.physics import landscape_potential
from lnet.routing import GENERALIST, Expert, RoutedPredictor
from tests.pretrained.conftest import tiny_net

UNIFORM = {"family": "uniform", "amplitude": 1.0}


def ensemble(seeds, q: float, domain: InputDomain | None = None) -> EnsemblePredictor:
    cal = IntervalCalibration(level=0.9, kappa=0.1, gamma=0.5, q=q, n_cal=100)
    return EnsemblePredictor([tiny_net(s) for s in seeds], calibration=cal, domain=domain)


def uniform_domain(low_sites: int = 40) -> InputDomain:
    """The domain of uniform [0, 1) potentials of ``low_sites`` sites and more."""
    V = np.random.default_rng(5).random((30, low_sites))
    return dataclasses.replace(
        InputDomain.from_potentials(V, landscape_potential(V)), size_free=True
    )


@pytest.fixture
def routed():
    """A generalist (seeds 1, 2) with one expert for uniform [0, 1) (seeds 7, 8, 9)."""
    expert = Expert("uni", LawGate(UNIFORM, 0.01), ensemble([7, 8, 9], 2.0, uniform_domain()))
    return RoutedPredictor(ensemble([1, 2], 3.0), [expert])


def batch(rng, n: int = 64):
    """Potentials 0, 2: uniform [0, 1); 1: exponential; 3: uniform [0, 3)."""
    V = np.stack([rng.random(n), rng.exponential(0.5, n), rng.random(n), 3 * rng.random(n)])
    return V, rng.uniform(0.05, 1.5, (4, 5))


def test_each_potential_gets_the_answer_of_the_ensemble_its_route_picks(routed, rng):
    V, E = batch(rng)
    assert routed.route(V).tolist() == [0, GENERALIST, 0, GENERALIST]
    expert, plain = routed.experts[0].model, EnsemblePredictor(routed.members, routed.calibration)
    count, low, high = routed.predict_counts(V, E, return_interval=True)
    for rows, model in [([0, 2], expert), ([1, 3], plain)]:
        want = model.predict_counts(V[rows], E[rows], return_interval=True)
        for got, ref in zip((count, low, high), want, strict=True):
            np.testing.assert_array_equal(got[rows], ref)
    np.testing.assert_array_equal(routed.predict_counts(V, E), count)
    # one potential: the shapes of an ensemble, the expert's answer
    single = routed.predict_counts(V[0], E[0], return_interval=True)
    assert [a.shape for a in single] == [(5,)] * 3
    np.testing.assert_array_equal(single[0], expert.predict_counts(V[0], E[0]))
    assert routed.route(V[0]).tolist() == [0]


def test_a_lattice_outside_the_experts_domain_goes_to_the_generalist(routed, rng):
    V = rng.random((3, 32))  # uniform, but the expert takes 40 sites and more
    assert routed.route(V).tolist() == [GENERALIST] * 3
    np.testing.assert_array_equal(
        routed.predict_counts(V, np.full((3, 2), 0.5)),
        EnsemblePredictor(routed.members).predict_counts(V, np.full((3, 2), 0.5)),
    )


def test_the_first_expert_that_takes_a_potential_answers_it(rng):
    first = Expert("a", LawGate(UNIFORM, 0.01), ensemble([7], 2.0))
    second = Expert("b", LawGate(UNIFORM, 0.01), ensemble([8], 2.0))
    expo = Expert(
        "c", LawGate({"family": "exponential", "amplitude": 0.5}, 0.01), ensemble([9], 2.0)
    )
    V, _ = batch(rng, 400)  # enough sites to tell uniform from Exp(mean 1/2)
    assert RoutedPredictor(ensemble([1], 3.0), [expo, first, second]).route(V).tolist() == [
        1,
        0,
        1,
        GENERALIST,
    ]


def test_warnings_are_the_generalists_and_point_at_the_caller(rng):
    generalist = EnsemblePredictor([tiny_net(1), tiny_net(2)], calibration=None)
    expert = Expert("uni", LawGate(UNIFORM, 0.01), ensemble([7], 2.0, uniform_domain()))
    routed = RoutedPredictor(generalist, [expert])
    strong = 100 * rng.random((2, 48))  # amplitude 50: outside the generalist's domain
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        routed.predict_counts(strong, np.full((2, 3), 0.5))
    assert {w.message.statistic for w in caught} >= {"amplitude"}
    assert all(w.category is OutOfRangeWarning and w.filename == __file__ for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)  # once per statistic
        routed.predict_counts(strong, np.full((2, 3), 0.5))
        routed.predict_counts(rng.random((2, 48)), np.full((2, 3), 0.5))  # expert's, in range


def test_bad_inputs_and_bad_experts_get_clear_errors(routed, rng):
    with pytest.raises(ValueError, match="V"):
        routed.predict_counts(np.full(64, np.nan), np.ones(2))
    with pytest.raises(ValueError, match="2-D"):
        RoutedPredictor(
            ensemble([1], 3.0),
            [Expert("two", LawGate(UNIFORM), EnsemblePredictor([tiny_net(3, dim=2)]))],
        )
    twice = [routed.experts[0], routed.experts[0]]
    with pytest.raises(ValueError, match="distinct"):
        RoutedPredictor(ensemble([1], 3.0), twice)
