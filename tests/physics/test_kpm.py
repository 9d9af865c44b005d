"""Kernel polynomial method: N(E) by Chebyshev moments, checked against exact counts."""

import math

import numpy as np
import pytest

from lnet.physics import count_eigenvalues, hamiltonian
from lnet.physics.kpm import (
    KERNELS,
    _rescaling,
    _scaled_operator,
    chebyshev_moments,
    integrated_dos,
    kernel_coefficients,
    kpm_counts,
    lattice_hamiltonian,
    spectral_bounds,
)

# ------------------------------------------------------------------------------ helpers


def circulant_laplacian(L: int) -> np.ndarray:
    """Dense 1-D periodic -Δ: 2I - S₊ - S₋ (side 2: entry -2, side 1: zero matrix)."""
    eye = np.eye(L)
    return 2.0 * eye - np.roll(eye, 1, axis=1) - np.roll(eye, -1, axis=1)


def dense_hamiltonian(V: np.ndarray) -> np.ndarray:
    """Dense -Δ + V as a Kronecker sum of 1-D circulants, row-major sites."""
    shape = V.shape
    n = V.size
    H = np.diag(V.reshape(-1)).astype(float)
    for axis, L in enumerate(shape):
        left = math.prod(shape[:axis])
        right = math.prod(shape[axis + 1 :])
        H += np.kron(np.kron(np.eye(left), circulant_laplacian(L)), np.eye(right))
    assert H.shape == (n, n)
    return H


def scaled(V: np.ndarray, dim: int):
    """2H̃ for one potential, with its rescaling a, b."""
    lo, hi = spectral_bounds(V[None], dim)
    a, b = _rescaling(lo, hi)
    return _scaled_operator(V[None], a, b), a[0], b[0]


def exact_trace_moments(V: np.ndarray, dim: int, moments: int) -> np.ndarray:
    """tr T_k(H̃) through the moment recurrence with √n times the identity basis."""
    H2, _, _ = scaled(V, dim)
    n = V.size
    return chebyshev_moments(H2, math.sqrt(n) * np.eye(n), moments, 1)[0]


def bulk_errors(V, dim, seed, moments=1000, vectors=16, m=200):
    """Relative and normalised errors of kpm_counts against exact counts at energies
    whose exact count lies in the bulk, 10 % … 90 % of n."""
    n = V.size
    lo, hi = (x[0] for x in spectral_bounds(V[None], dim))
    E = np.random.default_rng(seed + 100).uniform(lo, hi, 4 * m)
    exact = count_eigenvalues(V, E, dim=dim)
    keep = (exact >= 0.1 * n) & (exact <= 0.9 * n)
    E, exact = E[keep][:m], exact[keep][:m]
    N = kpm_counts(V, E, moments=moments, vectors=vectors, seed=seed, dim=dim)
    rel = np.abs(N - exact) / exact
    # the stochastic trace's standard deviation is below √(2N/R)
    normalised = np.abs(N - exact) / np.sqrt(2.0 * exact / vectors)
    return rel.mean(), normalised.mean()


# ------------------------------------------------------------------------------ the matrix


@pytest.mark.parametrize("n", [3, 4, 5, 8])
def test_matrix_matches_library_1d(n, rng):
    V = rng.random(n)
    H = lattice_hamiltonian(V)
    assert H.format == "csr" and H.has_canonical_format
    np.testing.assert_array_equal(H.toarray(), hamiltonian(V).toarray())
    np.testing.assert_allclose(H.toarray(), dense_hamiltonian(V), rtol=0, atol=1e-14)


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (2, 5), (4, 5)])
def test_matrix_matches_library_2d(shape, rng):
    V = rng.random(shape)
    H = lattice_hamiltonian(V)
    np.testing.assert_array_equal(H.toarray(), hamiltonian(V, dim=2).toarray())
    np.testing.assert_allclose(H.toarray(), dense_hamiltonian(V), rtol=0, atol=1e-14)


def test_side_two_and_side_one():
    # side 2: the two neighbours along the axis are one site, entry -2
    H = lattice_hamiltonian(np.array([1.0, 2.0])).toarray()
    np.testing.assert_array_equal(H, [[3.0, -2.0], [-2.0, 4.0]])
    H = lattice_hamiltonian(np.array([[1.0, 2.0], [3.0, 4.0]])).toarray()
    np.testing.assert_array_equal(
        H, hamiltonian(np.array([[1.0, 2.0], [3.0, 4.0]]), dim=2).toarray()
    )
    assert H[0, 1] == -2.0 and H[0, 2] == -2.0 and H[0, 3] == 0.0
    # side 1: the axis contributes nothing (a 1 × L torus is the L-ring)
    V = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(
        lattice_hamiltonian(V.reshape(1, 5)).toarray(), hamiltonian(V).toarray()
    )
    np.testing.assert_array_equal(lattice_hamiltonian(np.array([7.0])).toarray(), [[7.0]])


@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 3, 4), (3, 3, 3), (1, 3, 2), (4, 1, 5)])
def test_matrix_3d_is_the_kronecker_sum(shape, rng):
    V = rng.random(shape)
    H = lattice_hamiltonian(V)
    np.testing.assert_allclose(H.toarray(), dense_hamiltonian(V), rtol=0, atol=1e-14)
    np.testing.assert_allclose(H @ np.ones(V.size), V.reshape(-1), atol=1e-14)  # -Δ 1 = 0


@pytest.mark.parametrize(
    ("shape", "dim"), [((12,), 1), ((3, 4), 2), ((2, 2), 2), ((2, 3, 2), 3), ((6, 6, 6), 3)]
)
def test_spectral_bounds_hold(shape, dim, rng):
    V = 3.0 * rng.random(shape)
    lam = np.linalg.eigvalsh(dense_hamiltonian(V))
    lo, hi = spectral_bounds(V[None], dim)
    assert lo[0] <= lam[0] and lam[-1] <= hi[0]
    a, b = _rescaling(lo, hi)
    x = (lam - b[0]) / a[0]
    assert x.min() >= -0.99 - 1e-12 and x.max() <= 0.99 + 1e-12


# ----------------------------------------------------------------------------- moments


@pytest.mark.parametrize(("shape", "dim"), [((12,), 1), ((3, 4), 2), ((2, 3, 2), 3)])
@pytest.mark.parametrize("moments", [2, 3, 40, 41])
def test_exact_trace_moments_match_dense(shape, dim, moments, rng):
    """With √n·(identity basis) as the vectors, μ_k = tr T_k(H̃) exactly: recurrence and
    doubling against the dense eigenvalues and the dense matrix recurrence."""
    V = rng.random(shape)
    n = V.size
    H2, a, b = scaled(V, dim)
    mu = exact_trace_moments(V, dim, moments)
    Ht = (dense_hamiltonian(V) - b * np.eye(n)) / a
    np.testing.assert_allclose(0.5 * H2.toarray(), Ht, rtol=0, atol=1e-14)
    x = np.linalg.eigvalsh(Ht)
    k = np.arange(moments)
    from_eigs = np.cos(np.outer(k, np.arccos(x))).sum(axis=1)
    T_prev, T = np.eye(n), Ht.copy()
    from_matrix = [float(n), np.trace(Ht)]
    for _ in range(2, moments):
        T_prev, T = T, 2.0 * Ht @ T - T_prev
        from_matrix.append(np.trace(T))
    np.testing.assert_allclose(mu, from_eigs, rtol=0, atol=1e-11)
    np.testing.assert_allclose(mu, from_matrix[:moments], rtol=0, atol=1e-11)
    assert mu[0] == pytest.approx(n, rel=1e-15)


def test_stochastic_moments_match_dense_quadratic_forms(rng):
    """For any block r: μ_k = (1/R) Σ_r rᵀ T_k(H̃) r, batch blocks independent."""
    Vs = rng.random((2, 3, 4))
    R, M = 5, 33
    r = rng.choice([-1.0, 1.0], size=(12, R))
    lo, hi = spectral_bounds(Vs, 2)
    a, b = _rescaling(lo, hi)
    mu = chebyshev_moments(_scaled_operator(Vs, a, b), np.tile(r, (2, 1)), M, 2)
    for j in range(2):
        Ht = (dense_hamiltonian(Vs[j]) - b[j] * np.eye(12)) / a[j]
        T_prev, T = np.eye(12), Ht.copy()
        want = [np.sum(r * r) / R, np.sum(r * (Ht @ r)) / R]
        for _ in range(2, M):
            T_prev, T = T, 2.0 * Ht @ T - T_prev
            want.append(np.sum(r * (T @ r)) / R)
        np.testing.assert_allclose(mu[j], want, rtol=0, atol=1e-11)
        assert mu[j, 0] == 12.0  # Rademacher: rᵀr = n exactly


def test_kernels():
    for M in (2, 10, 1000):
        for kernel in KERNELS:
            g = kernel_coefficients(kernel, M)
            assert g.shape == (M,) and g[0] == pytest.approx(1.0, abs=1e-14)
            assert np.all(np.diff(g) <= 1e-15) and np.all(g >= -1e-15)
    M = 7
    k = np.arange(M)
    q = np.pi / (M + 1)
    want = ((M - k + 1) * np.cos(q * k) + np.sin(q * k) / np.tan(q)) / (M + 1)
    np.testing.assert_allclose(kernel_coefficients("jackson", M), want, rtol=1e-14)
    np.testing.assert_allclose(
        kernel_coefficients("lorentz", M), np.sinh(4.0 * (1 - k / M)) / np.sinh(4.0), rtol=1e-14
    )


@pytest.mark.parametrize("kernel", KERNELS)
def test_idos_of_exact_moments_resolves_a_small_spectrum(kernel, rng):
    """With exact traces and many moments, N at the midpoints between the eigenvalues of
    a 12-site chain is the exact count (gaps ≫ the kernel width π·a/M)."""
    V = rng.random(12)
    lam = np.linalg.eigvalsh(dense_hamiltonian(V))
    _, a, b = scaled(V, 1)
    M = 4000
    mu = exact_trace_moments(V, 1, M)
    gaps = np.diff(lam) > 0.1
    mids = (0.5 * (lam[:-1] + lam[1:]))[gaps]
    N = integrated_dos(mu[None], kernel_coefficients(kernel, M), ((mids - b) / a)[None])[0]
    exact = np.searchsorted(lam, mids, side="right")
    np.testing.assert_allclose(N, exact, rtol=0, atol=0.02)
    # the closed form: g₀μ₀(1 - θ/π) - (2/π) Σ g_k μ_k sin(kθ)/k, by hand at one energy
    theta = np.arccos((mids[3] - b) / a)
    g = kernel_coefficients(kernel, M)
    k = np.arange(1, M)
    by_hand = g[0] * mu[0] * (1 - theta / np.pi) - 2 / np.pi * np.sum(
        g[1:] * mu[1:] * np.sin(k * theta) / k
    )
    assert N[3] == pytest.approx(by_hand, abs=1e-9)


def test_more_moments_smooth_less(rng):
    """Exact traces, bulk energies of a 200-site chain: the only error left is the kernel
    smoothing, which shrinks with M.  Measured mean |N - N_exact| (counts, Jackson):
    M = 100: 0.40, 400: 0.29, 1600: 0.13."""
    V = rng.random(200)
    _, a, b = scaled(V, 1)
    mu = exact_trace_moments(V, 1, 1600)
    lam = np.linalg.eigvalsh(dense_hamiltonian(V))
    E = np.random.default_rng(1).uniform(lam[20], lam[180], 300)
    exact = count_eigenvalues(V, E)
    errs = []
    for M in (100, 400, 1600):
        N = integrated_dos(mu[None, :M], kernel_coefficients("jackson", M), ((E - b) / a)[None])
        errs.append(np.mean(np.abs(N[0] - exact)))
    assert errs[0] > errs[1] > errs[2]
    assert errs[0] <= 0.6 and errs[1] <= 0.45 and errs[2] <= 0.2


# ---------------------------------------------------------------------- against exact counts


@pytest.mark.parametrize(
    ("shape", "dim", "max_rel"),
    [((400,), 1, 0.03), ((2000,), 1, 0.012), ((32, 32), 2, 0.02)],
)
def test_bulk_accuracy_against_exact_counts(shape, dim, max_rel):
    """M = 1000, R = 16, V uniform in [0, 1), 200 energies with exact N in 10-90 % of n.

    Measured mean relative error over 3 potentials (seeds 0, 1, 2): n = 400: 1.8 %
    (1.1, 2.7, 1.6), n = 2000: 0.57 % (0.24, 0.89, 0.58), 32×32: 0.98 % (0.80, 1.84,
    0.31); the bounds leave a margin of about 1.7-2×.  The error over √(2N/R) averages
    0.61, 0.47, 0.55 (the stochastic trace's standard deviation is below √(2N/R)).
    """
    rels, norms = [], []
    for seed in range(3):
        V = np.random.default_rng(seed).random(shape)
        rel, normalised = bulk_errors(V, dim, seed)
        rels.append(rel)
        norms.append(normalised)
    assert np.mean(rels) <= max_rel
    assert np.mean(norms) <= 1.0


def test_more_vectors_shrink_the_error():
    """Stochastic error ∝ 1/√R: R = 2 → 64 should cut it by ≈ √32 ≈ 5.7 (n = 2000);
    measured mean relative error 1.11 % → 0.26 % (factor 4.2)."""
    few, many = [], []
    for seed in range(3):
        V = np.random.default_rng(seed).random(2000)
        few.append(bulk_errors(V, 1, seed, vectors=2, m=100)[0])
        many.append(bulk_errors(V, 1, seed, vectors=64, m=100)[0])
    assert np.mean(many) < np.mean(few) / 2.5


def test_3d_within_the_smoothing():
    """6×6×6 torus against dense eigvalsh of the 3-D H.

    Exact traces: |N_KPM(E) - N(E)| is bounded by the number of eigenvalues within a
    few kernel widths δ = π·a/M of E (plus half a level).  Stochastic (R = 32): mean
    relative error in the bulk measured 1.5 % (seeds 0-4: 1.5, 1.3, 0.6, 2.5, 1.3 %).
    """
    rng = np.random.default_rng(5)
    V = rng.random((6, 6, 6))
    n = V.size
    lam = np.linalg.eigvalsh(dense_hamiltonian(V))
    _, a, b = scaled(V, 3)
    M = 1000
    mu = exact_trace_moments(V, 3, M)
    E = np.linspace(lam[0] - 0.5, lam[-1] + 0.5, 400)
    N = np.clip(
        integrated_dos(mu[None], kernel_coefficients("jackson", M), ((E - b) / a)[None])[0], 0, n
    )
    delta = 3.0 * np.pi * a / M  # three kernel widths at the band centre
    below = np.searchsorted(lam, E - delta, side="right")
    above = np.searchsorted(lam, E + delta, side="right")
    assert np.all(N >= below - 0.5) and np.all(N <= above + 0.5)

    bulk = np.linspace(lam[n // 10], lam[9 * n // 10], 100)
    exact = np.searchsorted(lam, bulk, side="right")
    got = kpm_counts(V, bulk, moments=M, vectors=32, seed=0, dim=3)
    assert np.mean(np.abs(got - exact) / exact) <= 0.03
    np.testing.assert_array_equal(kpm_counts(V, [V.min() - 1e-9, 4 * 3 + V.max()], dim=3), [0.0, n])


# ------------------------------------------------------------------------------ properties


@pytest.mark.parametrize("kernel", ["jackson", "lorentz"])
@pytest.mark.parametrize(("shape", "dim"), [((300,), 1), ((16, 16), 2), ((5, 5, 5), 3)])
def test_monotone_with_a_positive_kernel(kernel, shape, dim):
    V = np.random.default_rng(3).random(shape)
    E = np.linspace(-1.0, 4 * dim + 2.0, 5001)
    for M in (50, 1000):
        N = kpm_counts(V, E, moments=M, vectors=4, kernel=kernel, dim=dim)
        assert np.all(np.diff(N) >= -1e-9)
        assert N[0] == 0.0 and N[-1] == V.size


def test_outside_the_bounds_is_exact(rng):
    for shape, dim in [((50,), 1), ((6, 7), 2), ((3, 4, 5), 3)]:
        V = 0.5 + rng.random(shape)  # min V >= 0.5: nothing at or below 0.49
        n = V.size
        hi = 4 * dim + V.max()
        E = np.array([-1e6, -1.0, 0.0, 0.49, V.min() - 1e-12, hi, hi + 1e-9, 1e6])
        N = kpm_counts(V, E, moments=200, vectors=2, kernel="none", dim=dim)
        np.testing.assert_array_equal(N, [0, 0, 0, 0, 0, n, n, n])
        assert N.dtype == np.float64
        inside = kpm_counts(V, np.linspace(-5, hi + 5, 301), moments=50, dim=dim, kernel="none")
        assert inside.min() >= 0.0 and inside.max() <= n  # clipped


def test_reproducible_with_a_seed(rng):
    V = rng.random((8, 8))
    E = np.linspace(0, 9, 50)
    one = kpm_counts(V, E, moments=100, vectors=3, seed=7, dim=2)
    np.testing.assert_array_equal(one, kpm_counts(V, E, moments=100, vectors=3, seed=7, dim=2))
    np.testing.assert_array_equal(
        one, kpm_counts(V, E, moments=100, vectors=3, seed=np.random.default_rng(7), dim=2)
    )
    assert not np.array_equal(one, kpm_counts(V, E, moments=100, vectors=3, seed=8, dim=2))


@pytest.mark.parametrize(("lattice", "dim"), [((40,), 1), ((5, 6), 2), ((3, 4, 2), 3)])
def test_batch_shapes_and_rows(lattice, dim, rng):
    B, m = 3, 7
    Vs = rng.random((B, *lattice))
    E2 = rng.uniform(0, 4 * dim + 1, (B, m))
    kw = dict(moments=64, vectors=3, seed=1, dim=dim)
    batch = kpm_counts(Vs, E2, **kw)
    assert batch.shape == (B, m) and batch.dtype == np.float64
    for j in range(B):  # the same vectors serve every potential: rows are single calls
        single = kpm_counts(Vs[j], E2[j], **kw)
        assert single.shape == (m,)
        np.testing.assert_allclose(batch[j], single, rtol=1e-12, atol=1e-9)
    shared = kpm_counts(Vs, E2[0], **kw)  # E (m,) shared by the batch
    np.testing.assert_allclose(shared, kpm_counts(Vs, np.tile(E2[0], (B, 1)), **kw), rtol=1e-15)
    assert kpm_counts(Vs[0], 1.5, **kw).shape == (1,)  # a scalar energy for one potential


def test_batch_is_chunked(monkeypatch, rng):
    import lnet.physics.kpm as kpm

    Vs = rng.random((5, 30))
    E = np.linspace(0, 5, 11)
    whole = kpm_counts(Vs, E, moments=40, vectors=2)
    monkeypatch.setattr(kpm, "_BLOCK_ELEMENTS", 2 * 30 * 2)  # two potentials per chunk
    monkeypatch.setattr(kpm, "_SIN_ELEMENTS", 3 * 39)  # three energies per sin table
    np.testing.assert_allclose(kpm_counts(Vs, E, moments=40, vectors=2), whole, rtol=1e-12)


# ------------------------------------------------------------------------------- bad input


GOOD_V = np.linspace(0.1, 1.0, 10)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(V=np.r_[np.nan, GOOD_V[1:]]), "V"),
        (dict(V=np.r_[-0.1, GOOD_V[1:]]), "V"),
        (dict(V=np.zeros(10)), "V"),
        (dict(V=np.ones(2)), "V"),
        (dict(V=np.ones((2, 3, 4))), "V"),  # 3 dimensions for dim=1
        (dict(V=np.ones((0, 10))), "V"),
        (dict(V="abc"), "V"),
        (dict(V=np.ones((3, 3)), dim=3), "V"),
        (dict(V=np.ones((3, 1, 3)), dim=3), "V"),
        (dict(V=np.ones((2, 2, 2, 2, 2)), dim=3), "V"),
        (dict(V=-np.ones((2, 2, 2)), dim=3), "V"),
        (dict(V=np.full((2, 2, 2), np.inf), dim=3), "V"),
        (dict(V=np.zeros((2, 3, 3, 3)), dim=3), "V"),
        (dict(V=np.ones((1, 4)), dim=2), "V"),
        (dict(E=[0.5, np.inf]), "E"),
        (dict(E=[]), "E"),
        (dict(E=np.ones((2, 3))), "E"),  # (B, m) for a single potential
        (dict(V=np.ones((2, 10)), E=np.ones((3, 4))), "E"),  # B mismatch
        (dict(V=np.ones((2, 10)), E=np.ones((2, 3, 4))), "E"),
        (dict(E="x"), "E"),
        (dict(moments=1), "moments"),
        (dict(moments=0), "moments"),
        (dict(moments=10.0), "moments"),
        (dict(moments=True), "moments"),
        (dict(vectors=0), "vectors"),
        (dict(vectors=2.5), "vectors"),
        (dict(kernel="gauss"), "kernel"),
        (dict(kernel=None), "kernel"),
        (dict(kernel="Jackson"), "kernel"),
        (dict(seed="abc"), "seed"),
        (dict(seed=-1), "seed"),
        (dict(dim=0), "dim"),
        (dict(dim=4), "dim"),
        (dict(dim=True), "dim"),
        (dict(dim=2.0), "dim"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = dict(V=GOOD_V, E=[0.5, 1.0], moments=20, vectors=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        kpm_counts(**args)
