"""The periodic lattice Schrödinger operator H = -Δ + V as a sparse matrix."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lnet.physics.validation import as_potential, as_single


def hamiltonian(V: np.ndarray) -> sp.csr_matrix:
    """Sparse H with (Hψ)(x) = 2ψ(x) - ψ(x-1) - ψ(x+1) + V(x)ψ(x), indices mod n.

    V: one potential of shape ``(n,)``, n >= 3, V >= 0 and not identically zero.
    Returns an ``(n, n)`` CSR matrix with 3n stored entries (the corner pair
    (0, n-1) carries the periodic bond).
    """
    Va = as_single(as_potential(V))
    n = Va.shape[0]
    x = np.arange(n)
    rows = np.concatenate([x, x, x])
    cols = np.concatenate([x, (x + 1) % n, (x - 1) % n])
    vals = np.concatenate([2.0 + Va, -np.ones(n), -np.ones(n)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
