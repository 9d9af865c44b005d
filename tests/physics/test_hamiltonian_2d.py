"""The 2-D periodic 5-point H = -Δ + V as a sparse matrix."""

import numpy as np
import pytest
import scipy.sparse as sp

from lnet.physics import hamiltonian

SHAPES = [(2, 2), (2, 3), (3, 2), (2, 5), (3, 3), (4, 7), (5, 5), (9, 4)]


def stencil(V: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """(Hψ)(x, y) = 4ψ - ψ(x±1, y) - ψ(x, y±1) + Vψ, indices mod (L1, L2), by np.roll."""
    out = (4.0 + V) * psi
    for axis in (0, 1):
        out -= np.roll(psi, 1, axis=axis) + np.roll(psi, -1, axis=axis)
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_matrix_is_the_stencil_in_row_major_order(shape, rng):
    V = rng.random(shape)
    H = hamiltonian(V, dim=2)
    n = V.size
    assert sp.issparse(H) and H.format == "csr" and H.shape == (n, n)
    assert H.has_canonical_format  # duplicates (a side of 2) summed, indices sorted
    for _ in range(3):
        psi = rng.standard_normal(shape)
        np.testing.assert_allclose(
            (H @ psi.reshape(-1)).reshape(shape), stencil(V, psi), rtol=0, atol=1e-13
        )
    # the unit vector of site (x, y) is row x·L2 + y: H e_i reads column i
    dense = H.toarray()
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        np.testing.assert_array_equal(dense[:, i], stencil(V, e.reshape(shape)).reshape(-1))
    np.testing.assert_array_equal(dense, dense.T)
    np.testing.assert_allclose(H @ np.ones(n), V.reshape(-1), atol=1e-15)  # -Δ 1 = 0


def test_side_two_doubles_the_bond():
    V = np.array([[1.0, 2.0], [3.0, 4.0]])
    H = hamiltonian(V, dim=2).toarray()
    # sites 0 = (0,0), 1 = (0,1), 2 = (1,0), 3 = (1,1): x±1 and y±1 coincide
    want = np.array(
        [
            [5.0, -2.0, -2.0, 0.0],
            [-2.0, 6.0, 0.0, -2.0],
            [-2.0, 0.0, 7.0, -2.0],
            [0.0, -2.0, -2.0, 8.0],
        ]
    )
    np.testing.assert_array_equal(H, want)
    H23 = hamiltonian(np.ones((2, 3)), dim=2)
    assert H23.nnz == 6 * 4  # diagonal, one doubled x-bond, two y-bonds per site
    assert np.sort(np.unique(H23.data)).tolist() == [-2.0, -1.0, 5.0]


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 5), (6, 4), (7, 7)])
def test_constant_potential_spectrum_is_the_free_band(shape):
    c = 0.37
    L1, L2 = shape
    ev = np.linalg.eigvalsh(hamiltonian(np.full(shape, c), dim=2).toarray())
    k1 = 2 * np.pi * np.arange(L1) / L1
    k2 = 2 * np.pi * np.arange(L2) / L2
    want = np.sort((c + 4 - 2 * np.cos(k1)[:, None] - 2 * np.cos(k2)[None, :]).ravel())
    np.testing.assert_allclose(ev, want, atol=1e-13)


def test_separable_potential_spectrum_is_sums_of_1d_spectra(rng):
    a, b = rng.random(5), rng.random(4)
    V = a[:, None] + b[None, :]
    ev = np.linalg.eigvalsh(hamiltonian(V, dim=2).toarray())
    ea = np.linalg.eigvalsh(hamiltonian(a).toarray())
    eb = np.linalg.eigvalsh(hamiltonian(b).toarray())
    np.testing.assert_allclose(ev, np.sort((ea[:, None] + eb[None, :]).ravel()), atol=1e-13)


def test_one_dimensional_default_is_unchanged(rng):
    V = rng.random(7)
    H = hamiltonian(V)
    assert H.shape == (7, 7) and H.nnz == 21
    assert hamiltonian(V, dim=1).nnz == 21
