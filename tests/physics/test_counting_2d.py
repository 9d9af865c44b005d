"""Exact 2-D counting against dense LAPACK on the periodic L1×L2 lattice."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnet.physics import count_eigenvalues, hamiltonian
from lnet.physics.counting_2d import symbolic


def dense_spectrum(V: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(hamiltonian(V, dim=2).toarray())


def safe_energies(ev: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Energies not within round-off of an eigenvalue (there the count is a tie)."""
    tol = 1e-9 * max(1.0, float(np.abs(ev).max()))
    gap = np.min(np.abs(E[:, None] - ev[None, :]), axis=1)
    return E[gap > tol]


def probe_energies(ev: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    span = ev.max() - ev.min() + 1.0
    E = np.concatenate(
        [
            rng.uniform(ev.min() - 0.1 * span, ev.max() + 0.1 * span, 150),
            0.5 * (ev[1:] + ev[:-1]),  # every level of the staircase
            np.round(ev, 2),  # round numbers near eigenvalues
            np.arange(-1.0, 12.0, 0.25),  # exact binary fractions: exactly singular blocks
        ]
    )
    return safe_energies(ev, E)


def check(V: np.ndarray, E: np.ndarray) -> None:
    ev = dense_spectrum(V)
    E = safe_energies(ev, E)
    if E.size == 0:
        return
    got = count_eigenvalues(V, E, dim=2)
    want = np.searchsorted(ev, E, side="right")
    assert got.dtype == np.int64
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{V.shape}: E={E[bad[:5]]} got {got[bad[:5]]} want {want[bad[:5]]}"


SHAPES = [(2, 2), (2, 3), (3, 3), (3, 2), (2, 7), (4, 4), (5, 7), (8, 8), (11, 6), (16, 16)]


def potentials(shape, rng):
    return {
        "uniform": rng.random(shape),
        "constant": np.full(shape, 0.5),  # highly degenerate 2-D spectrum
        "huge": 1e6 * rng.random(shape),
        "tiny": 1e-6 * rng.random(shape),
        "bernoulli": np.where(rng.random(shape) < 0.3, 3.0, 0.0) + np.eye(*shape),
        "quarters": np.round(4 * rng.random(shape)) / 4 + 0.25,  # ties between sites
    }


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_counts_match_dense_lapack(shape, rng):
    for name, V in potentials(shape, rng).items():
        ev = dense_spectrum(V)
        E = probe_energies(ev, rng)
        got = count_eigenvalues(V, E, dim=2)
        want = np.searchsorted(ev, E, side="right")
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, f"{name} {shape}: E={E[bad[:5]]} got {got[bad[:5]]}"


@pytest.mark.parametrize("shape", [(40, 40), (33, 24)])
def test_largest_dense_checked_lattices(shape, rng):
    V = rng.random(shape)
    ev = dense_spectrum(V)
    E = safe_energies(ev, np.concatenate([0.5 * (ev[1:300] + ev[:299]), rng.uniform(0, 9, 200)]))
    np.testing.assert_array_equal(
        count_eigenvalues(V, E, dim=2), np.searchsorted(ev, E, side="right")
    )


def _regions(L1: int, L2: int) -> list[np.ndarray]:
    _, j_ptr, j_idx, _, _, nchild = symbolic(L1, L2)
    regions, stack = [], []
    for t in range(len(nchild)):
        k = int(nchild[t])
        parts = [j_idx[j_ptr[t] : j_ptr[t + 1]], *stack[len(stack) - k :]] if k else []
        if k:
            del stack[len(stack) - k :]
        region = np.concatenate(parts) if k else j_idx[j_ptr[t] : j_ptr[t + 1]]
        stack.append(region)
        regions.append(region)
    return regions


@pytest.mark.parametrize("shape", [(12, 12), (23, 17)])
def test_energies_that_make_inner_fronts_singular(shape, rng):
    """E an eigenvalue of a subtree's block (not of H): the front pivots must be delayed."""
    L1, L2 = shape
    regions = _regions(L1, L2)
    _, j_ptr, j_idx, _, _, _ = symbolic(L1, L2)
    for V in (
        rng.random(shape),
        np.full(shape, 0.25),
        np.where(rng.random(shape) < 0.3, 1e6, 1e-3),
    ):
        H = hamiltonian(V, dim=2).toarray()
        E = []
        for t in rng.choice(len(regions) - 1, min(25, len(regions) - 1), replace=False):
            J = j_idx[j_ptr[t] : j_ptr[t + 1]]
            for block in (regions[t], J):
                E.append(np.linalg.eigvalsh(H[np.ix_(block, block)]))
        check(V, np.concatenate(E))


def test_dissection_is_a_valid_elimination_tree():
    for L1, L2 in [(2, 2), (3, 5), (16, 16), (17, 30)]:
        nb, j_ptr, j_idx, b_ptr, b_idx, nchild = symbolic(L1, L2)
        n = L1 * L2
        np.testing.assert_array_equal(np.sort(j_idx), np.arange(n))  # each site once
        order = np.empty(n, dtype=np.int64)
        for t in range(len(nchild)):
            order[j_idx[j_ptr[t] : j_ptr[t + 1]]] = t
        stack = []
        for t in range(len(nchild)):
            own = set(j_idx[j_ptr[t] : j_ptr[t + 1]]) | set(b_idx[b_ptr[t] : b_ptr[t + 1]])
            for _ in range(int(nchild[t])):
                child_boundary = stack.pop()
                assert child_boundary <= own  # a child's boundary is in its parent's front
            boundary = set(b_idx[b_ptr[t] : b_ptr[t + 1]].tolist())
            assert all(order[b] > t for b in boundary)  # boundary sites come later
            stack.append(boundary)
        assert len(stack) == 1 and stack[0] == set()


def test_degenerate_free_spectrum_counted_with_multiplicity():
    L = 12
    V = np.full((L, L), 1.0)
    k = 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L)
    exact = np.sort((1.0 + k[:, None] + k[None, :]).ravel())
    levels = np.unique(np.round(exact, 10))
    mid = 0.5 * (levels[1:] + levels[:-1])
    np.testing.assert_array_equal(
        count_eigenvalues(V, mid, dim=2), np.searchsorted(exact, mid, side="right")
    )


def test_extreme_energies_count_nothing_or_everything(rng):
    V = rng.random((9, 7))
    np.testing.assert_array_equal(
        count_eigenvalues(V, [-1e300, -1.0, 1e300, 1e9], dim=2), [0, 0, 63, 63]
    )


def test_batch_shapes_and_agreement(rng):
    V = rng.random((4, 6, 5))
    E = rng.uniform(0, 8, (4, 7))
    batch = count_eigenvalues(V, E, dim=2)
    assert batch.shape == (4, 7) and batch.dtype == np.int64
    for b in range(4):
        np.testing.assert_array_equal(batch[b], count_eigenvalues(V[b], E[b], dim=2))
    assert count_eigenvalues(V[0], 2.0, dim=2).shape == (1,)


def test_translation_and_transpose_invariance(rng):
    V = rng.random((10, 14))
    E = rng.uniform(0, 3, 60)
    base = count_eigenvalues(V, E, dim=2)
    np.testing.assert_array_equal(count_eigenvalues(np.roll(V, (3, 5), (0, 1)), E, dim=2), base)
    np.testing.assert_array_equal(count_eigenvalues(V.T.copy(), E, dim=2), base)


@pytest.mark.parametrize(
    "V,E,match",
    [
        (np.ones(5), [1.0], r"shape \(L1, L2\) or \(B, L1, L2\)"),
        (np.ones((1, 5)), [1.0], "L1, L2 >= 2"),
        (-np.ones((3, 3)), [1.0], r"V\[0, 0\] = -1 is negative"),
        (np.zeros((3, 3)), [1.0], "identically zero"),
        (np.ones((3, 3)), [np.nan], r"E\[0\] = nan is not finite"),
        (np.ones((2, 3, 3)), [1.0], r"\(B, m\) = \(2, m\)"),
        (np.ones((3, 3)), [], "empty"),
    ],
)
def test_bad_input_is_named(V, E, match):
    with pytest.raises(ValueError, match=match):
        count_eigenvalues(V, E, dim=2)


def test_bad_dim_is_named():
    with pytest.raises(ValueError, match="dim must be 1 or 2"):
        count_eigenvalues(np.ones((3, 3)), [1.0], dim=3)


@settings(max_examples=40, deadline=None)
@given(
    V=arrays(
        np.float64,
        st.tuples(st.integers(2, 9), st.integers(2, 9)),
        elements=st.floats(0, 50, allow_subnormal=False),
    ),
    E=arrays(np.float64, st.integers(1, 15), elements=st.floats(-5, 70, allow_subnormal=False)),
)
def test_counts_match_dense_property(V, E):
    if not np.any(V > 0):
        V = V.copy()
        V[0, 0] = 1.0
    check(V, E)
