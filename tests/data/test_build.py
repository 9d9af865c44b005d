import numpy as np
import pytest

from lnet.data import ConfigError, make_spec
from lnet.data.build import (
    BRACKET_RTOL,
    build_split,
    draw_split,
    energies_between_eigenvalues,
)
from lnet.physics import eigenvalue_brackets, landscape_potential
from tests.conftest import TINY_COUNTING, TINY_EIGEN


def spec(**over):
    return make_spec("counting", **{**TINY_COUNTING, **over})


def dense_spectrum(V: np.ndarray) -> np.ndarray:
    """All eigenvalues of the explicit n×n periodic matrix 2 + V on the diagonal, -1 on
    the off-diagonals and in the corners (0, n-1), by LAPACK (independent of lnet)."""
    n = V.size
    H = np.diag(2.0 + V) - np.eye(n, k=1) - np.eye(n, k=-1)
    H[0, -1] = H[-1, 0] = -1.0
    return np.linalg.eigvalsh(H)


def dense_count(V: np.ndarray, E: np.ndarray) -> np.ndarray:
    return (dense_spectrum(V)[None, :] <= np.asarray(E)[:, None]).sum(axis=1)


def dense_rule(V: np.ndarray, m: int, split: float = 1e-12) -> np.ndarray:
    """The documented slot rule from the dense spectrum: slot j -> the largest j' <= j whose
    gap (λ_j', λ_j'+1) (λ_0 = 0) is wider than ``split`` (degenerate levels are not)."""
    lam = np.concatenate([[0.0], dense_spectrum(V)[:m]])
    is_open = np.diff(lam) > split
    return np.maximum.accumulate(np.where(is_open, np.arange(m), -1))


def assert_exact_and_in_gaps(V: np.ndarray, E: np.ndarray, N: np.ndarray, margin: float = 1e-11):
    """N = dense N_V(E), and no eigenvalue within ``margin`` of any E (so the dense count
    is unambiguous despite LAPACK's ~1e-15 round-off, and E lies strictly inside a gap)."""
    lam = dense_spectrum(V)
    np.testing.assert_array_equal(N, dense_count(V, E))
    assert np.min(np.abs(E[:, None] - lam[None, :])) > margin
    assert np.all(E > 0)


def test_targets_match_dense_eigvalsh_and_lie_between_levels():
    s = spec()
    for split in ("train", "test"):
        a = build_split(s, split)
        P, m = a["E"].shape
        assert a["V"].shape == (s.sizes[split], 64) and m == 8
        np.testing.assert_array_equal(a["N"], np.tile(np.arange(m), (P, 1)))
        np.testing.assert_allclose(a["W"], landscape_potential(a["V"]))
        for p in range(P):
            assert_exact_and_in_gaps(a["V"][p], a["E"][p], a["N"][p])
            lam = dense_spectrum(a["V"][p])
            assert np.all(a["E"][p] < lam[:m]) and np.all(a["E"][p][1:] > lam[: m - 1])


def test_open_spectra_keep_the_plain_draw():
    """Without unresolved gaps the energies are the earlier rule's, bit for bit (caches
    built before the degenerate-gap rule stay valid): E_j = hi_j + u_j (lo_{j+1} - hi_j)."""
    s = spec()
    drawn = draw_split(s, "train")
    lo, hi = eigenvalue_brackets(drawn["V"], 8, BRACKET_RTOL)
    assert np.all(hi[:, :-1] < lo[:, 1:])  # this spec has no unresolved gap
    left = np.concatenate([np.zeros((12, 1)), hi[:, :-1]], axis=1)
    np.testing.assert_array_equal(build_split(s, "train")["E"], left + drawn["unit"] * (lo - left))


@pytest.mark.parametrize("n", [64, 65])
def test_constant_potential_degenerate_levels(n):
    """V ≡ c: levels c + 2 - 2 cos(2πk/n) are double for k ≠ 0 (and k ≠ n/2): the slots of
    closed gaps take the open gap below, targets 0, 1, 1, 3, 3, 5, 5, 7, all exact."""
    s = spec(n=n, potential={"family": "constant", "amplitude": 0.5})
    for split in ("train", "val"):
        a = build_split(s, split)
        for p in range(a["V"].shape[0]):
            np.testing.assert_array_equal(a["N"][p], [0, 1, 1, 3, 3, 5, 5, 7])
            np.testing.assert_array_equal(a["N"][p], dense_rule(a["V"][p], 8))
            assert_exact_and_in_gaps(a["V"][p], a["E"][p], a["N"][p])


def mirror_wells(d1: int, d2: int, barrier: float = 3.0) -> np.ndarray:
    """Two mirror-image wells on a ring, d1 and d2 barrier sites between them: reflection
    symmetric, no translation symmetry. Levels come in pairs split by tunnelling through
    the shorter barrier, about e^{-1.5 d1} (d1 = 40: below float64 resolution)."""
    well = np.array([0.0, 0.2, 0.1, 0.4])
    V = np.concatenate([well, np.full(d1, barrier), well[::-1], np.full(d2, barrier)])
    assert any(np.array_equal(V, np.roll(V[::-1], s)) for s in range(V.size))
    return V


def dihedral(rng: np.random.Generator) -> np.ndarray:
    """A mirror-symmetric block tiled 8 times: translation + reflection symmetry, so the
    Bloch levels k and -k are exactly degenerate."""
    half = rng.random(4)
    return np.tile(np.concatenate([half, half[::-1]]), 8)


@pytest.mark.parametrize(
    "name,V,targets",
    [
        ("constant-even", np.full(40, 1.3), [0, 1, 1, 3, 3, 5, 5, 7, 7, 9]),
        ("constant-odd", np.full(41, 0.2), [0, 1, 1, 3, 3, 5, 5, 7, 7, 9]),
        ("mirror-wells-degenerate", mirror_wells(40, 50), [0, 0, 2, 2, 4, 4, 6, 7, 8, 9]),
        ("mirror-wells-split-6e-10", mirror_wells(14, 30), list(range(10))),
        ("dihedral", dihedral(np.random.default_rng(3)), None),
    ],
)
def test_degenerate_spectra_energies_in_open_gaps(name, V, targets):
    rng = np.random.default_rng(0)
    unit = rng.uniform(0.05, 0.95, (1, 10))
    E, g = energies_between_eigenvalues(V[None], unit)
    E, g = E[0], g[0]
    if targets is not None:
        np.testing.assert_array_equal(g, targets)
    np.testing.assert_array_equal(g, dense_rule(V, 10))
    assert_exact_and_in_gaps(V, E, g)
    # every slot's energy lies in the gap of its target, strictly between the levels
    lam = np.concatenate([[0.0], dense_spectrum(V)])
    assert np.all(lam[g] < E) and np.all(E < lam[g + 1])


def test_tiny_lowest_level_is_refused():
    """λ_1 below the counter's round-off: no energy in (0, λ_1) can be certified."""
    with pytest.raises(ValueError, match="lowest eigenvalue"):
        energies_between_eigenvalues(np.full((1, 8), 1e-15), np.full((1, 3), 0.5))


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
    for p in range(12):
        np.testing.assert_array_equal(a["N"][p], dense_count(a["V"][p], a["E"][p]))
    if energies["mode"] == "uniform":
        assert a["E"].min() >= 0.1 and a["E"].max() <= 0.9
    else:
        top = np.array([dense_spectrum(V)[15] for V in a["V"]])[:, None]
        assert np.all(a["E"] <= top) and np.all(a["N"] <= 16)


def test_eigenvalue_targets():
    s = make_spec("eigenvalues", **TINY_EIGEN)
    a = build_split(s, "train")
    dense = np.stack([dense_spectrum(V)[:5] for V in a["V"]])
    np.testing.assert_allclose(a["eigenvalues"], dense, rtol=1e-11, atol=1e-13)


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
        (
            {"energies": {"mode": "uniform", "count": 3, "e_min": 1, "e_max": 0.5}},
            "data.energies.e_max",
        ),
        ({"energies": {"mode": "uniform", "count": 3}}, "data.energies.e_min"),
        (
            {"energies": {"mode": "spectrum_fraction", "count": 3, "fraction": 1.5}},
            "data.energies.fraction",
        ),
        (
            {"energies": {"mode": "between_eigenvalues", "count": 3, "fraction": 0.5}},
            "data.energies.fraction",
        ),
        ({"potential": {"family": "bernoulli", "p": 2}}, "data.potential.p"),
        (
            {"energies": {"mode": "uniform", "count": 3, "e_min": -2, "e_max": -1}},
            "data.energies.e_max",
        ),
        (
            {"energies": {"mode": "uniform", "count": 3, "e_min": 5.5, "e_max": 9}},
            "data.energies.e_min",
        ),
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
    before = numba.get_num_threads()  # 1 on a pytest-xdist worker (conftest.py)
    try:
        numba.set_num_threads(1)
        serial = build_split(s, "train")
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)  # every thread numba has
        parallel = build_split(s, "train")
    finally:
        numba.set_num_threads(before)
    for k in serial:
        np.testing.assert_array_equal(serial[k], parallel[k])
