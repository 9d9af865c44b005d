import numpy as np
import pytest

from lnet.data import FAMILIES, ConfigError, make_law
from lnet.data.families import FAMILY_NAMES


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_is_nonnegative_with_documented_mean(family):
    law = make_law({"family": family, "amplitude": 2.0})
    rng = np.random.default_rng(0)
    V = np.stack([law.draw(rng, 500)[0] for _ in range(40)])
    assert np.all(V >= 0) and np.all(np.isfinite(V))
    assert np.all(np.any(V > 0, axis=1))
    mean = law.mean()
    # 20,000 correlated-at-most-over-ξ samples: 5 % is many standard errors for every family
    assert V.mean() == pytest.approx(mean, rel=0.05)


def test_supports():
    rng = np.random.default_rng(1)
    draw = lambda cfg: np.stack([make_law(cfg).draw(rng, 300)[0] for _ in range(10)])  # noqa: E731
    assert np.all(draw({"family": "uniform", "amplitude": 3.0}) < 3.0)
    assert set(np.unique(draw({"family": "bernoulli", "amplitude": 2.0, "p": 0.3}))) <= {0.0, 2.0}
    assert np.all(draw({"family": "constant", "amplitude": 0.4}) == 0.4)
    assert np.all(draw({"family": "power", "exponent": 3.0}) <= 1.0)
    pois = draw({"family": "poisson", "amplitude": 0.5, "rate": 2.0})
    np.testing.assert_array_equal(pois * 2, np.round(pois * 2))
    clipped = draw({"family": "normal", "loc": 0.0})
    assert 0.4 < np.mean(clipped == 0.0) < 0.6  # half of N(0,1) is clipped


def test_speckle_correlation_length():
    rng = np.random.default_rng(2)

    def lag1_corr(xi):
        law = make_law({"family": "speckle", "correlation_length": xi})
        V = np.stack([law.draw(rng, 2000)[0] for _ in range(10)])
        x = V - V.mean()
        return np.mean(x * np.roll(x, 1, axis=1)) / np.mean(x * x)

    # intensity correlation |exp(-r²/2ξ²)|² at r = 1
    assert lag1_corr(10.0) == pytest.approx(np.exp(-1 / 100), abs=0.05)
    assert lag1_corr(0.3) < 0.1


def test_mixture_draws_components_and_ranges():
    law = make_law(
        {
            "family": "mixture",
            "components": {"uniform": {"amplitude": [1.0, 2.0]}, "constant": {"amplitude": 0.5}},
            "weights": [3, 1],
        }
    )
    rng = np.random.default_rng(3)
    draws = [law.draw(rng, 50) for _ in range(400)]
    comps = np.array([c for _, c in draws])
    assert law.component_names == ("uniform", "constant")
    assert 0.68 < np.mean(comps == 0) < 0.82
    for V, c in draws:
        if c == 1:
            assert np.all(V == 0.5)
        else:
            assert V.max() < 2.0


def test_zero_draws_are_redrawn():
    law = make_law({"family": "bernoulli", "p": 0.01})
    rng = np.random.default_rng(4)
    for _ in range(50):
        assert np.any(law.draw(rng, 3)[0] > 0)


@pytest.mark.parametrize(
    "cfg,key",
    [
        ({"family": "gaussian"}, "data.potential.family"),
        ({"family": "uniform", "amplitude": -1.0}, "data.potential.amplitude"),
        ({"family": "uniform", "amplitude": 0}, "data.potential.amplitude"),
        ({"family": "bernoulli", "p": 1.5}, "data.potential.p"),
        ({"family": "bernoulli", "p": -0.1}, "data.potential.p"),
        ({"family": "poisson", "rate": "many"}, "data.potential.rate"),
        ({"family": "uniform", "scale": 2}, "data.potential.scale"),
        ({"family": "speckle", "correlation_length": 0}, "data.potential.correlation_length"),
        ({"family": "mixture", "components": {}}, "data.potential.components"),
        ({"family": "mixture", "components": {"foo": {}}}, "data.potential.components.foo"),
        (
            {"family": "mixture", "components": {"bernoulli": {"p": [0.5, 2.0]}}},
            "data.potential.components.bernoulli.p",
        ),
        (
            {"family": "mixture", "components": {"uniform": {}}, "weights": [1, 2]},
            "data.potential.weights",
        ),
    ],
)
def test_bad_configs_name_the_key(cfg, key):
    with pytest.raises(ConfigError) as info:
        make_law(cfg)
    assert str(info.value).startswith(key + ":")
    assert info.value.key == key


def test_registry_has_the_slides_families():
    slides = {"constant", "uniform", "bernoulli", "exponential", "poisson", "power", "rayleigh"}
    slides |= {"chisquare", "laplace", "normal", "logistic"}
    assert slides | {"speckle", "mixture"} == set(FAMILY_NAMES)
