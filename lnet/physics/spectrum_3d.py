"""The k lowest eigenvalues in 3-D: shift-invert Lanczos pairs, certified complete.

:func:`_lowest_3d` takes ``k + LANCZOS_PAD`` pairs from ARPACK in shift-invert mode,
checks their residuals, and proves with one exact count (placed in a wide gap above
λ_k, or just below a degenerate level) that no eigenvalue, no copy of a degenerate one,
is missing; a potential that fails any check falls back to the certified brackets of
:mod:`lnet.physics.spectrum`.  Called by :func:`lnet.physics.lowest_eigenvalues`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse.linalg as spla

import lnet.physics.spectrum as spectrum
from lnet.physics.hamiltonian import _hamiltonian_3d, _one_blas_thread

LANCZOS_PAD = 8  # 3-D: extra Lanczos pairs beyond k (room for a gap above λ_k)
RESIDUAL_ATOLS = 64.0  # 3-D: ‖H X - X diag(μ)‖_F may be at most this many round-off floors
GAP_ATOLS = 1e4  # 3-D: the gap holding E* is >= this many round-off floors wide ...
GAP_RTOL = 1e-9  # ... and >= this relative width


def _lanczos_pairs(V: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The k lowest Ritz pairs of one 3-D potential by shift-invert Lanczos, ascending.

    ARPACK on (H - σ)⁻¹ as :func:`spectrum._lanczos_candidates` (σ = min V - 1, tol = 0, fixed
    start vector), with the Ritz vectors.  Returns (μ ``(k,)``, X ``(n, k)``), or None
    when ARPACK fails or converges fewer than k pairs.
    """
    H = _hamiltonian_3d(V)
    n = H.shape[0]
    v0 = np.random.default_rng(0).standard_normal(n)
    ncv = min(n, k + max(20, k // 2))
    try:
        with warnings.catch_warnings(), _one_blas_thread():
            warnings.simplefilter("ignore")
            w, X = spla.eigsh(
                H, k=k, sigma=float(V.min()) - 1.0, which="LM", tol=0.0, v0=v0, ncv=ncv
            )
    except (spla.ArpackNoConvergence, spla.ArpackError, RuntimeError, ValueError):
        return None
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(X))):
        return None
    order = np.argsort(w)
    return w[order], X[:, order]


def _certifying_energy(mu: np.ndarray, k: int, atol: float, delta: float) -> tuple[float, int]:
    """An energy E* and the number i of candidates below it, to be checked by N_V(E*) == i.

    mu: ascending candidates, ``mu.size > k``, each within ``delta`` of a distinct
    eigenvalue.  A gap mu[j] - mu[j-1] is wide when it exceeds
    G = max(GAP_ATOLS atol, GAP_RTOL |mu[j]|) (>> delta, and far beyond the counter's
    round-off).  Above: the first wide gap at j >= k gives E* = its midpoint, i = j;
    N_V(E*) == i then proves mu[:i] are λ_1..λ_i to within delta.  Below, when the
    cluster holding mu[k-1] reaches past the candidates (a degenerate level larger
    than LANCZOS_PAD): its first index c (mu[c] - mu[c-1] wide, or c = 0) gives
    E* = mu[c] - 4 delta, i = c; N_V(E*) == c proves mu[:c] exact to delta as above,
    and λ_{c+1}, ... >= E* while the cluster's candidates stand for at least k - c
    distinct eigenvalues <= mu[k-1] + delta, so each λ_j, c < j <= k, is within
    (cluster width) + 4 delta of mu[j-1].
    """

    def wide(j: int) -> bool:
        return mu[j] - mu[j - 1] > max(GAP_ATOLS * atol, GAP_RTOL * abs(mu[j]))

    for j in range(k, mu.size):
        if wide(j):
            return 0.5 * (mu[j - 1] + mu[j]), j
    c = k - 1
    while c > 0 and not wide(c):
        c -= 1
    return float(mu[c] - 4.0 * delta), c


def _checked_candidates(V: np.ndarray, k: int) -> tuple[np.ndarray, float, int] | None:
    """ARPACK pairs of one 3-D potential that pass the residual test, with E* and i.

    With X the Ritz vectors and M = diag(μ): X orthonormal to 1e-12 and
    δ = ‖H X - X M‖₂ <= RESIDUAL_ATOLS · 8 ε (12 + max V) (Kahan: then the candidates
    stand for distinct eigenvalues of H, each within δ (1 + 1e-12) of its candidate).
    Returns (μ, E*, i) of :func:`_certifying_energy`, or None (ARPACK failed, too few
    pairs, a large residual, n too small for ARPACK).
    """
    n = V.size
    ask = min(n - 2, k + LANCZOS_PAD)
    pairs = _lanczos_pairs(V, ask) if spectrum._use_lanczos(n, k) and ask > k else None
    if pairs is None or pairs[0].size <= k:
        return None
    mu, X = pairs
    atol = float(spectrum._atol_2d(V.max(), spectrum.BAND_3D))
    with _one_blas_thread():
        gram = X.T @ X
        R = _hamiltonian_3d(V) @ X - X * mu
        delta = float(np.linalg.norm(R, 2))
    if np.max(np.abs(gram - np.eye(mu.size))) > 1e-12 or delta > RESIDUAL_ATOLS * atol:
        return None
    return (mu, *_certifying_energy(mu, k, atol, max(delta, atol)))


def _lowest_3d(V: np.ndarray, k: int) -> np.ndarray:
    """The k lowest eigenvalues of every 3-D potential of the batch V ``(B, L1, L2, L3)``.

    Per potential: ARPACK pairs (k + LANCZOS_PAD of them) that pass the residual test
    of :func:`_checked_candidates`, then one call of the exact counter for the whole
    batch at each potential's E* (:func:`_certifying_energy`).  When N_V(E*) equals
    i, the number of candidates below E*, mu[:k] = λ_1..λ_k to within
    δ <= 512 ε (12 + max V) (4 δ for a degenerate level straddling index k).
    Otherwise (a copy of a degenerate level missed, too few converged, a large
    residual, n too small for ARPACK) the potential takes the midpoints of the
    certified brackets (:func:`spectrum.eigenvalue_brackets`), started from the same
    candidates.  Returns ``(B, k)``.
    """
    from lnet.physics.multifrontal import count_lattice

    B = V.shape[0]
    out = np.empty((B, k))
    fallback = []
    mus: list[np.ndarray | None] = [None] * B
    probes: list[tuple[int, np.ndarray, float, int]] = []
    for b in range(B):
        checked = _checked_candidates(V[b], k)
        if checked is None:
            fallback.append(b)
        else:
            probes.append((b, *checked))
            mus[b] = checked[0]
    if probes:
        rows = [b for b, _, _, _ in probes]
        E = np.array([[e_star] for _, _, e_star, _ in probes])
        counts = count_lattice(np.ascontiguousarray(V[rows]), E)[:, 0]
        for (b, mu, _, below), count in zip(probes, counts, strict=True):
            if count == below:
                out[b] = mu[:k]
            else:
                fallback.append(b)
    if fallback:
        fallback.sort()
        have = [mus[b] for b in fallback]
        lo, hi, _ = spectrum._brackets_2d(
            np.ascontiguousarray(V[fallback]),
            k,
            spectrum.RTOL,
            candidates=None if all(mu is None for mu in have) else have,
        )
        out[fallback] = 0.5 * (lo + hi)
    return out
