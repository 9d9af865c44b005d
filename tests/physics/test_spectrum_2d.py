"""2-D eigenvalues: certified brackets, lowest eigenvalues and λ_k against dense LAPACK."""

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
from lnet.physics import spectrum as spectrum_module
from lnet.physics.spectrum import _brackets_2d

EPS = np.finfo(float).eps


def dense(V: np.ndarray) -> np.ndarray:
    """The reference: dense LAPACK (one BLAS thread: on a busy 2-core machine 100x faster)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.eigvalsh(hamiltonian(V, dim=2).toarray())


def atol(V: np.ndarray) -> float:
    """Round-off floor of any method (dense LAPACK's included): ~ ε ‖H‖."""
    return 50 * EPS * (8 + V.max())


def assert_certified(V: np.ndarray, lo: np.ndarray, hi: np.ndarray, rtol: float = 1e-12):
    """N(lo_j) < j <= N(hi_j) by the exact counter, and the width contract."""
    k = lo.shape[-1]
    j = np.arange(1, k + 1)
    assert np.all(lo < hi)
    assert np.all(count_eigenvalues(V, lo, dim=2) < j)
    assert np.all(count_eigenvalues(V, hi, dim=2) >= j)
    floor = 8 * EPS * (8 + V.max())
    assert np.all(hi - lo <= np.maximum(floor, rtol * np.maximum(np.abs(lo), np.abs(hi))))


def zoo(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    out = []
    for shape in [(2, 2), (2, 3), (3, 3), (2, 9), (4, 5), (7, 9), (8, 8), (12, 20), (17, 16)]:
        out.append((f"uniform-{shape}", rng.random(shape)))
    out += [
        ("constant-2x2", np.full((2, 2), 1.0)),
        ("constant-3x3", np.full((3, 3), 0.5)),
        ("constant-8x8", np.full((8, 8), 0.37)),
        ("constant-12x18", np.full((12, 18), 2.0)),
        ("constant-20x20", np.full((20, 20), 0.5)),
        ("tiny-15x14", 1e-6 * rng.random((15, 14))),
        ("huge-15x14", 1e6 * rng.random((15, 14))),
        ("mixed-13x11", 10.0 ** rng.uniform(-6, 6, (13, 11))),
        ("bernoulli-16x16", 3.0 * (rng.random((16, 16)) < 0.3) + 1e-3),
        ("single-site-9x9", 4.0 * np.eye(1, 81, 40).reshape(9, 9)),
        ("quarters-10x10", np.round(4 * rng.random((10, 10))) / 4 + 0.25),
    ]
    return out


ZOO_2D = zoo(np.random.default_rng(2024))


@pytest.mark.parametrize("name,V", ZOO_2D, ids=[name for name, _ in ZOO_2D])
def test_lowest_match_dense_and_brackets_are_certified(name, V):
    ev = dense(V)
    k = min(V.size, 16)
    lo, hi = eigenvalue_brackets(V, k, dim=2)
    assert lo.shape == hi.shape == (k,)
    assert_certified(V, lo, hi)
    got = lowest_eigenvalues(V, k, dim=2)
    assert got.shape == (k,) and np.all(np.diff(got) >= 0)
    np.testing.assert_allclose(got, ev[:k], rtol=1e-10, atol=atol(V))


@pytest.mark.parametrize("method", ["lanczos", "bisect"])
@pytest.mark.parametrize(
    "name,V",
    [ZOO_2D[i] for i in (5, 7, 11, 13, 14, 15, 16, 17)],
    ids=[ZOO_2D[i][0] for i in (5, 7, 11, 13, 14, 15, 16, 17)],
)
def test_both_paths_agree_with_dense(name, V, method):
    """Lanczos candidates + certification, and bisection on the counter alone."""
    ev = dense(V)
    k = min(V.size // 3, 20)
    lo, hi, _ = _brackets_2d(V[None], k, 1e-12, method)
    assert_certified(V, lo[0], hi[0])
    np.testing.assert_allclose(0.5 * (lo[0] + hi[0]), ev[:k], rtol=1e-10, atol=atol(V))


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 3), (3, 4), (4, 4), (5, 3)])
def test_whole_spectrum_of_small_lattices(shape, rng):
    for V in (rng.random(shape), np.full(shape, 0.5), 1e6 * rng.random(shape)):
        n = V.size
        lo, hi = eigenvalue_brackets(V, n, dim=2)
        assert_certified(V, lo, hi)
        np.testing.assert_allclose(0.5 * (lo + hi), dense(V), rtol=1e-10, atol=atol(V))


def test_constant_potential_levels_and_multiplicities():
    """V ≡ c on 12×12: levels c + 4 - 2cos(2πa/12) - 2cos(2πb/12), multiplicities up to 8."""
    L, c = 12, 0.5
    theta = 2 * np.pi * np.arange(L) / L
    free = np.sort((c + 4 - 2 * np.cos(theta)[:, None] - 2 * np.cos(theta)[None, :]).ravel())
    V = np.full((L, L), c)
    k = 40
    lo, hi = eigenvalue_brackets(V, k, dim=2)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), free[:k], rtol=1e-12, atol=1e-13)
    # the gaps between distinct levels are open; degenerate copies share a closed gap
    levels = np.unique(np.round(free[: k + 1], 9))
    closed = hi[:-1] >= lo[1:]
    want_closed = np.isclose(free[: k - 1], free[1:k], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(closed, want_closed)
    mids = 0.5 * (levels[1:] + levels[:-1])
    np.testing.assert_array_equal(
        count_eigenvalues(V, mids[mids < free[k - 1]], dim=2),
        np.searchsorted(free, mids[mids < free[k - 1]], side="right"),
    )


def test_k100_on_32x32_lattice(rng):
    """The use case of the Lanczos path: k = 100 at 32×32, every bracket certified."""
    V = rng.random((32, 32))
    lo, hi = eigenvalue_brackets(V, 100, dim=2)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), dense(V)[:100], rtol=1e-10, atol=atol(V))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["constant", "tiny", "huge", "mixed", "rectangular"])
def test_k100_at_dense_limit_sizes(kind, rng):
    V = {
        "constant": np.full((32, 32), 0.5),  # multiplicities up to 8
        "tiny": 1e-6 * rng.random((40, 40)),
        "huge": 1e6 * rng.random((40, 40)),
        "mixed": 10.0 ** rng.uniform(-6, 6, (40, 40)),
        "rectangular": rng.random((40, 23)),
    }[kind]
    lo, hi = eigenvalue_brackets(V, 100, dim=2)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), dense(V)[:100], rtol=1e-10, atol=atol(V))


def test_separable_potentials_beyond_dense_sizes(rng):
    """V(x, y) = a(x) + b(y): spec(H) = spec(H_a) + spec(H_b), the 1-D spectra (exact counter)."""
    a, b = rng.random(48), 2 * rng.random(36)
    V = a[:, None] + b[None, :]
    ea = lowest_eigenvalues(a, 48)
    eb = lowest_eigenvalues(b, 36)
    want = np.sort((ea[:, None] + eb[None, :]).ravel())[:50]
    lo, hi = eigenvalue_brackets(V, 50, dim=2)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), want, rtol=1e-11, atol=1e-12)


def test_rtol_controls_the_width(rng):
    V = rng.random((10, 11))
    for rtol in (1e-3, 1e-7, 1e-12):
        lo, hi = eigenvalue_brackets(V, 20, rtol=rtol, dim=2)
        assert_certified(V, lo, hi, rtol=rtol)


class _Wrong:
    """Stand-ins for the Lanczos candidates: the certification must not trust them."""

    @staticmethod
    def missing(V, k):
        ev = dense(V)[:k]
        return np.delete(ev, [0, 3, k // 2])

    @staticmethod
    def shifted(V, k):
        return dense(V)[:k] + 1e-9

    @staticmethod
    def noisy(V, k):
        return dense(V)[:k] * (1 + 1e-10 * np.random.default_rng(1).standard_normal(k))

    @staticmethod
    def garbage(V, k):
        return np.sort(np.random.default_rng(2).uniform(0, 12, k))

    @staticmethod
    def none(V, k):
        return None


@pytest.mark.parametrize("wrong", ["missing", "shifted", "noisy", "garbage", "none"])
def test_bad_candidates_fall_back_to_the_counter(wrong, monkeypatch, rng):
    monkeypatch.setattr(spectrum_module, "_lanczos_candidates", getattr(_Wrong, wrong))
    for V in (rng.random((9, 8)), np.full((9, 8), 0.5)):
        ev = dense(V)
        lo, hi, _ = _brackets_2d(V[None], 20, 1e-12, "lanczos")
        assert_certified(V, lo[0], hi[0])
        np.testing.assert_allclose(0.5 * (lo[0] + hi[0]), ev[:20], rtol=1e-10, atol=atol(V))


def test_good_candidates_need_one_count_call(rng):
    V = rng.random((16, 16))
    _, _, state = _brackets_2d(V[None], 40, 1e-12, "lanczos")
    assert state.count_calls <= 2  # the candidates' brackets, perhaps the wide probes


def test_batch_matches_single(rng):
    V = rng.random((3, 9, 10))
    V[1] = 0.5  # degenerate next to generic
    V[2] *= 1e3
    lo, hi = eigenvalue_brackets(V, 15, dim=2)
    assert lo.shape == hi.shape == (3, 15)
    lam = lowest_eigenvalues(V, 15, dim=2)
    for b in range(3):
        assert_certified(V[b], lo[b], hi[b])
        np.testing.assert_allclose(lam[b], dense(V[b])[:15], rtol=1e-10, atol=atol(V[b]))
    # just above λ_j there are >= j eigenvalues, just below fewer (degenerate levels: <=)
    up = count_eigenvalues(V, lam * (1 + 1e-9), dim=2)
    down = count_eigenvalues(V, lam * (1 - 1e-9), dim=2)
    assert np.all(up >= np.arange(1, 16)) and np.all(down < np.arange(1, 16))


@pytest.mark.parametrize("shape", [(2, 2), (2, 5), (3, 3), (6, 7), (11, 12)])
def test_kth_eigenvalue_matches_dense(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    n = shape[0] * shape[1]
    V = np.stack(
        [rng.random(shape), np.full(shape, 0.7), 1e6 * rng.random(shape), 1e-6 * rng.random(shape)]
    )
    ev = np.stack([dense(v) for v in V])
    tol = np.array([atol(v) for v in V])
    for k in sorted({1, 2, n // 2 + 1, n}):
        got = kth_eigenvalue(V, k, dim=2)
        assert got.shape == (4,)
        np.testing.assert_array_less(np.abs(got - ev[:, k - 1]), 1e-10 * np.abs(ev[:, k - 1]) + tol)
        single = kth_eigenvalue(V[0], k, dim=2)
        assert isinstance(single, float) and single == got[0]
    if n <= 40:
        np.testing.assert_allclose(
            kth_eigenvalue(V[:2], n, dim=2), lowest_eigenvalues(V[:2], n, dim=2)[:, -1], rtol=1e-10
        )
