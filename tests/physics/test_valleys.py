import numpy as np
import pytest

from lnet.physics import count_eigenvalues, hamiltonian, landscape_potential
from lnet.physics.valleys import BOUNDARIES, cut_count, landscape_peaks, valley_count
from tests.conftest import ZOO
from tests.physics.test_counting import safe_energies


def cut_matrix(V: np.ndarray, cuts: np.ndarray, boundary: str) -> np.ndarray:
    """The dense cut chain, written out: bond (x, x+1) removed and the boundary's
    diagonal shift on both of its sites, for every x with cuts[x]."""
    H = hamiltonian(V).toarray()
    n = len(V)
    for x in np.flatnonzero(cuts):
        y = (x + 1) % n
        H[x, y] += 1.0
        H[y, x] += 1.0
        H[x, x] += BOUNDARIES[boundary]
        H[y, y] += BOUNDARIES[boundary]
    return H


def energies_for(V: np.ndarray, rng: np.random.Generator, k: int = 60) -> np.ndarray:
    top = 4.0 + float(V.max())
    return np.sort(rng.uniform(0.0, top, k))


@pytest.mark.parametrize("boundary", sorted(BOUNDARIES))
@pytest.mark.parametrize("name,V", ZOO, ids=[name for name, _ in ZOO])
def test_valley_count_matches_dense_lapack_of_the_cut_chain(name, V, boundary, rng):
    W = landscape_potential(V)
    peaks = landscape_peaks(W)
    for barrier in (0.3, 1.0, 2.0):
        for e in energies_for(V, rng, 6):
            cuts = peaks & (W >= barrier * e)
            ev = np.linalg.eigvalsh(cut_matrix(V, cuts, boundary))
            E = safe_energies(ev, np.array([e]))
            if E.size:
                got = valley_count(V, E, barrier=barrier, boundary=boundary, W=W)
                assert got[0] == np.searchsorted(ev, E[0], side="right"), (name, barrier, e)


@pytest.mark.parametrize("name,V", ZOO, ids=[name for name, _ in ZOO])
def test_dirichlet_and_neumann_bracket_the_exact_count(name, V, rng):
    E = energies_for(V, rng, 200)
    exact = count_eigenvalues(V, E)
    for barrier in (0.5, 1.0, 3.0):
        low = valley_count(V, E, barrier=barrier, boundary="dirichlet")
        high = valley_count(V, E, barrier=barrier, boundary="neumann")
        assert np.all(low <= exact) and np.all(exact <= high), (name, barrier)


def test_bracket_on_a_long_chain_and_a_batch(rng):
    V = rng.exponential(1.0, (3, 2001))
    E = np.sort(rng.uniform(0.0, 1.0, (3, 300)), axis=1)
    exact = count_eigenvalues(V, E)
    low = valley_count(V, E, barrier=1.5, boundary="dirichlet")
    free = valley_count(V, E, barrier=1.5)
    high = valley_count(V, E, barrier=1.5, boundary="neumann")
    assert low.shape == E.shape and low.dtype == np.int64
    assert np.all(low <= exact) and np.all(exact <= high)
    assert np.any(low < high)  # the chain was cut somewhere
    for b in range(3):  # the batch equals one potential at a time
        np.testing.assert_array_equal(free[b], valley_count(V[b], E[b], barrier=1.5))


def test_no_barrier_is_the_exact_count(rng):
    for name, V in ZOO:
        E = energies_for(V, rng)
        exact = count_eigenvalues(V, E)
        for boundary in BOUNDARIES:
            np.testing.assert_array_equal(valley_count(V, E, np.inf, boundary), exact, err_msg=name)
            np.testing.assert_array_equal(
                cut_count(V, E, np.zeros(len(V), bool), boundary), exact, err_msg=name
            )


def test_each_cut_moves_the_count_by_at_most_one(rng):
    for name, V in ZOO:
        E = energies_for(V, rng)
        exact = count_eigenvalues(V, E)
        cuts = rng.random(len(V)) < 0.2
        for boundary in BOUNDARIES:
            got = cut_count(V, E, cuts, boundary)
            assert np.all(np.abs(got - exact) <= cuts.sum()), (name, boundary)
        np.testing.assert_array_equal(  # cut everywhere, free: isolated sites 2 + V(x)
            cut_count(V, E, np.ones(len(V), bool)),
            np.sum(2.0 + V[None, :] <= E[:, None], axis=1),
        )


def test_cuts_at_every_lth_bond_match_dense_blocks(rng):
    V = rng.random(30)
    cuts = np.zeros(30, bool)
    cuts[[4, 13, 29]] = True
    E = np.linspace(0.05, 5.0, 40)
    for boundary in BOUNDARIES:
        ev = np.linalg.eigvalsh(cut_matrix(V, cuts, boundary))
        E_ok = safe_energies(ev, E)
        np.testing.assert_array_equal(
            cut_count(V, E_ok, cuts, boundary), np.searchsorted(ev, E_ok, side="right")
        )


def test_peaks_of_the_landscape():
    W = np.array([1.0, 3.0, 2.0, 2.0, 5.0, 5.0, 1.0, 0.5])
    np.testing.assert_array_equal(np.flatnonzero(landscape_peaks(W)), [1, 5])
    assert not landscape_peaks(np.full(7, 2.0)).any()  # a constant W has no barrier
    ring = np.array([4.0, 1.0, 2.0, 1.0])  # periodic: site 0 is a peak (W[-1] = 1)
    np.testing.assert_array_equal(np.flatnonzero(landscape_peaks(ring)), [0, 2])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"barrier": 0.0}, "barrier"),
        ({"barrier": -1.0}, "barrier"),
        ({"barrier": float("nan")}, "barrier"),
        ({"barrier": True}, "barrier"),
        ({"barrier": "3"}, "barrier"),
        ({"boundary": "periodic"}, "boundary"),
        ({"W": np.ones(7)}, "shape of V"),
        ({"W": np.full(8, np.nan)}, "W"),
    ],
)
def test_valley_count_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        valley_count(np.ones(8), np.array([0.5]), **kwargs)


def test_cut_count_rejects_bad_cuts():
    V, E = np.ones(8), np.array([0.5])
    with pytest.raises(ValueError, match="boolean"):
        cut_count(V, E, np.zeros(8))
    with pytest.raises(ValueError, match="shape"):
        cut_count(V, E, np.zeros(7, bool))
    with pytest.raises(ValueError, match="boundary"):
        cut_count(V, E, np.zeros(8, bool), boundary="dirichlet ")
    with pytest.raises(ValueError, match="V"):
        cut_count(-np.ones(8), E, np.zeros(8, bool))


def test_an_eigenvalue_at_e_is_counted_at_a_block_end():
    # isolated sites (every bond cut, free boundary) have the eigenvalues 2 + V(x) exactly;
    # the pivot at each block end is then exactly zero and counts as an eigenvalue <= E
    V = np.array([1.0, 0.5, 1.0, 2.0, 1.0])
    got = cut_count(V, np.array([3.0, 2.5, 2.999]), np.ones(5, bool))
    np.testing.assert_array_equal(got, [4, 1, 1])
