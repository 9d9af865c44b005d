"""Dense front elimination for the multifrontal counter (:mod:`lnet.physics.multifrontal`).

:func:`_front` eliminates a front's panel with rook-pivoted 1×1 and 2×2 pivots under a
threshold test, delaying what fails it (the MUMPS scheme, described in the counter's
module docstring); :func:`_root_inertia` factorises a large root front with LAPACK's
blocked Bunch–Kaufman ``dsytrf`` instead.  Both count the non-positive pivots and write
the per-factorisation statistics ``st`` ``(NSTATS,)`` (columns ``PIV1`` ... ``NONFINITE``).
"""

from __future__ import annotations

import math

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

# LAPACK's dsytrf, called from the compiled kernels by symbol name (a ctypes pointer
# would make them uncacheable): SciPy's own LAPACK, the one numpy and numba use
llvm.add_symbol("lnet_dsytrf", get_cython_function_address("scipy.linalg.cython_lapack", "dsytrf"))
_dsytrf = types.ExternalFunction("lnet_dsytrf", types.void(*[types.voidptr] * 8))
LAPACK_ROOT = 512  # root fronts of at least this many rows go to LAPACK (3-D from 16³)

U = 0.1  # threshold-pivoting parameter (MUMPS uses 0.01; smaller growth here, delays are cheap)

# columns of the per-(potential, energy) statistics every factorisation writes
PIV1, PIV2, DELAYED, LIVE_ROOT, NONFINITE = range(5)
NSTATS = 5


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
def _root_inertia(F, st):
    """Non-positive eigenvalues of the dense symmetric root front F ``(f, f)``, by LAPACK.

    ``dsytrf`` (Bunch–Kaufman diagonal pivoting, blocked: BLAS-3) factorises
    F = L D Lᵀ with D of 1×1 and 2×2 blocks; the count is read from D as in
    :func:`_front`, and ``st`` gets the pivots.  Bunch–Kaufman is normwise backward
    stable (Higham 1997), the property the count's exactness rests on.  A non-finite
    entry of F sets ``st[NONFINITE]`` before LAPACK sees it.
    """
    f = F.shape[0]
    for i in range(f):
        for j in range(f):
            if not math.isfinite(F[i, j]):
                st[NONFINITE] = 1
                return 0
    uplo = np.array([76], dtype=np.uint8)  # "L": Fortran's lower triangle, C's upper
    dims = np.array([f], dtype=np.int32)
    ipiv = np.empty(f, dtype=np.int32)
    lwork = np.array([64 * f], dtype=np.int32)
    work = np.empty(64 * f)
    info = np.zeros(1, dtype=np.int32)
    _dsytrf(
        uplo.ctypes,
        dims.ctypes,
        F.ctypes,
        dims.ctypes,
        ipiv.ctypes,
        work.ctypes,
        lwork.ctypes,
        info.ctypes,
    )
    count = 0
    k = 0
    while k < f:
        if ipiv[k] > 0:  # 1×1 block D[k, k] (info > 0 flags an exactly zero one: counted)
            d = F[k, k]
            if not math.isfinite(d):
                st[NONFINITE] = 1
                return count
            st[PIV1] += 1
            if d <= 0.0:
                count += 1
            k += 1
        else:  # 2×2 block; Fortran's A(k+1, k) is C's F[k, k+1]
            a_, b_, c_ = F[k, k], F[k, k + 1], F[k + 1, k + 1]
            det = a_ * c_ - b_ * b_
            if not (math.isfinite(det) and math.isfinite(a_ + c_)):
                st[NONFINITE] = 1
                return count
            st[PIV2] += 1
            if det < 0.0:
                count += 1
            elif det == 0.0:  # eigenvalues 0 and a + c
                count += 1 if a_ + c_ > 0.0 else 2
            elif a_ + c_ < 0.0:
                count += 2
            k += 2
    return count
