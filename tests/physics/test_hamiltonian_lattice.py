"""The periodic 2-D and 3-D H = -Δ + V as sparse matrices: the stencil, row by row."""

import numpy as np
import pytest
import scipy.sparse as sp

from lnet.physics import hamiltonian
from tests.conftest import lattice_stencil

SHAPES = [
    *[(2, 2), (2, 3), (3, 2), (2, 5), (3, 3), (4, 7), (5, 5), (9, 4)],
    *[(2, 2, 2), (2, 3, 5), (3, 3, 3), (5, 2, 3), (2, 2, 7), (4, 5, 6), (3, 7, 2)],
]


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
def test_matrix_is_the_stencil_in_row_major_order(shape, rng):
    V = rng.random(shape)
    H = hamiltonian(V, dim=len(shape))
    n = V.size
    assert sp.issparse(H) and H.format == "csr" and H.shape == (n, n)
    assert H.has_canonical_format  # duplicates (a side of 2) summed, indices sorted
    for _ in range(3):
        psi = rng.standard_normal(shape)
        np.testing.assert_allclose(
            (H @ psi.reshape(-1)).reshape(shape), lattice_stencil(V, psi), rtol=0, atol=1e-13
        )
    # the unit vector of a site is its C-order row, (x·L2 + y)·L3 + z: H e_i reads column i
    dense = H.toarray()
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        np.testing.assert_array_equal(dense[:, i], lattice_stencil(V, e.reshape(shape)).reshape(-1))
    site = tuple(1 % L for L in shape)
    assert dense[np.ravel_multi_index(site, shape)].sum() == pytest.approx(V[site])
    np.testing.assert_array_equal(dense, dense.T)
    np.testing.assert_allclose(H @ np.ones(n), V.reshape(-1), atol=1e-15)  # -Δ 1 = 0
