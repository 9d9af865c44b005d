"""3-D eigenvalues: Lanczos values certified by one count, certified brackets and λ_k,
against dense LAPACK (the dense matrix is built here, never in lnet)."""

import importlib

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from lnet.physics import (
    count_eigenvalues,
    eigenvalue_brackets,
    hamiltonian,
    kth_eigenvalue,
    lowest_eigenvalues,
)
from lnet.physics.spectrum import _brackets_2d
from lnet.physics.spectrum_3d import _certifying_energy

spectrum_module = importlib.import_module("lnet.physics.spectrum")
lanczos_module = importlib.import_module("lnet.physics.spectrum_3d")
EPS = np.finfo(float).eps


def dense(V: np.ndarray) -> np.ndarray:
    """The reference: dense LAPACK eigvalsh (one BLAS thread on the busy 2-core machine)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.eigvalsh(hamiltonian(V, dim=3).toarray())


def atol(V: np.ndarray) -> float:
    """Round-off floor of any method (dense LAPACK's included): ~ ε ‖H‖."""
    return 50 * EPS * (12 + V.max())


def assert_certified(V: np.ndarray, lo: np.ndarray, hi: np.ndarray, rtol: float = 1e-12):
    """N(lo_j) < j <= N(hi_j) by the exact counter, and the width contract."""
    j = np.arange(1, lo.shape[-1] + 1)
    assert np.all(lo < hi)
    assert np.all(count_eigenvalues(V, lo, dim=3) < j)
    assert np.all(count_eigenvalues(V, hi, dim=3) >= j)
    floor = 8 * EPS * (12 + V.max())
    assert np.all(hi - lo <= np.maximum(floor, rtol * np.maximum(np.abs(lo), np.abs(hi))))


def free_levels(shape: tuple[int, int, int], c: float) -> np.ndarray:
    """Eigenvalues of -Δ + c on the torus, with multiplicity, ascending."""
    k = [2 - 2 * np.cos(2 * np.pi * np.arange(L) / L) for L in shape]
    return np.sort((c + k[0][:, None, None] + k[1][None, :, None] + k[2][None, None, :]).ravel())


def zoo(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    out = []
    for shape in [(2, 2, 2), (2, 3, 5), (3, 3, 3), (2, 2, 9), (4, 5, 6), (5, 3, 7), (6, 6, 6)]:
        out.append((f"uniform-{'x'.join(map(str, shape))}", rng.random(shape)))
    out += [
        ("constant-2x2x2", np.full((2, 2, 2), 1.0)),
        ("constant-3x3x3", np.full((3, 3, 3), 0.5)),
        ("constant-4x4x4", np.full((4, 4, 4), 0.37)),
        ("constant-6x6x6", np.full((6, 6, 6), 2.0)),
        ("constant-3x5x7", np.full((3, 5, 7), 0.5)),
        ("tiny-5x6x4", 1e-6 * rng.random((5, 6, 4))),
        ("huge-5x6x4", 1e6 * rng.random((5, 6, 4))),
        ("mixed-5x5x5", 10.0 ** rng.uniform(-6, 6, (5, 5, 5))),
        ("bernoulli-6x6x6", 3.0 * (rng.random((6, 6, 6)) < 0.3) + 1e-3),
        ("single-site-5x5x5", 4.0 * np.eye(1, 125, 62).reshape(5, 5, 5)),
        ("quarters-4x6x5", np.round(4 * rng.random((4, 6, 5))) / 4 + 0.25),
        ("sides-of-2-2x2x16", rng.random((2, 2, 16))),
    ]
    return out


ZOO_3D = zoo(np.random.default_rng(2025))


@pytest.mark.parametrize("name,V", ZOO_3D, ids=[name for name, _ in ZOO_3D])
def test_lowest_match_dense_and_brackets_are_certified(name, V):
    ev = dense(V)
    k = min(V.size, 12)
    got = lowest_eigenvalues(V, k, dim=3)
    assert got.shape == (k,) and np.all(np.diff(got) >= 0)
    np.testing.assert_allclose(got, ev[:k], rtol=1e-10, atol=atol(V))
    lo, hi = eigenvalue_brackets(V, k, dim=3)
    assert lo.shape == hi.shape == (k,)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), ev[:k], rtol=1e-10, atol=atol(V))


@pytest.mark.parametrize(
    "shape",
    [
        (2, 2, 2),
        (2, 3, 3),
        pytest.param((2, 2, 3), marks=pytest.mark.slow),
        pytest.param((3, 3, 2), marks=pytest.mark.slow),
    ],
)
def test_whole_spectrum_of_tiny_lattices(shape, rng):
    for V in (rng.random(shape), np.full(shape, 0.5), 1e6 * rng.random(shape)):
        n = V.size
        lo, hi = eigenvalue_brackets(V, n, dim=3)
        assert_certified(V, lo, hi)
        np.testing.assert_allclose(0.5 * (lo + hi), dense(V), rtol=1e-10, atol=atol(V))
        np.testing.assert_allclose(lowest_eigenvalues(V, n, dim=3), dense(V), atol=atol(V))


@pytest.mark.parametrize("L", [6, pytest.param(8, marks=pytest.mark.slow)])
def test_constant_potential_levels_and_multiplicities(L):
    """V ≡ c on L³: levels c + Σ_i (2 - 2cos(2πj_i/L)), multiplicities up to 48."""
    c = 0.5
    free = free_levels((L, L, L), c)
    V = np.full((L, L, L), c)
    for k in (1, 7, 10, 19, 40):  # inside and at the ends of degenerate levels
        np.testing.assert_allclose(
            lowest_eigenvalues(V, k, dim=3), free[:k], rtol=1e-12, atol=1e-13
        )
    k = 40
    lo, hi = eigenvalue_brackets(V, k, dim=3)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), free[:k], rtol=1e-12, atol=1e-13)
    # the gaps between distinct levels are open; degenerate copies share a closed gap
    closed = hi[:-1] >= lo[1:]
    want_closed = np.isclose(free[: k - 1], free[1:k], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(closed, want_closed)


def test_k20_on_10_cubed_lattice(rng):
    """The dense limit of the fast tier: 1000 sites, k = 20, one count certifies."""
    V = rng.random((10, 10, 10))
    ev = dense(V)
    np.testing.assert_allclose(lowest_eigenvalues(V, 20, dim=3), ev[:20], rtol=1e-10, atol=atol(V))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uniform", "constant", "tiny", "huge", "mixed", "rectangular"])
def test_k60_at_dense_limit_sizes(kind, rng):
    V = {
        "uniform": rng.random((10, 10, 10)),
        "constant": np.full((10, 10, 10), 0.5),  # multiplicities up to 48
        "tiny": 1e-6 * rng.random((10, 10, 10)),
        "huge": 1e6 * rng.random((10, 10, 10)),
        "mixed": 10.0 ** rng.uniform(-6, 6, (10, 10, 10)),
        "rectangular": rng.random((12, 7, 11)),
    }[kind]
    ev = dense(V)
    np.testing.assert_allclose(lowest_eigenvalues(V, 60, dim=3), ev[:60], rtol=1e-10, atol=atol(V))
    lo, hi = eigenvalue_brackets(V, 60, dim=3)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), ev[:60], rtol=1e-10, atol=atol(V))


def test_separable_potential_beyond_dense_sizes(rng):
    """V(x, y, z) = a(x) + b(y) + c(z): spec(H) = sums of the 1-D spectra (exact counter)."""
    a, b, c = rng.random(12), 2 * rng.random(9), rng.random(11)
    V = a[:, None, None] + b[None, :, None] + c[None, None, :]
    ea, eb, ec = lowest_eigenvalues(a, 12), lowest_eigenvalues(b, 9), lowest_eigenvalues(c, 11)
    want = np.sort((ea[:, None, None] + eb[None, :, None] + ec[None, None, :]).ravel())[:25]
    np.testing.assert_allclose(lowest_eigenvalues(V, 25, dim=3), want, rtol=1e-11, atol=1e-12)


# -- the guard against missed copies ----------------------------------------------------


class _Spy:
    """Counts the potentials that fell back to the certified brackets."""

    def __init__(self, monkeypatch):
        self.fallbacks = 0
        original = spectrum_module._brackets_2d

        def spy(V, *args, **kwargs):
            self.fallbacks += V.shape[0]
            return original(V, *args, **kwargs)

        monkeypatch.setattr(spectrum_module, "_brackets_2d", spy)


def _pairs_without(drop):
    original = lanczos_module._lanczos_pairs

    def pairs(V, k):
        mu, X = original(V, k)
        keep = np.setdiff1d(np.arange(mu.size), drop)
        return mu[keep], X[:, keep]

    return pairs


def test_missed_copies_of_a_degenerate_level_are_caught(monkeypatch):
    """Lanczos returning one copy too few (a copy of the 6-fold level 2 dropped): the
    count at E* disagrees and the potential takes the certified brackets."""
    V = np.full((6, 6, 6), 0.5)
    spy = _Spy(monkeypatch)
    monkeypatch.setattr(lanczos_module, "_lanczos_pairs", _pairs_without([3]))
    got = lowest_eigenvalues(V, 12, dim=3)
    np.testing.assert_allclose(got, free_levels(V.shape, 0.5)[:12], rtol=1e-12, atol=1e-13)
    assert spy.fallbacks == 1


def test_a_missed_generic_level_is_caught(monkeypatch, rng):
    V = rng.random((5, 6, 4))
    spy = _Spy(monkeypatch)
    monkeypatch.setattr(lanczos_module, "_lanczos_pairs", _pairs_without([0, 5]))
    np.testing.assert_allclose(lowest_eigenvalues(V, 10, dim=3), dense(V)[:10], atol=atol(V))
    assert spy.fallbacks == 1


@pytest.mark.parametrize("bad", ["shifted", "unnormalised", "failed"])
def test_uncertifiable_pairs_fall_back(bad, monkeypatch, rng):
    """Values off by more than their residual allows, vectors that are not orthonormal,
    or no ARPACK result: the residual test rejects them before any count."""
    V = rng.random((5, 6, 4))
    original = lanczos_module._lanczos_pairs

    def pairs(V, k):
        mu, X = original(V, k)
        if bad == "shifted":
            return mu + 1e-9, X
        if bad == "unnormalised":
            return mu, X * 1.001
        return None

    spy = _Spy(monkeypatch)
    monkeypatch.setattr(lanczos_module, "_lanczos_pairs", pairs)
    np.testing.assert_allclose(lowest_eigenvalues(V, 10, dim=3), dense(V)[:10], atol=atol(V))
    assert spy.fallbacks == 1


def test_good_pairs_need_no_fallback(monkeypatch, rng):
    V = np.stack([rng.random((5, 6, 4)), 1e6 * rng.random((5, 6, 4)), np.full((5, 6, 4), 0.5)])
    spy = _Spy(monkeypatch)
    got = lowest_eigenvalues(V, 10, dim=3)
    assert spy.fallbacks == 0
    for b in range(3):
        np.testing.assert_allclose(got[b], dense(V[b])[:10], rtol=1e-10, atol=atol(V[b]))


def test_certifying_energy_above_a_gap_or_below_a_level():
    atol_ = 1e-15
    # a wide gap at or above index k: E* in it, every candidate below it counted
    mu = np.array([1.0, 2.0, 2.0, 2.0, 3.0, 3.0])
    assert _certifying_energy(mu, 2, atol_, atol_) == (2.5, 4)
    assert _certifying_energy(mu, 4, atol_, atol_) == (2.5, 4)
    assert _certifying_energy(mu, 1, atol_, atol_) == (1.5, 1)
    # the level holding λ_k reaches past the candidates: E* just below that level
    e, i = _certifying_energy(np.array([1.0, 2.0, 2.0, 2.0, 2.0]), 2, atol_, 1e-13)
    assert i == 1 and e == 2.0 - 4e-13
    e, i = _certifying_energy(np.array([2.0, 2.0, 2.0]), 2, atol_, 1e-13)
    assert i == 0 and e == 2.0 - 4e-13
    # copies a few ulps apart are one level, not a gap
    mu = 2.0 + np.array([0.0, 1.0, 3.0, 4.0]) * 4e-16
    assert _certifying_energy(np.append(mu, 5.0), 1, atol_, atol_) == (0.5 * (mu[3] + 5.0), 4)


@pytest.mark.parametrize("wrong", ["missing", "shifted", "garbage", "none"])
def test_bad_bracket_candidates_fall_back_to_the_counter(wrong, monkeypatch, rng):
    """The certified brackets never trust their Lanczos candidates either."""
    fake = {
        "missing": lambda V, k: np.delete(dense(V)[:k], [0, 3, k // 2]),
        "shifted": lambda V, k: dense(V)[:k] + 1e-9,
        "garbage": lambda V, k: np.sort(np.random.default_rng(2).uniform(0, 18, k)),
        "none": lambda V, k: None,
    }[wrong]
    monkeypatch.setattr(spectrum_module, "_lanczos_candidates", fake)
    for V in (rng.random((4, 5, 3)), np.full((4, 4, 4), 0.5)):
        lo, hi, _ = _brackets_2d(V[None], 15, 1e-12, "lanczos")
        assert_certified(V, lo[0], hi[0])
        np.testing.assert_allclose(0.5 * (lo[0] + hi[0]), dense(V)[:15], rtol=1e-10, atol=atol(V))


def test_batch_matches_single(rng):
    V = rng.random((3, 4, 5, 6))
    V[1] = 0.5  # degenerate next to generic
    V[2] *= 1e3
    lam = lowest_eigenvalues(V, 12, dim=3)
    lo, hi = eigenvalue_brackets(V, 12, dim=3)
    assert lam.shape == lo.shape == hi.shape == (3, 12)
    for b in range(3):
        assert_certified(V[b], lo[b], hi[b])
        np.testing.assert_allclose(lam[b], dense(V[b])[:12], rtol=1e-10, atol=atol(V[b]))
        np.testing.assert_array_equal(lam[b], lowest_eigenvalues(V[b], 12, dim=3))
    # just above λ_j there are >= j eigenvalues, just below fewer (degenerate levels: <=)
    up = count_eigenvalues(V, lam * (1 + 1e-9), dim=3)
    down = count_eigenvalues(V, lam * (1 - 1e-9), dim=3)
    assert np.all(up >= np.arange(1, 13)) and np.all(down < np.arange(1, 13))


@pytest.mark.parametrize(
    "shape", [(2, 2, 2), (2, 3, 4), pytest.param((3, 3, 3), marks=pytest.mark.slow), (4, 5, 3)]
)
def test_kth_eigenvalue_matches_dense(shape):
    rng = np.random.default_rng(sum(shape) * 100 + shape[0])
    n = int(np.prod(shape))
    V = np.stack(
        [rng.random(shape), np.full(shape, 0.7), 1e6 * rng.random(shape), 1e-6 * rng.random(shape)]
    )
    ev = np.stack([dense(v) for v in V])
    tol = np.array([atol(v) for v in V])
    for k in sorted({n // 2 + 1, n}):  # k = 1, 2, ...: the lowest_eigenvalues tests
        got = kth_eigenvalue(V, k, dim=3)
        assert got.shape == (4,)
        np.testing.assert_array_less(np.abs(got - ev[:, k - 1]), 1e-10 * np.abs(ev[:, k - 1]) + tol)
        single = kth_eigenvalue(V[0], k, dim=3)
        assert isinstance(single, float) and single == got[0]
