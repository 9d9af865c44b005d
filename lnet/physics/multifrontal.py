"""Exact eigenvalue counting on the periodic 2-D and 3-D lattices by Sylvester inertia.

H = -Δ + V with the (2d+1)-point Laplacian on the L1×…×Ld torus, d = 2 or 3:
(Hψ)(x) = 2d·ψ(x) - Σ_{|y-x|=1} ψ(y) + V(x)ψ(x), indices mod the sides, sites as flat
C-order indices.  N_V(E) = #{eigenvalues of H <= E} is the number of non-positive
pivots of a symmetric block factorisation P (H - E) Pᵀ = L D Lᵀ with L unit lower
triangular and D block diagonal (1×1 and 2×2 blocks): by Sylvester's law of inertia D
and H - E have the same inertia.

Why a hand-written factorisation (numba), not a library.  scipy's only sparse direct
solver is SuperLU, an LU code: with diagonal pivoting forced it gives a congruence
but no symmetric pivoting, so a tiny pivot (an energy that is an eigenvalue of some
sub-block, which exact binary energies and constant potentials hit exactly) corrupts
the count; and it refactorises from scratch, 17 ms per energy at 64×64 on the
project's 2-core machine, about the cost of dense ``eigvalsh`` per 100 energies / 4.
MUMPS and Pardiso do symmetric indefinite LDLᵀ with inertia, but python-mumps's only
wheel (0.0.2) is built against NumPy 1 and fails to import under NumPy 2, and
pypardiso needs the whole of MKL.  The lattice is fixed, so the symbolic work is done
once per shape and cached:

1. **Ordering: geometric nested dissection of the torus** (:mod:`~lnet.physics.dissection`).
   Work O(n^{3/2}) per energy in 2-D and O(n²) in 3-D, the optima for grids.
2. **Numeric: multifrontal LDLᵀ with threshold pivoting and delayed pivots** (the
   MUMPS scheme).  Each tree node's front holds its own sites J, the pivots its
   children could not eliminate, and its boundary B (sites of ancestor separators
   next to its subtree).  Its sites are eliminated with symmetric rook pivoting inside
   the front: a 1×1 pivot d is taken only when |d| >= u · (largest other entry of its
   column), a 2×2 pivot only when its inverse keeps the update below 1/u times the
   column entries, so every entry grows by a bounded factor per step (u = ``U``).  A
   site that passes neither test is *delayed*: passed to the parent front instead of
   being divided by.  The Schur complement on the boundary is one BLAS product.  At
   the root nothing can be delayed, and rook pivoting with u <= 1/2 always finds an
   admissible pivot there (the Bunch–Kaufman argument); an exactly zero column is an
   exact zero eigenvalue of the remaining Schur complement.
3. Pivots <= 0 (and one or two per 2×2 block, read from its determinant and trace)
   are counted.  An exactly singular pivot counts as an eigenvalue at E, as in 1-D.
4. **Invariants, checked on every call.**  The 1×1 pivots plus twice the 2×2 pivots
   must number n = L1·…·Ld, no row may be left live at the root, and every pivot must
   be finite; otherwise :class:`~lnet.physics.dissection.CountingError` names the
   lattice and the energy (a NaN is never admissible as a pivot, so without this
   check it would be delayed up to the root and the count would come out too low,
   silently).  ``symbolic`` checks once per shape that every front can be assembled
   (:func:`~lnet.physics.dissection.check_tree`).  :func:`factor_stats` reports the
   pivot kinds and delays of the same run.

With bounded growth the computed factors are those of H - E + Δ with ‖Δ‖ a small
multiple of ε ‖H - E‖, so the count is exact unless an eigenvalue lies within
round-off of E, the same limit as dense LAPACK's own eigenvalues.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from lnet.physics.blas import blas_threads
from lnet.physics.dissection import CountingError, symbolic
from lnet.physics.fronts import (
    DELAYED,
    LAPACK_ROOT,
    LIVE_ROOT,
    NONFINITE,
    NSTATS,
    PIV1,
    PIV2,
    U,
    _front,
    _root_inertia,
)
from lnet.physics.threads import run_ranges, start_numba_threads

__all__ = ["CountingError", "count_lattice", "factor_stats"]


@numba.njit(cache=True, nogil=True)
def _count_one(V, e, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, lapack_min, st):
    """N_V(e) for one flat potential V ``(n,)``; ``st`` ``(NSTATS,)`` gets the pivot statistics."""
    n = V.shape[0]
    deg = nb.shape[1]  # 2·d neighbour slots: the Laplacian's diagonal
    pos = np.full(n, -1, dtype=np.int64)
    ids_stack = [np.empty(0, dtype=np.int64)]
    upd_stack = [np.empty((0, 0))]
    del_stack = [0]
    ids_stack.pop()
    upd_stack.pop()
    del_stack.pop()
    count = 0
    nodes = nchild.shape[0]
    for t in range(nodes):
        kids = nchild[t]
        top = len(ids_stack) - kids
        nJ = j_ptr[t + 1] - j_ptr[t]
        nB = b_ptr[t + 1] - b_ptr[t]
        ndel = 0
        for c in range(top, top + kids):
            ndel += del_stack[c]
        nP = nJ + ndel
        f = nP + nB
        ids = np.empty(f, dtype=np.int64)
        ids[:nJ] = j_idx[j_ptr[t] : j_ptr[t + 1]]
        w = nJ
        for c in range(top, top + kids):
            dc = del_stack[c]
            ids[w : w + dc] = ids_stack[c][:dc]
            w += dc
        ids[nP:] = b_idx[b_ptr[t] : b_ptr[t + 1]]
        for a in range(f):
            pos[ids[a]] = a
        F = np.zeros((f, f))
        for a in range(nJ):
            i = ids[a]
            F[a, a] += deg + V[i] - e
            for r in range(deg):
                pj = pos[nb[i, r]]
                if pj < 0 or (nJ <= pj < nP):
                    continue  # eliminated below, or a delayed pivot: assembled below
                F[a, pj] -= 1.0
                if pj >= nP:
                    F[pj, a] -= 1.0
        for c in range(top, top + kids):
            cid = ids_stack[c]
            Uc = upd_stack[c]
            m = cid.shape[0]
            pc = np.empty(m, dtype=np.int64)
            for a in range(m):
                pc[a] = pos[cid[a]]
            for a in range(m):
                for b in range(m):
                    F[pc[a], pc[b]] += Uc[a, b]
        for _ in range(kids):
            ids_stack.pop()
            upd_stack.pop()
            del_stack.pop()
        if t == nodes - 1 and nP >= lapack_min:  # a large root: LAPACK's blocked LDLᵀ
            return count + _root_inertia(F, st)
        Ct = np.empty((nP, nB))
        Yt = np.empty((nP, nB))
        neg, k, live, nlive = _front(F, nP, f, u, Ct, Yt, st)
        count += neg
        if st[NONFINITE]:
            return count
        if t == nodes - 1:
            st[LIVE_ROOT] = nlive
        else:
            st[DELAYED] += nlive
        for a in range(f):
            pos[ids[a]] = -1
        r = nlive + nB
        out_ids = np.empty(r, dtype=np.int64)
        upd = np.empty((r, r))
        for a in range(nlive):
            out_ids[a] = ids[live[a]]
            for b in range(nlive):
                upd[a, b] = F[live[a], live[b]]
            for b in range(nB):
                upd[a, nlive + b] = F[live[a], nP + b]
                upd[nlive + b, a] = F[live[a], nP + b]
        out_ids[nlive:] = ids[nP:]
        bb = np.ascontiguousarray(F[nP:, nP:])
        if k > 0 and nB > 0:
            bb -= np.dot(Yt[:k].T, Ct[:k])
        upd[nlive:, nlive:] = bb
        ids_stack.append(out_ids)
        upd_stack.append(upd)
        del_stack.append(nlive)
    return count


@numba.njit(cache=True, nogil=True)
def _count_task(V, E, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, lapack_min, out, stats, task):
    m = E.shape[1]
    b = task // m
    j = task - b * m
    v = V[b]
    e = E[b, j]
    st = stats[b, j]
    st[:] = 0
    lo = v.min()
    hi = v.max() + 2.0 * nb.shape[1]
    # spec(H) ⊂ [min V, max V + 4d] (0 <= -Δ <= 4d): far outside, the count is known
    # and the factorisation would only overflow (H - E is then diagonally dominant:
    # n positive or n negative 1×1 pivots)
    if e < lo - 1.0 - abs(lo):
        out[b, j] = 0
        st[PIV1] = v.shape[0]
    elif e > 2.0 * hi + 1.0:
        out[b, j] = v.shape[0]
        st[PIV1] = v.shape[0]
    else:
        out[b, j] = _count_one(v, e, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, lapack_min, st)


@numba.njit(cache=True, nogil=True)
def _count_range(
    V, E, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, lapack_min, out, stats, start, stop
):
    """Tasks start..stop-1 of :func:`_count_task` (one thread's share, see run_ranges)."""
    for task in range(start, stop):
        _count_task(V, E, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, lapack_min, out, stats, task)


# below this many site^{3/2}·energies a call runs on one thread: waking numba's thread
# pool costs milliseconds on a busy machine, more than a small count itself
SERIAL_WORK = 2e5  # about 6 energies at 32×32


def _factorise(V: np.ndarray, E: np.ndarray, lapack_min: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``(B, m)`` and statistics ``(B, m, NSTATS)`` of V ``(B, L1, …, Ld)``, E ``(B, m)``.

    Raises :class:`CountingError` for the first (potential, energy) whose
    factorisation broke an invariant (see :func:`_check_stats`).
    """
    B, shape = V.shape[0], tuple(int(L) for L in V.shape[1:])
    n = math.prod(shape)
    sym = symbolic(shape)
    flatV = np.ascontiguousarray(V.reshape(B, n), dtype=np.float64)
    Ec = np.ascontiguousarray(E, dtype=np.float64)
    out = np.empty(Ec.shape, dtype=np.int64)
    stats = np.empty((*Ec.shape, NSTATS), dtype=np.int64)
    # the fronts' BLAS products run inside the tasks' threads: a threaded BLAS on top
    # would oversubscribe the cores (measured 8× slower at 64×64 on 2 cores); fewer
    # tasks than threads leave the spare threads to BLAS (one large 3-D energy)
    work = Ec.size * float(n) ** (1.5 if len(shape) == 2 else 2.0)  # nested dissection
    start_numba_threads()
    blas_limit = max(1, numba.get_num_threads() // Ec.size)
    with blas_threads(blas_limit):
        if work < SERIAL_WORK:
            _count_range(flatV, Ec, *sym, U, lapack_min, out, stats, 0, Ec.size)
        else:
            run_ranges(_count_range, Ec.size, flatV, Ec, *sym, U, lapack_min, out, stats)
    _check_stats(stats, Ec, shape)
    return out, stats


def _check_stats(stats: np.ndarray, E: np.ndarray, shape: tuple[int, ...]) -> None:
    """Raise :class:`CountingError` unless every factorisation eliminated all n sites.

    For each (b, j): pivots ``PIV1 + 2·PIV2 == n = L1·…·Ld``, no row live at the root and
    no non-finite pivot.  The first failure is named by its lattice, energy and
    (potential, energy) index, with the number of further failures.
    """
    n = math.prod(shape)
    eliminated = stats[..., PIV1] + 2 * stats[..., PIV2]
    ok = (eliminated == n) & (stats[..., LIVE_ROOT] == 0) & (stats[..., NONFINITE] == 0)
    if ok.all():
        return
    bad = np.argwhere(~ok)
    b, j = (int(i) for i in bad[0])
    st = stats[b, j]
    if st[NONFINITE]:
        what = (
            f"a pivot of the LDLᵀ factorisation of H - E is NaN or inf after "
            f"{eliminated[b, j]} of {n} eliminations (H - E must be finite)"
        )
    else:
        what = (
            f"{eliminated[b, j]} of {n} sites eliminated, {st[LIVE_ROOT]} left live at the "
            "root front (a NaN in H - E, or a broken elimination tree)"
        )
    where = f"; first at V[{b}], E[{b}, {j}]"
    if len(bad) > 1:
        where += f", and {len(bad) - 1} more (potential, energy) pairs failed"
    raise CountingError(shape, what + where, energy=E[b, j])


def count_lattice(V: np.ndarray, E: np.ndarray, lapack_root: int = LAPACK_ROOT) -> np.ndarray:
    """Exact N_V(E) on the 2-D or 3-D torus for validated input.

    V ``(B, L1, L2)`` or ``(B, L1, L2, L3)`` float64 (finite, >= 0, every side >= 2) and
    E ``(B, m)`` float64 -> ``(B, m)`` int64.  Potentials × energies run in parallel
    threads.  Raises :class:`CountingError` (naming the lattice and E) if a
    factorisation left a site uneliminated or met a NaN/inf pivot, rather than return
    a wrong count.  A root front of at least ``lapack_root`` rows is factorised by
    LAPACK (:func:`_root_inertia`), a smaller one like the other fronts.
    """
    return _factorise(V, E, lapack_root)[0]


def factor_stats(
    V: np.ndarray, E: np.ndarray, lapack_root: int = LAPACK_ROOT
) -> dict[str, np.ndarray]:
    """Diagnostics of the factorisations behind ``count_lattice(V, E)`` (same shapes, same run).

    Returns int64 arrays ``(B, m)``: ``count`` N_V(E); ``pivots_1x1`` and ``pivots_2x2``
    the pivots taken (``pivots_1x1 + 2·pivots_2x2 == n``); ``delayed`` the rows passed
    from a front to its parent, summed over fronts (a row delayed twice counts twice).
    An energy outside [min V - 1 - |min V|, 2 (max V + 4d) + 1] is not factorised (the
    count is known) and reports n 1×1 pivots.
    """
    out, stats = _factorise(V, E, lapack_root)
    return {
        "count": out,
        "pivots_1x1": stats[..., PIV1],
        "pivots_2x2": stats[..., PIV2],
        "delayed": stats[..., DELAYED],
    }
