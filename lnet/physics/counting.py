"""Exact eigenvalue counting N_V(E) by Sylvester inertia, O(n) per energy.

H - E is the periodic tridiagonal matrix with diagonal d_x = 2 + V(x) - E and -1
between neighbours, including the corner pair (0, n-1).  Take site n-1 as a
border: with T the path on sites 0..n-2 and b = -(e_0 + e_{n-2}),

    H - E = [[T, b], [bᵀ, d_{n-1}]].

Block Gaussian elimination of T (a congruence) gives pivots whose signs are the
inertia of H - E (Sylvester's law), and N_V(E) = number of pivots <= 0.  The
interior sites are eliminated by the Sturm recurrence

    a_{i+1} = d_{i+1} - 1 / a_i,     c_{i+1} = b_{i+1} + c_i / a_i,     s -= c_i² / a_i,

where a_i is the pivot of site i, c_i its coupling to the border and s the
border's Schur complement.  A pivot that is tiny compared with the next diagonal
(|a_i| < ½ / (1 + |d_{i+1}|), exact zeros included) is not divided by: sites i
and i+1 are eliminated together as a 2×2 pivot [[a_i, -1], [-1, d_{i+1}]] whose
determinant is <= -½, so it contributes exactly one negative eigenvalue and its
Schur updates are well conditioned (the Bunch–Kaufman idea).  Without this, an
energy that is an eigenvalue of a leading block of T (not of H) would make the
border update cancel catastrophically.  The last interior site and the border
form a final 2×2 block whose inertia is read from its determinant and trace.

Counts eigenvalues <= E: an exactly singular pivot counts as an eigenvalue at E.
"""

from __future__ import annotations

import numba
import numpy as np

from lnet.physics.threads import start_numba_threads
from lnet.physics.validation import as_energies, as_potential, check_dim


@numba.njit(cache=True, nogil=True)
def _count_one(V: np.ndarray, e: float) -> int:
    n = V.shape[0]
    last = n - 2  # last interior site; site n-1 is the border
    count = 0
    s = 2.0 + V[n - 1] - e
    a = 2.0 + V[0] - e
    c = -1.0  # site 0 is coupled to the border by the periodic wrap
    i = 0
    final_block = True
    while i < last:
        d_next = 2.0 + V[i + 1] - e
        b_next = -1.0 if i + 1 == last else 0.0
        if abs(a) * (1.0 + abs(d_next)) < 0.5:
            # 2x2 pivot on sites (i, i+1): det <= -1/2, inertia (1 negative, 1 positive)
            det = a * d_next - 1.0
            count += 1
            s -= (d_next * c * c + 2.0 * c * b_next + a * b_next * b_next) / det
            if i + 2 <= last:
                d2 = 2.0 + V[i + 2] - e
                b2 = -1.0 if i + 2 == last else 0.0
                c = b2 + (c + a * b_next) / det
                a = d2 - a / det
            else:
                final_block = False
            i += 2
        else:
            if a < 0.0:
                count += 1
            r = 1.0 / a
            s -= c * c * r
            c = b_next + c * r
            a = d_next - r
            i += 1
    if final_block:
        # inertia of [[a, c], [c, s]]: eigenvalues <= 0
        det = a * s - c * c
        tr = a + s
        if det < 0.0:
            count += 1
        elif det > 0.0:
            if tr < 0.0:
                count += 2
        else:
            count += 1
            if tr <= 0.0:
                count += 1
    elif s <= 0.0:
        count += 1
    return count


@numba.njit(cache=True, nogil=True, parallel=True)
def _count_batch(V: np.ndarray, E: np.ndarray, out: np.ndarray) -> None:
    B, m = E.shape
    for k in numba.prange(B * m):
        b = k // m
        j = k - b * m
        out[b, j] = _count_one(V[b], E[b, j])


def count_eigenvalues(V: np.ndarray, E: np.ndarray, dim: int = 1) -> np.ndarray:
    """Exact N_V(E) = #{eigenvalues of H <= E}, with multiplicity, as int64.

    dim = 1: H = -Δ + V on the periodic chain of n >= 3 sites,
    (Hψ)(x) = 2ψ(x) - ψ(x-1) - ψ(x+1) + V(x)ψ(x), indices mod n.  Shapes: V ``(n,)``
    with E ``(m,)`` -> ``(m,)``; V ``(B, n)`` with E ``(B, m)`` -> ``(B, m)``.  Cost O(n)
    per energy, no n×n matrix.

    dim = 2: the periodic L1×L2 lattice (L1, L2 >= 2), (Hψ)(x, y) = 4ψ - ψ(x±1, y)
    - ψ(x, y±1) + Vψ, indices mod (L1, L2).  Shapes: V ``(L1, L2)`` with E ``(m,)`` ->
    ``(m,)``; V ``(B, L1, L2)`` with E ``(B, m)`` -> ``(B, m)``.  Sparse multifrontal
    LDLᵀ with nested dissection and threshold pivoting
    (:mod:`lnet.physics.multifrontal`), O(n^{3/2}) per energy.

    dim = 3: the periodic L1×L2×L3 lattice (every side >= 2), (Hψ)(x) = 6ψ(x) - Σ over
    the six neighbours ψ(y) + V(x)ψ(x).  Shapes: V ``(L1, L2, L3)`` with E ``(m,)``, or
    ``(B, L1, L2, L3)`` with ``(B, m)``.  The same multifrontal LDLᵀ on a 3-D nested
    dissection, O(n²) per energy.

    Energies and potentials run in parallel threads.  Raises ValueError for a bad
    ``dim``, non-finite or negative V, V identically zero, too few sites, empty input,
    wrong dimensions or mismatched batch shapes.
    """
    dim = check_dim(dim)
    Va = as_potential(V, dim=dim)
    Ea = as_energies(E, Va, dim=dim)
    single = Va.ndim == dim
    E2 = np.ascontiguousarray(np.atleast_2d(Ea))
    if dim >= 2:
        from lnet.physics.multifrontal import count_lattice

        out = count_lattice(np.ascontiguousarray(Va[None] if single else Va), E2)
    else:
        V2 = np.ascontiguousarray(np.atleast_2d(Va))
        out = np.empty(E2.shape, dtype=np.int64)
        start_numba_threads()
        _count_batch(V2, E2, out)
    return out[0] if single else out
