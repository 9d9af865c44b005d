"""Exact eigenvalue counting on the periodic L1×L2 lattice by Sylvester inertia.

(Hψ)(x, y) = 4ψ(x, y) - ψ(x±1, y) - ψ(x, y±1) + V(x, y)ψ(x, y), indices mod (L1, L2),
site (x, y) at flat index x·L2 + y.  N_V(E) = #{eigenvalues of H <= E} is the number
of non-positive pivots of a symmetric block factorisation P (H - E) Pᵀ = L D Lᵀ with L
unit lower triangular and D block diagonal (1×1 and 2×2 blocks): by Sylvester's law
of inertia D and H - E have the same inertia.

Why a hand-written factorisation (numba), not a library.  scipy's only sparse direct
solver is SuperLU, an LU code: with diagonal pivoting forced it gives a congruence
but no symmetric pivoting, so a tiny pivot (an energy that is an eigenvalue of some
sub-block, which exact binary energies and constant potentials hit exactly) corrupts
the count; and it refactorises from scratch, 17 ms per energy at 64×64 on the
project's 2-core machine, about the cost of dense ``eigvalsh`` per 100 energies / 4.
MUMPS and Pardiso do symmetric indefinite LDLᵀ with inertia, but python-mumps's wheel
is built against NumPy 1 and pypardiso needs the whole of MKL.  The lattice is fixed,
so the symbolic work is done once per (L1, L2) and cached:

1. **Ordering: geometric nested dissection of the torus.**  The root separator is
   row 0 ∪ column 0 (L1 + L2 - 1 sites), which cuts the torus into an open
   (L1 - 1)×(L2 - 1) rectangle; rectangles are split across their longer side by a
   middle line, down to leaves of at most ``LEAF`` sites.  Fill O(n log n), work
   O(n^{3/2}) per energy, the optimum for 2-D grids.
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
   must number n = L1·L2, no row may be left live at the root, and every pivot must be
   finite; otherwise :class:`CountingError` names the lattice and the energy (a NaN
   is never admissible as a pivot, so without this check it would be delayed up to
   the root and the count would come out too low, silently).  ``symbolic`` checks
   once per shape that every front can be assembled (:func:`check_tree`).
   :func:`factor_stats` reports the pivot kinds and delays of the same run.

With bounded growth the computed factors are those of H - E + Δ with ‖Δ‖ a small
multiple of ε ‖H - E‖, so the count is exact unless an eigenvalue lies within
round-off of E, the same limit as dense LAPACK's own eigenvalues.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from lnet.physics.threads import run_ranges

LEAF = 16  # sites per leaf rectangle of the dissection
U = 0.1  # threshold-pivoting parameter (MUMPS uses 0.01; smaller growth here, delays are cheap)

# columns of the per-(potential, energy) statistics every factorisation writes
PIV1, PIV2, DELAYED, LIVE_ROOT, NONFINITE = range(5)
NSTATS = 5


class CountingError(RuntimeError):
    """The 2-D counter broke one of its own invariants: the count would be wrong.

    The message reads ``2-D count on the L1×L2 torus[ at E = e]: <what failed>``;
    ``shape`` is ``(L1, L2)`` and ``energy`` is E (None for a symbolic failure).
    """

    def __init__(self, shape: tuple[int, int], message: str, energy: float | None = None) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.energy = None if energy is None else float(energy)
        self.detail = message
        at = "" if energy is None else f" at E = {self.energy!r}"
        super().__init__(f"2-D count on the {shape[0]}×{shape[1]} torus{at}: {message}")

    def __reduce__(self) -> tuple:
        # picklable across process pools (the default would call __init__(full message))
        return type(self), (self.shape, self.detail, self.energy)


@functools.lru_cache(maxsize=32)
def symbolic(L1: int, L2: int) -> tuple[np.ndarray, ...]:
    """Nested-dissection tree of the L1×L2 torus, in postorder (children first, root last).

    Returns ``(nb, j_ptr, j_idx, b_ptr, b_idx, nchild)``: ``nb`` ``(n, 4)`` the four
    neighbours of every site (repeated when a side is 2); node t eliminates the sites
    ``j_idx[j_ptr[t]:j_ptr[t+1]]``, its boundary is ``b_idx[b_ptr[t]:b_ptr[t+1]]`` and its
    children are the ``nchild[t]`` subtrees processed just before it.
    """
    n = L1 * L2
    x, y = np.divmod(np.arange(n, dtype=np.int64), L2)
    nb = np.stack(
        [
            ((x + 1) % L1) * L2 + y,
            ((x - 1) % L1) * L2 + y,
            x * L2 + (y + 1) % L2,
            x * L2 + (y - 1) % L2,
        ],
        axis=1,
    )
    sites: list[np.ndarray] = []
    nchild: list[int] = []

    def rect(x0: int, x1: int, y0: int, y1: int) -> int:
        """Dissect [x0, x1)×[y0, y1); returns 1 if it made a node, 0 if empty."""
        h, w = x1 - x0, y1 - y0
        if h <= 0 or w <= 0:
            return 0
        if h * w <= LEAF:
            cells = np.arange(x0, x1)[:, None] * L2 + np.arange(y0, y1)[None, :]
            sites.append(cells.ravel().astype(np.int64))
            nchild.append(0)
            return 1
        if h >= w:
            xm = (x0 + x1) // 2
            k = rect(x0, xm, y0, y1) + rect(xm + 1, x1, y0, y1)
            sep = xm * L2 + np.arange(y0, y1)
        else:
            ym = (y0 + y1) // 2
            k = rect(x0, x1, y0, ym) + rect(x0, x1, ym + 1, y1)
            sep = np.arange(x0, x1) * L2 + ym
        sites.append(sep.astype(np.int64))
        nchild.append(k)
        return 1

    top = rect(1, L1, 1, L2)
    sites.append(np.concatenate([np.arange(L2), np.arange(1, L1) * L2]).astype(np.int64))
    nchild.append(top)

    # boundary of each subtree's region: neighbours outside it (all in ancestor separators)
    bounds: list[np.ndarray] = []
    regions: list[np.ndarray] = []
    for t, J in enumerate(sites):
        k = nchild[t]
        parts = [J] + regions[len(regions) - k :] if k else [J]
        if k:
            del regions[len(regions) - k :]
        region = np.concatenate(parts)
        regions.append(region)
        inside = np.zeros(n, dtype=bool)
        inside[region] = True
        around = np.unique(nb[region].ravel())
        bounds.append(around[~inside[around]])
    assert len(regions) == 1 and regions[0].size == n

    def flat(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        ptr = np.zeros(len(arrays) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([a.size for a in arrays])
        return ptr, np.concatenate(arrays).astype(np.int64)

    j_ptr, j_idx = flat(sites)
    b_ptr, b_idx = flat(bounds)
    out = (nb, j_ptr, j_idx, b_ptr, b_idx, np.array(nchild, dtype=np.int64))
    check_tree(L1, L2, *out)
    for a in out:
        a.setflags(write=False)
    return out


def check_tree(
    L1: int,
    L2: int,
    nb: np.ndarray,
    j_ptr: np.ndarray,
    j_idx: np.ndarray,
    b_ptr: np.ndarray,
    b_idx: np.ndarray,
    nchild: np.ndarray,
) -> None:
    """Raise :class:`CountingError` unless the tree ``symbolic`` returns can be factorised.

    With T nodes in postorder, node t's front is ``J_t ∪ (children's delays) ∪ B_t``.
    The numeric phase relies on, and this checks, in O(n log n):

    * every site is eliminated by exactly one node, and the nodes form one tree;
    * ``B_t`` holds no site eliminated in t's subtree (nodes ``first_t .. t``);
    * every neighbour of ``J_t`` is eliminated in t's subtree or lies in ``B_t``
      (no coupling of H is dropped);
    * every child's boundary maps into its parent's front: the index of each site in
      ``J_t ⧺ B_t`` is >= 0 and < |J_t| + |B_t|.  A site outside would be assembled
      into row -1, which numba wraps silently.
    """
    shape = (L1, L2)
    n = L1 * L2
    T = nchild.shape[0]
    nJ = np.diff(j_ptr)
    nB = np.diff(b_ptr)
    if j_idx.shape[0] != n or np.any((j_idx < 0) | (j_idx >= n)):
        raise CountingError(shape, f"the tree eliminates {j_idx.shape[0]} sites, not the {n} sites")
    times = np.bincount(j_idx, minlength=n)
    if np.any(times != 1):
        s = int(np.flatnonzero(times != 1)[0])
        raise CountingError(shape, f"site {s} is eliminated {times[s]} times, not once")
    if np.any((b_idx < 0) | (b_idx >= n)):
        raise CountingError(shape, "a boundary site index is outside 0..n-1")
    node_of = np.empty(n, dtype=np.int64)
    node_of[j_idx] = np.repeat(np.arange(T), nJ)
    pos_j = np.empty(n, dtype=np.int64)  # position of a site in its own node's J
    pos_j[j_idx] = np.arange(n) - np.repeat(j_ptr[:-1], nJ)

    first = np.empty(T, dtype=np.int64)  # t's subtree is nodes first[t] .. t (postorder)
    parent = np.full(T, -1, dtype=np.int64)
    stack: list[int] = []
    for t in range(T):
        k = int(nchild[t])
        if k < 0 or k > len(stack):
            raise CountingError(shape, f"node {t} claims {k} children, {len(stack)} are open")
        kids = stack[len(stack) - k :]
        del stack[len(stack) - k :]
        parent[kids] = t
        first[t] = first[kids[0]] if k else t
        stack.append(t)
    if stack != [T - 1] or nB[T - 1] != 0:
        raise CountingError(shape, f"the tree has roots {stack}, not one root with no boundary")

    b_node = np.repeat(np.arange(T), nB)
    below = node_of[b_idx] <= b_node
    if np.any(below):
        i = int(np.flatnonzero(below)[0])
        raise CountingError(
            shape,
            f"boundary site {b_idx[i]} of node {b_node[i]} is eliminated at node "
            f"{node_of[b_idx[i]]}, not at an ancestor",
        )
    # (node, site) -> position in that node's front J ⧺ B, by a sorted key t·n + site
    keys = b_node * n + b_idx
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    twice = np.flatnonzero(np.diff(sorted_keys) == 0)
    if twice.size:
        t, site = divmod(int(sorted_keys[twice[0]]), n)
        raise CountingError(shape, f"boundary site {site} appears twice in node {t}'s boundary")
    b_pos = nJ[b_node] + np.arange(b_idx.shape[0]) - b_ptr[b_node]

    def front_index(t: np.ndarray, site: np.ndarray) -> np.ndarray:
        """Index of ``site`` in node ``t``'s front ``J_t ⧺ B_t``, -1 where absent."""
        idx = np.where(node_of[site] == t, pos_j[site], -1)
        if sorted_keys.size:
            q = t * n + site
            i = np.minimum(np.searchsorted(sorted_keys, q), sorted_keys.size - 1)
            idx = np.where(sorted_keys[i] == q, b_pos[order[i]], idx)
        return idx

    # couplings of J_t: eliminated in t's subtree or in B_t
    t_site = node_of[j_idx]
    for r in range(nb.shape[1]):
        nbr = nb[j_idx, r]
        below = (node_of[nbr] >= first[t_site]) & (node_of[nbr] <= t_site)
        bad = ~below & (front_index(t_site, nbr) < 0)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise CountingError(
                shape,
                f"site {j_idx[i]} of node {t_site[i]} couples to site {nbr[i]}, which is "
                "neither eliminated in its subtree nor on its boundary",
            )
    # every child's boundary inside its parent's front (the root has no boundary)
    child, site = b_node, b_idx
    par = parent[child]
    m = front_index(par, site)
    size = nJ[par] + nB[par]
    bad = (m < 0) | (m >= size)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise CountingError(
            shape,
            f"boundary site {site[i]} of node {child[i]} maps to row {m[i]} of its parent "
            f"node {par[i]}'s front of {size[i]} rows (J ⧺ B): it lies outside the front",
        )


@numba.njit(cache=True, nogil=True)
def _fresh(F, j, upto, St, Ct, k, nP, f):
    """Bring the boundary part of panel row j up to date with pivot steps upto[j]..k-1.

    Boundary parts are updated lazily (left-looking): row j's is
    F[j, B] - Σ_s St[j, s] · Ct[s, B], one BLAS product when it is needed.
    """
    a = upto[j]
    if a < k and f > nP:
        F[j, nP:f] -= np.dot(St[j, a:k], Ct[a:k])
    upto[j] = k


@numba.njit(cache=True, nogil=True)
def _colmax(F, p, live, nlive, nP, f, skip):
    """max |F[p, i]| over live panel rows and all boundary rows, i not p or skip."""
    g = 0.0
    for a in range(nlive):
        i = live[a]
        if i != p and i != skip:
            v = abs(F[p, i])
            if v > g:
                g = v
    for i in range(nP, f):
        v = abs(F[p, i])
        if v > g:
            g = v
    return g


@numba.njit(cache=True, nogil=True)
def _remove(live, nlive, p):
    for a in range(nlive):
        if live[a] == p:
            live[a] = live[nlive - 1]
            return nlive - 1
    return nlive


@numba.njit(cache=True, nogil=True)
def _front(F, nP, f, u, Ct, Yt, st):
    """Eliminate the panel (rows 0..nP-1) of the symmetric front F in place.

    F is stored by rows: row j of a panel variable holds its whole column.  Returns
    (non-positive pivots, number of nonzero pivot columns k, live panel rows, their
    count); Ct[:k] and Yt[:k] hold the eliminated columns' boundary parts c and c·D⁻¹,
    so the boundary's Schur complement is F_BB - Ytᵀ Ct.  On return the live rows are
    up to date in full.  ``st`` ``(NSTATS,)`` counts the 1×1 and 2×2 pivots taken; a
    non-finite pivot sets ``st[NONFINITE]`` and returns at once.
    """
    live = np.arange(nP)
    nlive = nP
    cand = np.ones(nP, dtype=np.bool_)  # live and not yet delayed
    upto = np.zeros(nP, dtype=np.int64)
    St = np.zeros((nP, nP))
    count = 0
    k = 0
    while True:
        p = -1
        best = -1.0
        for a in range(nlive):
            i = live[a]
            if cand[i] and abs(F[i, i]) > best:
                best = abs(F[i, i])
                p = i
        if p < 0:
            break
        start = p
        kind = 0
        q = -1
        for _ in range(nP + 1):
            _fresh(F, p, upto, St, Ct, k, nP, f)
            gp = _colmax(F, p, live, nlive, nP, f, -1)
            if abs(F[p, p]) >= u * gp:
                kind = 1
                break
            q = -1
            bq = 0.0
            for a in range(nlive):
                i = live[a]
                if cand[i] and i != p and abs(F[p, i]) > bq:
                    bq = abs(F[p, i])
                    q = i
            if q < 0:
                break
            _fresh(F, q, upto, St, Ct, k, nP, f)
            gq = _colmax(F, q, live, nlive, nP, f, -1)
            if abs(F[q, q]) >= u * gq:
                p = q
                kind = 1
                break
            a_, b_, c_ = F[p, p], F[p, q], F[q, q]
            det = a_ * c_ - b_ * b_
            gp2 = _colmax(F, p, live, nlive, nP, f, q)
            gq2 = _colmax(F, q, live, nlive, nP, f, p)
            grow = max(abs(c_) * gp2 + abs(b_) * gq2, abs(b_) * gp2 + abs(a_) * gq2)
            if det != 0.0 and u * grow <= abs(det):
                kind = 2
                break
            if gq <= abs(b_):  # rook search settled: no admissible pivot here
                break
            p = q
        if kind == 0:
            # delayed; at the root it stays live (never for finite data and u <= 1/2,
            # see the module docstring) and the caller reports it
            cand[start] = False
            continue
        if kind == 1:
            d = F[p, p]
            if not math.isfinite(d):
                st[NONFINITE] = 1
                return count, k, live, nlive
            st[PIV1] += 1
            if d <= 0.0:
                count += 1
            nlive = _remove(live, nlive, p)
            cand[p] = False
            if d != 0.0:  # d == 0 only for an exactly zero column: nothing to eliminate
                for a in range(nlive):
                    j = live[a]
                    s = F[p, j] / d
                    St[j, k] = s
                    if s != 0.0:
                        for b in range(nlive):
                            i = live[b]
                            F[j, i] -= F[p, i] * s
                for i in range(nP, f):
                    Ct[k, i - nP] = F[p, i]
                    Yt[k, i - nP] = F[p, i] / d
                k += 1
        else:
            a_, b_, c_ = F[p, p], F[p, q], F[q, q]
            det = a_ * c_ - b_ * b_
            if not (math.isfinite(det) and math.isfinite(a_ + c_)):
                st[NONFINITE] = 1
                return count, k, live, nlive
            st[PIV2] += 1
            if det < 0.0:
                count += 1
            elif a_ + c_ < 0.0:
                count += 2
            i00, i01, i11 = c_ / det, -b_ / det, a_ / det
            nlive = _remove(live, nlive, p)
            nlive = _remove(live, nlive, q)
            cand[p] = False
            cand[q] = False
            for a in range(nlive):
                j = live[a]
                s = i00 * F[p, j] + i01 * F[q, j]
                t = i01 * F[p, j] + i11 * F[q, j]
                St[j, k] = s
                St[j, k + 1] = t
                for b in range(nlive):
                    i = live[b]
                    F[j, i] -= F[p, i] * s + F[q, i] * t
            for i in range(nP, f):
                Ct[k, i - nP] = F[p, i]
                Ct[k + 1, i - nP] = F[q, i]
                Yt[k, i - nP] = i00 * F[p, i] + i01 * F[q, i]
                Yt[k + 1, i - nP] = i01 * F[p, i] + i11 * F[q, i]
            k += 2
    for a in range(nlive):
        _fresh(F, live[a], upto, St, Ct, k, nP, f)
    return count, k, live, nlive


@numba.njit(cache=True, nogil=True)
def _count_one(V, e, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, st):
    """N_V(e) for one flat potential V ``(n,)``; ``st`` ``(NSTATS,)`` gets the pivot statistics."""
    n = V.shape[0]
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
            F[a, a] += 4.0 + V[i] - e
            for r in range(4):
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
def _count_task(V, E, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, out, stats, task):
    m = E.shape[1]
    b = task // m
    j = task - b * m
    v = V[b]
    e = E[b, j]
    st = stats[b, j]
    st[:] = 0
    lo = v.min()
    hi = v.max() + 8.0
    # spec(H) ⊂ [min V, max V + 8] (0 <= -Δ <= 8): far outside, the count is known
    # and the factorisation would only overflow (H - E is then diagonally dominant:
    # n positive or n negative 1×1 pivots)
    if e < lo - 1.0 - abs(lo):
        out[b, j] = 0
        st[PIV1] = v.shape[0]
    elif e > 2.0 * hi + 1.0:
        out[b, j] = v.shape[0]
        st[PIV1] = v.shape[0]
    else:
        out[b, j] = _count_one(v, e, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, st)


@numba.njit(cache=True, nogil=True)
def _count_range(V, E, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, out, stats, start, stop):
    """Tasks start..stop-1 of :func:`_count_task` (one thread's share, see run_ranges)."""
    for task in range(start, stop):
        _count_task(V, E, nb, j_ptr, j_idx, b_ptr, b_idx, nchild, u, out, stats, task)


# below this many site^{3/2}·energies a call runs on one thread: waking numba's thread
# pool costs milliseconds on a busy machine, more than a small count itself
SERIAL_WORK = 2e5  # about 6 energies at 32×32


def _factorise(V: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``(B, m)`` and statistics ``(B, m, NSTATS)`` of V ``(B, L1, L2)``, E ``(B, m)``.

    Raises :class:`CountingError` for the first (potential, energy) whose
    factorisation broke an invariant (see :func:`_check_stats`).
    """
    B, L1, L2 = V.shape
    sym = symbolic(int(L1), int(L2))
    flatV = np.ascontiguousarray(V.reshape(B, L1 * L2), dtype=np.float64)
    Ec = np.ascontiguousarray(E, dtype=np.float64)
    out = np.empty(Ec.shape, dtype=np.int64)
    stats = np.empty((*Ec.shape, NSTATS), dtype=np.int64)
    # the fronts' BLAS products run inside numba's threads: a threaded BLAS on top
    # would oversubscribe the cores (measured 8× slower at 64×64 on 2 cores)
    work = Ec.size * float(L1 * L2) ** 1.5
    with threadpool_limits(limits=1, user_api="blas"):
        if work < SERIAL_WORK:
            _count_range(flatV, Ec, *sym, U, out, stats, 0, Ec.size)
        else:
            run_ranges(_count_range, Ec.size, flatV, Ec, *sym, U, out, stats)
    _check_stats(stats, Ec, (int(L1), int(L2)))
    return out, stats


def _check_stats(stats: np.ndarray, E: np.ndarray, shape: tuple[int, int]) -> None:
    """Raise :class:`CountingError` unless every factorisation eliminated all n sites.

    For each (b, j): pivots ``PIV1 + 2·PIV2 == n = L1·L2``, no row live at the root and
    no non-finite pivot.  The first failure is named by its lattice, energy and
    (potential, energy) index, with the number of further failures.
    """
    n = shape[0] * shape[1]
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


def count_2d(V: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Exact N_V(E) on the L1×L2 torus for validated input.

    V ``(B, L1, L2)`` float64 (finite, >= 0, L1, L2 >= 2) and E ``(B, m)`` float64 ->
    ``(B, m)`` int64.  Potentials × energies run in parallel threads.  Raises
    :class:`CountingError` (naming L1×L2 and E) if a factorisation left a site
    uneliminated or met a NaN/inf pivot, rather than return a wrong count.
    """
    return _factorise(V, E)[0]


def factor_stats(V: np.ndarray, E: np.ndarray) -> dict[str, np.ndarray]:
    """Diagnostics of the factorisations behind ``count_2d(V, E)`` (same shapes, same run).

    Returns int64 arrays ``(B, m)``: ``count`` N_V(E); ``pivots_1x1`` and ``pivots_2x2``
    the pivots taken (``pivots_1x1 + 2·pivots_2x2 == L1·L2``); ``delayed`` the rows
    passed from a front to its parent, summed over fronts (a row delayed twice counts
    twice).  An energy outside [min V - 1 - |min V|, 2 (max V + 8) + 1] is not
    factorised (the count is known) and reports n 1×1 pivots.
    """
    out, stats = _factorise(V, E)
    return {
        "count": out,
        "pivots_1x1": stats[..., PIV1],
        "pivots_2x2": stats[..., PIV2],
        "delayed": stats[..., DELAYED],
    }
