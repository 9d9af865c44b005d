"""The periodic lattice Schrödinger operator H = -Δ + V as a sparse matrix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from lnet.physics.blas import blas_threads
from lnet.physics.validation import as_potential, as_single, check_dim


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS single-threaded inside: for the sparse solvers' small BLAS calls (SuperLU's
    supernodes, ARPACK's Lanczos vectors), threads cost more than they bring; on the
    project's busy 2-core machine, shift-invert Lanczos at 64×64 ran 5-9x faster."""
    with blas_threads(1):
        yield


def _neighbours_2d(L1: int, L2: int) -> np.ndarray:
    """``(n, 4)`` flat indices of the neighbours (x±1, y), (x, y±1) of every site x·L2 + y."""
    x, y = np.divmod(np.arange(L1 * L2, dtype=np.int64), L2)
    return np.stack(
        [
            ((x + 1) % L1) * L2 + y,
            ((x - 1) % L1) * L2 + y,
            x * L2 + (y + 1) % L2,
            x * L2 + (y - 1) % L2,
        ],
        axis=1,
    )


def _hamiltonian_2d(V: np.ndarray) -> sp.csr_matrix:
    """Sparse H for one already-validated 2-D potential ``(L1, L2)`` (no checks)."""
    L1, L2 = V.shape
    n = L1 * L2
    sites = np.arange(n, dtype=np.int64)
    rows = np.concatenate([sites, np.repeat(sites, 4)])
    cols = np.concatenate([sites, _neighbours_2d(L1, L2).ravel()])
    vals = np.concatenate([4.0 + V.reshape(-1), -np.ones(4 * n)])
    H = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()  # sums duplicates (L = 2)
    H.sum_duplicates()
    return H


def _neighbours_3d(L1: int, L2: int, L3: int) -> np.ndarray:
    """``(n, 6)`` flat indices of the neighbours (x±1, y, z), (x, y±1, z), (x, y, z±1) of
    every site (x·L2 + y)·L3 + z of the L1×L2×L3 torus (repeated when a side is 2)."""
    xy, z = np.divmod(np.arange(L1 * L2 * L3, dtype=np.int64), L3)
    x, y = np.divmod(xy, L2)
    return np.stack(
        [
            (((x + 1) % L1) * L2 + y) * L3 + z,
            (((x - 1) % L1) * L2 + y) * L3 + z,
            (x * L2 + (y + 1) % L2) * L3 + z,
            (x * L2 + (y - 1) % L2) * L3 + z,
            xy * L3 + (z + 1) % L3,
            xy * L3 + (z - 1) % L3,
        ],
        axis=1,
    )


def _hamiltonian_3d(V: np.ndarray) -> sp.csr_matrix:
    """Sparse H for one already-validated 3-D potential ``(L1, L2, L3)`` (no checks).

    Built row by row straight into CSR (7 slots a row: the diagonal 6 + V(x) and -1 per
    neighbour), then duplicates summed: on a side of 2 the two bonds along that axis
    reach the same site and add up to -2.
    """
    L1, L2, L3 = V.shape
    n = L1 * L2 * L3
    cols = np.empty((n, 7), dtype=np.int64)
    cols[:, 0] = np.arange(n)
    cols[:, 1:] = _neighbours_3d(L1, L2, L3)
    vals = np.full((n, 7), -1.0)
    vals[:, 0] = 6.0 + V.reshape(-1)
    index_type = np.int32 if 7 * n < 2**31 else np.int64
    H = sp.csr_matrix(
        (
            vals.ravel(),
            cols.ravel().astype(index_type),
            np.arange(0, 7 * n + 1, 7, dtype=index_type),
        ),
        shape=(n, n),
    )
    H.sum_duplicates()  # sorts the column indices of every row too
    return H


def hamiltonian(V: np.ndarray, dim: int = 1) -> sp.csr_matrix:
    """Sparse H = -Δ + V on the periodic lattice, for one potential.

    dim = 1: (Hψ)(x) = 2ψ(x) - ψ(x-1) - ψ(x+1) + V(x)ψ(x), indices mod n.
    V: ``(n,)``, n >= 3, V >= 0 and not identically zero.  Returns an ``(n, n)`` CSR
    matrix with 3n stored entries (the corner pair (0, n-1) carries the periodic bond).

    dim = 2: (Hψ)(x, y) = 4ψ(x, y) - ψ(x±1, y) - ψ(x, y±1) + V(x, y)ψ(x, y), indices
    mod (L1, L2).  V: ``(L1, L2)``, L1, L2 >= 2; site (x, y) is row x·L2 + y (the order
    of ``V.reshape(-1)``).  Returns the ``(L1·L2, L1·L2)`` CSR 5-point matrix, entries
    of coinciding neighbours summed: on a side L = 2, x+1 ≡ x-1 and the entry is -2.

    dim = 3: (Hψ)(x, y, z) = 6ψ - ψ(x±1, y, z) - ψ(x, y±1, z) - ψ(x, y, z±1) + Vψ, indices
    mod (L1, L2, L3).  V: ``(L1, L2, L3)``, every side >= 2; site (x, y, z) is row
    (x·L2 + y)·L3 + z (the order of ``V.reshape(-1)``).  Returns the
    ``(L1·L2·L3, L1·L2·L3)`` CSR 7-point matrix, 7n stored entries less one per doubled
    bond (a side of 2: the two bonds along it coincide, entry -2).  Never dense.
    """
    dim = check_dim(dim)
    Va = as_single(as_potential(V, dim=dim), dim=dim)
    if dim == 2:
        return _hamiltonian_2d(Va)
    if dim == 3:
        return _hamiltonian_3d(Va)
    n = Va.shape[0]
    x = np.arange(n)
    rows = np.concatenate([x, x, x])
    cols = np.concatenate([x, (x + 1) % n, (x - 1) % n])
    vals = np.concatenate([2.0 + Va, -np.ones(n), -np.ones(n)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
