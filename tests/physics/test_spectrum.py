import numpy as np
import pytest

from lnet.physics import count_eigenvalues, hamiltonian, lowest_eigenvalues
from tests.conftest import ZOO


@pytest.mark.parametrize("name,V", ZOO, ids=[name for name, _ in ZOO])
def test_lowest_match_dense(name, V):
    ev = np.linalg.eigvalsh(hamiltonian(V).toarray())
    k = min(V.size, 20)
    got = lowest_eigenvalues(V, k)
    assert got.shape == (k,)
    # round-off floor of any method is ~ eps * ||H||
    np.testing.assert_allclose(
        got, ev[:k], rtol=1e-10, atol=50 * np.finfo(float).eps * (4 + V.max())
    )


def test_degenerate_levels_are_repeated():
    V = np.full(30, 0.5)
    got = lowest_eigenvalues(V, 5)
    theta = 2 * np.pi * np.array([0, 1, 1, 2, 2]) / 30
    np.testing.assert_allclose(got, 0.5 + 2 - 2 * np.cos(theta), rtol=1e-12)


def test_batch_and_consistency_with_counter(rng):
    V = rng.random((3, 200))
    lam = lowest_eigenvalues(V, 20)
    assert lam.shape == (3, 20)
    assert np.all(np.diff(lam, axis=1) >= 0)
    # just above λ_j there are j+1 eigenvalues, just below there are j
    np.testing.assert_array_equal(
        count_eigenvalues(V, lam * (1 + 1e-8)), np.tile(np.arange(1, 21), (3, 1))
    )
    np.testing.assert_array_equal(
        count_eigenvalues(V, lam * (1 - 1e-8)), np.tile(np.arange(20), (3, 1))
    )


@pytest.mark.parametrize("k", [0, -1, 11, 2.5, True])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        lowest_eigenvalues(np.ones(10), k)


@pytest.mark.parametrize("n", [3, 4, 7, 50, 201])
def test_kth_eigenvalue_matches_dense(n):
    from lnet.physics import kth_eigenvalue

    rng = np.random.default_rng(n)
    potentials = [rng.random(n), np.full(n, 0.7), 1e6 * rng.random(n), 1e-6 * rng.random(n)]
    for V in potentials:
        dense = np.linalg.eigvalsh(hamiltonian(V).toarray())
        for k in sorted({1, 2, n // 2 + 1, n}):
            if k > n:
                continue
            got = kth_eigenvalue(V, k)
            assert isinstance(got, float)
            assert got == pytest.approx(dense[k - 1], rel=1e-10, abs=1e-9 * (4 + V.max()))
    batch = rng.random((3, n))
    np.testing.assert_allclose(
        kth_eigenvalue(batch, n), lowest_eigenvalues(batch, n)[:, -1], rtol=1e-10
    )
    with pytest.raises(ValueError, match="k must be"):
        kth_eigenvalue(batch, n + 1)
