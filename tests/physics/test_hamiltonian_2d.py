"""The 2-D periodic 5-point H = -Δ + V as a sparse matrix."""

import numpy as np
import pytest

from lnet.physics import hamiltonian


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
