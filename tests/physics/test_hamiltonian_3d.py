"""The 3-D periodic 7-point H = -Δ + V as a sparse matrix."""

import numpy as np
import pytest

from lnet.physics import hamiltonian
from tests.conftest import lattice_stencil

SHAPES = [(2, 2, 2), (2, 3, 5), (3, 3, 3), (5, 2, 3), (2, 2, 7), (4, 5, 6), (3, 7, 2)]


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
    np.testing.assert_allclose(
        (H @ psi.reshape(-1)).reshape(V.shape), lattice_stencil(V, psi), atol=1e-12
    )
