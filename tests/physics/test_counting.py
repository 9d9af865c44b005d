import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnet.physics import count_eigenvalues, hamiltonian
from tests.conftest import ZOO


def dense_spectrum(V: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(hamiltonian(V).toarray())


def safe_energies(ev: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Energies that are not within round-off of an eigenvalue."""
    tol = 1e-9 * max(1.0, float(np.abs(ev).max()))
    gap = np.min(np.abs(E[:, None] - ev[None, :]), axis=1)
    return E[gap > tol]


@pytest.mark.parametrize("name,V", ZOO, ids=[name for name, _ in ZOO])
def test_counts_match_dense_lapack(name, V, rng):
    ev = dense_spectrum(V)
    span = ev.max() - ev.min() + 1.0
    E = np.concatenate(
        [
            rng.uniform(ev.min() - 0.1 * span, ev.max() + 0.1 * span, 400),
            0.5 * (ev[1:] + ev[:-1]),  # midpoints: every level of the staircase
            np.round(ev, 2),  # round numbers near eigenvalues
            np.arange(-1.0, 8.0, 0.25),  # exact binary fractions (exact zero pivots)
        ]
    )
    E = safe_energies(ev, E)
    got = count_eigenvalues(V, E)
    want = np.searchsorted(ev, E, side="right")
    assert got.dtype == np.int64
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{name}: E={E[bad[:5]]} got {got[bad[:5]]} want {want[bad[:5]]}"


def test_exact_zero_pivot_away_from_the_spectrum():
    # Constant V = c: the leading 2x2 block of H - E with E = c + 1 is [[1, -1], [-1, 1]],
    # singular, although E is not an eigenvalue of the periodic H when 6 does not divide n.
    for n in (7, 8, 10, 11, 25, 1001):
        V = np.full(n, 0.5)
        ev = dense_spectrum(V)
        E = np.array([1.5, 0.5 + 2.0, 0.5 + 3.0, 0.5 + 0.5])
        E = safe_energies(ev, E)
        np.testing.assert_array_equal(count_eigenvalues(V, E), np.searchsorted(ev, E, side="right"))


def test_degenerate_pairs_counted_with_multiplicity():
    n = 40
    V = np.full(n, 1.0)
    theta = 2 * np.pi * np.arange(n) / n
    levels = np.unique(np.round(1.0 + 2 - 2 * np.cos(theta), 12))
    mid = 0.5 * (levels[1:] + levels[:-1])
    counts = count_eigenvalues(V, mid)
    # ground state simple, then pairs: 1, 3, 5, ...
    np.testing.assert_array_equal(counts[: len(levels) // 2], 1 + 2 * np.arange(len(levels) // 2))


def test_extreme_energies_count_nothing_or_everything(rng):
    V = rng.random(123)
    np.testing.assert_array_equal(count_eigenvalues(V, [-1e300, -1.0, 1e300]), [0, 0, 123])


def test_batch_shapes_and_agreement(rng):
    V = rng.random((5, 33))
    E = rng.uniform(0, 5, (5, 7))
    batch = count_eigenvalues(V, E)
    assert batch.shape == (5, 7) and batch.dtype == np.int64
    for b in range(5):
        np.testing.assert_array_equal(batch[b], count_eigenvalues(V[b], E[b]))
    assert count_eigenvalues(V[0], 2.0).shape == (1,)


@pytest.mark.parametrize("n", [1000, 1001])
def test_default_size_lattice_against_dense(n, rng):
    V = rng.random(n)
    ev = dense_spectrum(V)
    E = safe_energies(ev, np.concatenate([rng.uniform(0, 0.6, 300), rng.uniform(0, 6, 300)]))
    np.testing.assert_array_equal(count_eigenvalues(V, E), np.searchsorted(ev, E, "right"))


@settings(max_examples=60, deadline=None)
@given(
    V=arrays(np.float64, st.integers(3, 40), elements=st.floats(0, 100, allow_subnormal=False)),
    E=arrays(np.float64, st.integers(1, 20), elements=st.floats(-10, 110, allow_subnormal=False)),
)
def test_counts_match_dense_property(V, E):
    if not np.any(V > 0):
        V = V.copy()
        V[0] = 1.0
    ev = dense_spectrum(V)
    E = safe_energies(ev, E)
    if E.size:
        np.testing.assert_array_equal(count_eigenvalues(V, E), np.searchsorted(ev, E, "right"))


@settings(max_examples=40, deadline=None)
@given(
    V=arrays(np.float64, st.integers(3, 60), elements=st.floats(0, 10, allow_subnormal=False)),
    E=arrays(np.float64, st.integers(2, 30), elements=st.floats(-1, 15, allow_subnormal=False)),
)
def test_counts_are_monotone_in_energy(V, E):
    if not np.any(V > 0):
        V = V.copy()
        V[-1] = 0.5
    E = np.sort(E)
    counts = count_eigenvalues(V, E)
    assert np.all(np.diff(counts) >= 0)
    assert counts.min() >= 0 and counts.max() <= V.size
