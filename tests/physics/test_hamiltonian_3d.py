"""The 3-D periodic 7-point H = -Δ + V as a sparse matrix."""

import numpy as np
import pytest
import scipy.sparse as sp

from lnet.physics import hamiltonian

SHAPES = [(2, 2, 2), (2, 3, 5), (3, 3, 3), (5, 2, 3), (2, 2, 7), (4, 5, 6), (3, 7, 2)]


def stencil(V: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """(Hψ)(x) = 6ψ - Σ_i [ψ(x + e_i) + ψ(x - e_i)] + Vψ, indices mod the sides (np.roll)."""
    out = (6.0 + V) * psi
    for axis in (0, 1, 2):
        out -= np.roll(psi, 1, axis=axis) + np.roll(psi, -1, axis=axis)
    return out


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
def test_matrix_is_the_stencil_in_row_major_order(shape, rng):
    V = rng.random(shape)
    H = hamiltonian(V, dim=3)
    n = V.size
    assert sp.issparse(H) and H.format == "csr" and H.shape == (n, n)
    assert H.has_canonical_format  # duplicates (a side of 2) summed, indices sorted
    for _ in range(3):
        psi = rng.standard_normal(shape)
        np.testing.assert_allclose(
            (H @ psi.reshape(-1)).reshape(shape), stencil(V, psi), rtol=0, atol=1e-13
        )
    # the unit vector of site (x, y, z) is row (x·L2 + y)·L3 + z: H e_i reads column i
    dense = H.toarray()
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        np.testing.assert_array_equal(dense[:, i], stencil(V, e.reshape(shape)).reshape(-1))
    x, y, z = 1 % shape[0], 1 % shape[1], 1 % shape[2]
    assert dense[(x * shape[1] + y) * shape[2] + z].sum() == pytest.approx(V[x, y, z])
    np.testing.assert_array_equal(dense, dense.T)
    np.testing.assert_allclose(H @ np.ones(n), V.reshape(-1), atol=1e-15)  # -Δ 1 = 0


def test_side_two_doubles_the_bond():
    """On 2×2×2 every site has 3 distinct neighbours, each bond doubled (entry -2)."""
    V = np.arange(1.0, 9.0).reshape(2, 2, 2)
    H = hamiltonian(V, dim=3)
    assert H.nnz == 8 * 4
    dense = H.toarray()
    for i in range(8):
        x, y, z = np.unravel_index(i, (2, 2, 2))
        assert dense[i, i] == 6.0 + V[x, y, z]
        for j in (
            ((1 - x) * 2 + y) * 2 + z,
            (x * 2 + (1 - y)) * 2 + z,
            (x * 2 + y) * 2 + (1 - z),
        ):
            assert dense[i, j] == -2.0
    H235 = hamiltonian(np.ones((2, 3, 5)), dim=3)
    assert H235.nnz == 30 * 6  # diagonal, one doubled x-bond, two y-bonds, two z-bonds
    assert np.sort(np.unique(H235.data)).tolist() == [-2.0, -1.0, 7.0]


@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 3, 4), (3, 3, 3), (4, 4, 5), (6, 6, 6)])
def test_constant_potential_spectrum_is_the_free_band(shape):
    """V ≡ c: eigenvalues c + Σ_i (2 - 2 cos 2πj_i/L_i), with their multiplicities."""
    c = 0.37
    ev = np.linalg.eigvalsh(hamiltonian(np.full(shape, c), dim=3).toarray())
    k = [2.0 - 2.0 * np.cos(2 * np.pi * np.arange(L) / L) for L in shape]
    want = np.sort((c + k[0][:, None, None] + k[1][None, :, None] + k[2][None, None, :]).ravel())
    np.testing.assert_allclose(ev, want, atol=1e-13)


def test_separable_potential_spectrum_is_sums_of_1d_spectra(rng):
    a, b, c = rng.random(3), rng.random(4), rng.random(5)
    V = a[:, None, None] + b[None, :, None] + c[None, None, :]
    ev = np.linalg.eigvalsh(hamiltonian(V, dim=3).toarray())
    ea, eb, ec = (np.linalg.eigvalsh(hamiltonian(f).toarray()) for f in (a, b, c))
    want = np.sort((ea[:, None, None] + eb[None, :, None] + ec[None, None, :]).ravel())
    np.testing.assert_allclose(ev, want, atol=1e-13)


def test_axis_order_follows_the_array(rng):
    """Transposing V permutes the sites: H of V.transpose is P H Pᵀ."""
    V = rng.random((2, 3, 4))
    perm = np.arange(V.size).reshape(V.shape).transpose(2, 0, 1).reshape(-1)
    H = hamiltonian(V, dim=3).toarray()
    Ht = hamiltonian(V.transpose(2, 0, 1), dim=3).toarray()
    np.testing.assert_array_equal(Ht, H[np.ix_(perm, perm)])


def test_large_lattice_stays_sparse(rng):
    V = rng.random((32, 32, 32))
    H = hamiltonian(V, dim=3)
    assert H.nnz == 7 * V.size and H.has_canonical_format
    psi = rng.standard_normal(V.shape)
    np.testing.assert_allclose((H @ psi.reshape(-1)).reshape(V.shape), stencil(V, psi), atol=1e-12)
