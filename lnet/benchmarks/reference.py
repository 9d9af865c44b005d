"""Reference solvers the benchmark (and tests) set beside lnet's numerics.

Dense LAPACK (``eigvalsh``, ``solve``: O(n³), the scaling baseline) and the fast routes
a user would really take: scipy's sparse ``spsolve`` for the landscape, LAPACK's
``eigvalsh_tridiagonal`` on the open chain (a different operator), sparse shift-invert
``eigsh``, and SuperLU's LU factorisation for 2-D counting (inertia from its diagonal,
exact only where no pivoting flips signs).
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigvalsh_tridiagonal
from scipy.sparse.linalg import eigsh, spsolve

from lnet.physics import hamiltonian


def dense_count(V: np.ndarray, E: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            np.searchsorted(np.linalg.eigvalsh(hamiltonian(v).toarray()), e, side="right")
            for v, e in zip(V, E, strict=True)
        ]
    )


def dense_landscape(V: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.solve(hamiltonian(v).toarray(), np.ones(v.size)) for v in V])


def dense_lowest(V: np.ndarray, k: int) -> np.ndarray:
    return np.stack([np.linalg.eigvalsh(hamiltonian(v).toarray())[:k] for v in V])


def sparse_periodic_hamiltonian(v: np.ndarray) -> sp.csc_array:
    """The periodic H as a user would build it for scipy: CSC, corner bonds included."""
    n = v.size
    off = -np.ones(n - 1)
    corner = -np.ones(1)
    return sp.diags_array(
        [corner, off, 2.0 + v, off, corner], offsets=[-(n - 1), -1, 0, 1, n - 1], format="csc"
    )


def spsolve_landscape(H: list[sp.csc_array]) -> np.ndarray:
    """u = H^-1 1 by scipy.sparse.linalg.spsolve (SuperLU) on prebuilt sparse H."""
    return np.stack([spsolve(h, np.ones(h.shape[0])) for h in H])


def open_chain_count(V: np.ndarray, E: np.ndarray, driver: str = "sterf") -> np.ndarray:
    """N(E) of the OPEN chain (H without its two corner entries) from LAPACK.

    ``driver="sterf"``: all n eigenvalues (root-free QL, O(n^2)); ``driver="stebz"``:
    only the eigenvalues in (min d - 3, max E] by bisection (``select="v"``; the
    Gershgorin bound puts every eigenvalue above min d - 2).  The open
    chain is a different operator: H = H_open + C with C the corner pair, rank 2 with
    eigenvalues +1 and -1, so by interlacing its counts differ from N_V(E) by at most 1.
    """
    out = []
    for v, e in zip(V, E, strict=True):
        d, off = 2.0 + v, -np.ones(v.size - 1)
        if driver == "stebz":
            lam = eigvalsh_tridiagonal(
                d, off, select="v", select_range=(d.min() - 3.0, e.max()), lapack_driver="stebz"
            )
        else:
            lam = eigvalsh_tridiagonal(d, off, lapack_driver=driver)
        out.append(np.searchsorted(lam, e, side="right"))
    return np.stack(out)


def eigsh_count(H: list[sp.csc_array], E: np.ndarray, k: np.ndarray) -> np.ndarray:
    """N_V(E) from the k[b] lowest eigenvalues by sparse shift-invert ARPACK (sigma = 0).

    H is SPD, so the k eigenvalues nearest 0 are the k lowest; k[b] = N_V(max E[b]) must
    be known in advance (taken from the exact count: an advantage a user would not have).
    """
    out = []
    for h, e, kb in zip(H, E, k, strict=True):
        if kb == 0:
            out.append(np.zeros(e.shape, dtype=np.int64))
            continue
        lam = np.sort(eigsh(h, k=int(kb), sigma=0.0, which="LM", return_eigenvectors=False))
        out.append(np.searchsorted(lam, e, side="right"))
    return np.stack(out)


def superlu_count(V: np.ndarray, E: np.ndarray) -> np.ndarray:
    """The textbook sparse route: SuperLU of H - E from scratch for every energy, diagonal
    pivots forced (a congruence), negative pivots counted.  Not guaranteed exact: no
    symmetric pivoting, so a tiny pivot can flip signs."""
    from scipy.sparse.linalg import splu

    H = hamiltonian(V, dim=2).tocsc()
    eye = sp.identity(V.size, format="csc")
    out = []
    for e in E:
        lu = splu(H - e * eye, diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        out.append(int(np.count_nonzero(lu.U.diagonal() <= 0.0)))
    return np.array(out)
