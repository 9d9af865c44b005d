import math

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from lnet.config import config_dir
from lnet.data import FAMILIES, ConfigError, make_law
from lnet.data.build import potential_stream
from lnet.data.families import FAMILY_NAMES, MAX_REDRAWS
from lnet.data.spec import make_spec
from lnet.physics import count_eigenvalues, lowest_eigenvalues

POTENTIALS = config_dir() / "data" / "potential"
HELD_OUT = {"laplace", "logistic", "rayleigh"}  # never components of the universal law


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
        (
            {"family": "uniform", "amplitude": {"log_uniform": [0.1, 1.0]}},
            "data.potential.amplitude",
        ),
        ({"family": "uniform", "amplitude": [0.1, 1.0]}, "data.potential.amplitude"),
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


@pytest.mark.parametrize(
    "family,name,value",
    [
        ("uniform", "amplitude", {"log_uniform": [2.0, 1.0]}),
        ("uniform", "amplitude", {"log_uniform": [0.0, 1.0]}),
        ("normal", "loc", {"log_uniform": [-1.0, 1.0]}),
        ("uniform", "amplitude", {"loguniform": [0.1, 1.0]}),
        ("uniform", "amplitude", {"log_uniform": [1, 2], "uniform": [1, 2]}),
        ("uniform", "amplitude", {"log_uniform": [0.1]}),
        ("uniform", "amplitude", {"log_uniform": 0.5}),
        ("uniform", "amplitude", {"log_uniform": [0.1, "x"]}),
        ("uniform", "amplitude", {"uniform": [-1.0, 1.0]}),
        ("bernoulli", "p", {"log_uniform": [0.5, 2.0]}),
        ("speckle", "correlation_length", {}),
    ],
)
def test_bad_mixture_parameters_name_the_key(family, name, value):
    key = f"data.potential.components.{family}.{name}"
    with pytest.raises(ConfigError) as info:
        make_law({"family": "mixture", "components": {family: {name: value}}})
    assert str(info.value).startswith(key + ":")
    assert info.value.key == key


@pytest.mark.parametrize(
    "value,words",
    [
        ({"log_uniform": [2.0, 1.0]}, "low > high"),
        ({"log_uniform": [0.0, 1.0]}, "0 < low <= high"),
        ({"log_uniform": [-2.0, 1.0]}, "0 < low <= high"),
        ({"loguniform": [0.1, 1.0]}, "['uniform', 'log_uniform']"),
        ([2.0, 1.0], "low > high"),
    ],
)
def test_bad_ranges_say_what_is_wrong(value, words):
    cfg = {"family": "mixture", "components": {"uniform": {"amplitude": value}}}
    with pytest.raises(ConfigError, match="components.uniform.amplitude") as info:
        make_law(cfg)
    assert words in str(info.value)


def _amplitudes(law, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([law.draw_params(rng)[1]["amplitude"] for _ in range(draws)])


def test_log_uniform_draws_are_log_uniform():
    lo, hi = 0.1, 10.0
    log_law = make_law(
        {"family": "mixture", "components": {"uniform": {"amplitude": {"log_uniform": [lo, hi]}}}}
    )
    a = _amplitudes(log_law, 4000, seed=5)
    assert np.all((a >= lo) & (a <= hi))
    geometric_mean = math.sqrt(lo * hi)  # 1: the median of a log-uniform law
    # log-uniform: median 1, half below it (a binomial with sd 0.008 over 4000 draws: 0.04 is
    # 5 sd); uniform on [0.1, 10] would have median 5.05 and 9 % below 1
    assert np.median(a) == pytest.approx(geometric_mean, rel=0.15)
    assert abs(np.mean(a < geometric_mean) - 0.5) < 0.04
    # every decade equally likely: log10(a) is U[-1, 1] (Kolmogorov-Smirnov distance; the
    # 1e-4 critical value for 4000 draws is about 0.034)
    u = np.sort((np.log10(a) + 1) / 2)
    ks = np.max(np.abs(u - (np.arange(1, u.size + 1) - 0.5) / u.size))
    assert ks < 0.035

    # the same check on the plain [low, high] form fails: it is uniform, not log-uniform
    lin = _amplitudes(
        make_law({"family": "mixture", "components": {"uniform": {"amplitude": [lo, hi]}}}), 4000, 5
    )
    assert np.mean(lin < geometric_mean) < 0.15 and np.median(lin) == pytest.approx(5.05, rel=0.1)


def test_degenerate_log_uniform_is_the_fixed_value():
    law = make_law(
        {"family": "mixture", "components": {"uniform": {"amplitude": {"log_uniform": [0.3, 0.3]}}}}
    )
    assert np.all(_amplitudes(law, 50, seed=0) == 0.3)


def test_range_forms_have_canonical_configs():
    spec = {"amplitude": {"log_uniform": [0.1, 10]}, "p": {"uniform": [0.2, 0.8]}}
    law = make_law({"family": "mixture", "components": {"bernoulli": spec}})
    canonical = law.to_config()
    # {uniform: [lo, hi]} is the plain [lo, hi] (same law, same dataset key)
    assert canonical["components"]["bernoulli"] == {
        "p": [0.2, 0.8],
        "amplitude": {"log_uniform": [0.1, 10.0]},
    }
    assert make_law(canonical).to_config() == canonical
    # the law changed, so the dataset key changes
    keys = {
        make_spec(
            "counting",
            n=32,
            potential={
                "family": "mixture",
                "components": {"bernoulli": {**spec, "amplitude": amp}},
            },
            sizes={"train": 2, "val": 1, "test": 1},
            seed=0,
            energies={"mode": "spectrum_fraction", "count": 4, "fraction": 0.1},
        ).key
        for amp in ([0.1, 10], {"uniform": [0.1, 10]}, {"log_uniform": [0.1, 10]})
    }
    assert len(keys) == 2  # [a, b] and {uniform: [a, b]} share one key


@pytest.mark.parametrize("count", [3, 5, 6, 7])
@pytest.mark.parametrize("weights", ["equal", "given"])
def test_a_mixture_rebuilt_from_its_config_is_the_same_law_and_key(count, weights):
    """k components whose normalised weights do not sum to 1 exactly in floating point
    (7 × fl(1/7) = 1 - 2^-53...): the canonical config rebuilds the law bit for bit,
    so the dataset key of data built from it (as extra_train builds its data from the
    parent's law) is the key of the same data configured directly."""
    names = ["uniform", "bernoulli", "exponential", "poisson", "power", "chisquare", "normal"]
    cfg = {"family": "mixture", "components": {name: {} for name in names[:count]}}
    if weights == "given":
        cfg["weights"] = [0.1 * (i + 1) for i in range(count)]
    law = make_law(cfg)
    again = make_law(law.to_config())
    assert again == law and again.weights == law.weights
    assert math.isclose(sum(law.weights), 1.0, rel_tol=0, abs_tol=1e-12)

    def key(potential):
        return make_spec(
            "counting",
            n=16,
            potential=potential,
            sizes={"train": 2, "val": 1, "test": 1},
            seed=0,
            energies={"mode": "spectrum_fraction", "count": 4, "fraction": 0.1},
        ).key

    assert key(law.to_config()) == key(cfg)


def _reference_mixture_draw(components, weights, rng, n):
    """The mixture's draw written out from the family samplers, as before log-uniform
    parameters existed: component by weights, then each [low, high] uniformly in the
    family's parameter order (amplitude last), then amplitude · X, redrawn while V ≡ 0."""
    index = int(rng.choice(len(components), p=np.asarray(weights)))
    name, ranges = components[index]
    family = FAMILIES[name]
    params = {}
    for key, default in family.params.items():
        value = ranges.get(key, default.default)
        params[key] = float(rng.uniform(*value)) if isinstance(value, list) else float(value)
    for _ in range(MAX_REDRAWS):
        V = params["amplitude"] * family.sampler(rng, n, params)
        if np.any(V > 0):
            return V, index
    raise AssertionError("V ≡ 0")


def test_existing_mixture_config_is_unchanged():
    cfg = yaml.safe_load((POTENTIALS / "mixture.yaml").read_text())
    law = make_law(cfg)
    # the canonical config (what the dataset key hashes) is the one from before log-uniform
    # parameters: plain [low, high] lists, defaults filled in, equal weights
    expected_components = {
        "uniform": {"amplitude": [0.5, 2.0]},
        "bernoulli": {"p": [0.2, 0.8], "amplitude": [0.5, 2.0]},
        "exponential": {"amplitude": [0.25, 1.0]},
        "poisson": {"rate": [0.5, 2.0], "amplitude": [0.25, 1.0]},
        "power": {"exponent": [0.5, 3.0], "amplitude": [0.5, 2.0]},
        "rayleigh": {"amplitude": [0.25, 1.0]},
        "chisquare": {"df": [1.0, 3.0], "amplitude": [0.25, 1.0]},
        "normal": {"loc": [0.0, 1.0], "amplitude": [0.5, 1.5]},
        "speckle": {"correlation_length": [1.0, 10.0], "amplitude": [0.5, 1.5]},
    }
    canonical = law.to_config()
    assert canonical == {
        "family": "mixture",
        "components": expected_components,
        "weights": [1 / 9] * 9,
    }
    assert [list(c) for c in canonical["components"].values()] == [
        list(c) for c in expected_components.values()
    ]  # key order too (the key hashes with sort_keys, but keep the config readable)
    # and the same seed stream gives the same potentials, bit for bit
    components = list(expected_components.items())
    for i in range(40):
        V, c = law.draw(potential_stream(7, "train", i), 64)
        V_ref, c_ref = _reference_mixture_draw(
            components, [1 / 9] * 9, potential_stream(7, "train", i), 64
        )
        assert c == c_ref
        np.testing.assert_array_equal(V, V_ref)


def test_universal_law_families_and_amplitudes():
    law = make_law(yaml.safe_load((POTENTIALS / "universal.yaml").read_text()))
    names = set(law.component_names)
    assert names.isdisjoint(HELD_OUT | {"constant"})
    assert names == set(FAMILIES) - HELD_OUT - {"constant"}  # every other family is trained on
    assert len(HELD_OUT) >= 2
    rng = np.random.default_rng(11)
    draws = [law.draw_params(rng) for _ in range(4000)]
    counts = np.bincount([c for c, _ in draws], minlength=len(names))
    assert np.all(np.abs(counts / 4000 - 1 / len(names)) < 0.03)  # equal weights
    a = np.array([p["amplitude"] for _, p in draws])
    assert a.min() >= 0.1 and a.max() <= 10.0
    assert a.min() < 0.11 and a.max() > 9.0  # the whole range is reached
    assert abs(np.mean(a < 1.0) - 0.5) < 0.04  # log-uniform: as many below 1 as above
    for name, params in law.components:
        assert params["amplitude"].to_config() == {"log_uniform": [0.1, 10.0]}, name


def test_universal_data_config_builds_a_dataset(data_dir):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(
            "generate",
            overrides=[
                "data=universal",
                f"paths.data_dir={data_dir}",
                "data.n=32",
                "data.sizes.train=24",
                "data.sizes.val=4",
                "data.sizes.test=4",
                "data.energies.count=6",
            ],
        )
    assert cfg.data.potential.family == "mixture"
    assert cfg.data.energies.mode == "spectrum_fraction" and cfg.data.energies.fraction == 0.1
    dm = instantiate(cfg.data, show_progress=False)
    dm.setup()
    law = dm.spec.law
    train = dm.arrays["train"]
    V, E, N = train["V"], train["E"], train["N"]
    assert V.shape == (24, 32) and E.shape == (24, 6)
    # the parameters behind each potential, from its own seed stream
    drawn = [law.draw_params(potential_stream(dm.spec.seed, "train", i)) for i in range(24)]
    np.testing.assert_array_equal(train["component"], [c for c, _ in drawn])
    assert HELD_OUT.isdisjoint(law.component_names[c] for c in train["component"])
    a = np.array([p["amplitude"] for _, p in drawn])
    assert np.all((a >= 0.1) & (a <= 10.0))
    assert a.min() < 0.5 and a.max() > 2.0  # spread over the decades
    assert V.max(axis=1).max() / V.max(axis=1).min() > 10.0
    # energies in the bottom 10 % of each spectrum, E in [0, λ_⌈0.1 n⌉], with exact counts
    lam = lowest_eigenvalues(V, math.ceil(0.1 * 32))
    assert np.all((E >= 0) & (E <= lam[:, -1:]))
    np.testing.assert_array_equal(N, count_eigenvalues(V, E))
    assert N.max() <= math.ceil(0.1 * 32)


def test_log_uniform_overrides_from_the_command_line():
    key = "data.potential.components.uniform.amplitude"
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        # a [low, high] list cannot merge with a mapping: delete the key, then add it
        mixture = compose(
            "generate",
            overrides=["data/potential=mixture", f"~{key}", f"+{key}={{log_uniform:[0.5,4]}}"],
        )
        # new bounds, same form
        universal = compose("generate", overrides=["data=universal", f"{key}.log_uniform=[0.5,4]"])
    for cfg in (mixture, universal):
        dm = instantiate(cfg.data)
        amplitude = dm.spec.potential["components"]["uniform"]["amplitude"]
        assert amplitude == {"log_uniform": [0.5, 4.0]}
