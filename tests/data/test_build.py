import numpy as np
import pytest

from lnet.data import ConfigError, make_spec
from lnet.data.build import build_split
from lnet.physics import count_eigenvalues, landscape_potential, lowest_eigenvalues
from tests.conftest import TINY_COUNTING, TINY_EIGEN


def spec(**over):
    return make_spec("counting", **{**TINY_COUNTING, **over})


def test_targets_are_exact_counts_and_between_levels():
    s = spec()
    for split in ("train", "test"):
        a = build_split(s, split)
        P, m = a["E"].shape
        assert a["V"].shape == (s.sizes[split], 64) and m == 8
        np.testing.assert_array_equal(a["N"], np.tile(np.arange(m), (P, 1)))
        np.testing.assert_array_equal(a["N"], count_eigenvalues(a["V"], a["E"]))
        np.testing.assert_allclose(a["W"], landscape_potential(a["V"]))
        lam = lowest_eigenvalues(a["V"], m)
        assert np.all(a["E"] < lam) and np.all(a["E"][:, 1:] > lam[:, :-1])


def test_degenerate_spectrum_targets_still_exact():
    s = spec(potential={"family": "constant", "amplitude": 0.5})
    a = build_split(s, "val")
    np.testing.assert_array_equal(a["N"], count_eigenvalues(a["V"], a["E"]))


@pytest.mark.parametrize(
    "energies",
    [
        {"mode": "uniform", "count": 20, "e_min": 0.1, "e_max": 0.9},
        {"mode": "spectrum_fraction", "count": 20, "fraction": 0.25},
    ],
)
def test_other_energy_modes(energies):
    s = spec(energies=energies)
    a = build_split(s, "train")
    assert a["E"].shape == (12, 20)
    np.testing.assert_array_equal(a["N"], count_eigenvalues(a["V"], a["E"]))
    if energies["mode"] == "uniform":
        assert a["E"].min() >= 0.1 and a["E"].max() <= 0.9
    else:
        top = lowest_eigenvalues(a["V"], 16)[:, -1:]
        assert np.all(a["E"] <= top) and np.all(a["N"] <= 16)


def test_eigenvalue_targets():
    s = make_spec("eigenvalues", **TINY_EIGEN)
    a = build_split(s, "train")
    np.testing.assert_allclose(a["eigenvalues"], lowest_eigenvalues(a["V"], 5))


def test_seeds_and_independent_splits():
    a = build_split(spec(), "train")
    b = build_split(spec(), "train")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    c = build_split(spec(seed=8), "train")
    assert not np.array_equal(a["V"], c["V"])
    # splits are different streams
    assert not np.array_equal(build_split(spec(), "val")["V"], build_split(spec(), "test")["V"])
    # growing the training set changes neither val/test nor the first training potentials
    big = spec(sizes={"train": 30, "val": 4, "test": 4})
    for split in ("val", "test"):
        np.testing.assert_array_equal(build_split(big, split)["V"], build_split(spec(), split)["V"])
    np.testing.assert_array_equal(build_split(big, "train")["E"][:12], a["E"])


def test_key_ignores_defaults_and_loader_settings():
    explicit = spec(potential={"family": "uniform", "amplitude": 1.0})
    implicit = spec(potential={"family": "uniform"})
    assert explicit.key == implicit.key
    assert spec(seed=8).key != explicit.key
    assert spec(sizes={"train": 13, "val": 4, "test": 4}).key != explicit.key


@pytest.mark.parametrize(
    "over,key",
    [
        ({"n": 2}, "data.n"),
        ({"n": 10.5}, "data.n"),
        ({"seed": -1}, "data.seed"),
        ({"sizes": {"train": 0, "val": 1, "test": 1}}, "data.sizes.train"),
        ({"sizes": {"train": 5, "val": 1, "tst": 1}}, "data.sizes.tst"),
        ({"energies": {"mode": "random", "count": 3}}, "data.energies.mode"),
        ({"energies": {"mode": "between_eigenvalues", "count": 65}}, "data.energies.count"),
        ({"energies": {"mode": "uniform", "count": 3, "e_min": 1, "e_max": 0.5}}, "data.energies.e_max"),
        ({"energies": {"mode": "uniform", "count": 3}}, "data.energies.e_min"),
        ({"energies": {"mode": "spectrum_fraction", "count": 3, "fraction": 1.5}}, "data.energies.fraction"),
        ({"energies": {"mode": "between_eigenvalues", "count": 3, "fraction": 0.5}}, "data.energies.fraction"),
        ({"potential": {"family": "bernoulli", "p": 2}}, "data.potential.p"),
        ({"energies": {"mode": "uniform", "count": 3, "e_min": -2, "e_max": -1}}, "data.energies.e_max"),
        ({"energies": {"mode": "uniform", "count": 3, "e_min": 5.5, "e_max": 9}}, "data.energies.e_min"),
    ],
)
def test_spec_errors_name_the_key(over, key):
    with pytest.raises(ConfigError) as info:
        spec(**over)
    assert info.value.key == key, str(info.value)


def test_parallel_build_equals_serial():
    """The O(n) kernels run potentials in parallel threads; results do not depend on it."""
    import numba

    s = spec(sizes={"train": 40, "val": 4, "test": 4})
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = build_split(s, "train")
    finally:
        numba.set_num_threads(before)
    parallel = build_split(s, "train")
    assert before > 1 or numba.config.NUMBA_NUM_THREADS == 1
    for k in serial:
        np.testing.assert_array_equal(serial[k], parallel[k])
