"""2-D and 3-D eigenvalues: certified brackets, the lowest eigenvalues and λ_k against
dense LAPACK (the dense matrix is built here, never in lnet); shapes chosen per lattice
dimension. The helpers serve test_spectrum_2d.py and test_spectrum_3d.py too."""

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

spectrum_module = importlib.import_module("lnet.physics.spectrum")
EPS = np.finfo(float).eps


def shape_id(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def dense(V: np.ndarray) -> np.ndarray:
    """The reference: dense LAPACK eigvalsh of one potential's H, on the lattice of V.ndim
    (one BLAS thread: on a busy 2-core machine 100x faster)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.eigvalsh(hamiltonian(V, dim=V.ndim).toarray())


def atol(V: np.ndarray) -> float:
    """Round-off floor of any method (dense LAPACK's included): ~ ε ‖H‖, ‖H‖ <= 4d + max V."""
    return 50 * EPS * (4 * V.ndim + V.max())


def assert_certified(V: np.ndarray, lo: np.ndarray, hi: np.ndarray, rtol: float = 1e-12):
    """N(lo_j) < j <= N(hi_j) by the exact counter, and the width contract (one potential)."""
    j = np.arange(1, lo.shape[-1] + 1)
    assert np.all(lo < hi)
    assert np.all(count_eigenvalues(V, lo, dim=V.ndim) < j)
    assert np.all(count_eigenvalues(V, hi, dim=V.ndim) >= j)
    floor = 8 * EPS * (4 * V.ndim + V.max())
    assert np.all(hi - lo <= np.maximum(floor, rtol * np.maximum(np.abs(lo), np.abs(hi))))


def free_levels(shape: tuple[int, ...], c: float) -> np.ndarray:
    """Eigenvalues of -Δ + c on the torus, with multiplicity, ascending."""
    levels = np.full((), c)
    for L in shape:
        levels = np.add.outer(levels, 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L))
    return np.sort(levels.ravel())


# the shapes of the zoo: uniform potentials, constants (with their value), the scaled
# (tiny, huge), mixed, bernoulli, single-site and quarters potentials, extra uniform ones
ZOO_SHAPES = {
    2: dict(
        uniform=[(2, 2), (2, 3), (3, 3), (2, 9), (4, 5), (7, 9), (8, 8), (12, 20), (17, 16)],
        constant=[((2, 2), 1.0), ((3, 3), 0.5), ((8, 8), 0.37), ((12, 18), 2.0), ((20, 20), 0.5)],
        scaled=(15, 14),
        mixed=(13, 11),
        bernoulli=(16, 16),
        single_site=(9, 9),
        quarters=(10, 10),
        extra={},
    ),
    3: dict(
        uniform=[(2, 2, 2), (2, 3, 5), (3, 3, 3), (2, 2, 9), (4, 5, 6), (5, 3, 7), (6, 6, 6)],
        constant=[
            ((2, 2, 2), 1.0),
            ((3, 3, 3), 0.5),
            ((4, 4, 4), 0.37),
            ((6, 6, 6), 2.0),
            ((3, 5, 7), 0.5),
        ],
        scaled=(5, 6, 4),
        mixed=(5, 5, 5),
        bernoulli=(6, 6, 6),
        single_site=(5, 5, 5),
        quarters=(4, 6, 5),
        extra={"sides-of-2": (2, 2, 16)},
    ),
}


def zoo(dim: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Named potentials of the dim-D lattice: generic, degenerate (constant), tiny and
    huge, 12 decades, sparse, one site, multiples of 1/4."""
    s = ZOO_SHAPES[dim]
    out = [(f"uniform-{shape_id(shape)}", rng.random(shape)) for shape in s["uniform"]]
    out += [(f"constant-{shape_id(shape)}", np.full(shape, c)) for shape, c in s["constant"]]
    scaled, n = s["scaled"], int(np.prod(s["single_site"]))
    out += [
        (f"tiny-{shape_id(scaled)}", 1e-6 * rng.random(scaled)),
        (f"huge-{shape_id(scaled)}", 1e6 * rng.random(scaled)),
        (f"mixed-{shape_id(s['mixed'])}", 10.0 ** rng.uniform(-6, 6, s["mixed"])),
        (f"bernoulli-{shape_id(s['bernoulli'])}", 3.0 * (rng.random(s["bernoulli"]) < 0.3) + 1e-3),
        (
            f"single-site-{shape_id(s['single_site'])}",
            4.0 * np.eye(1, n, n // 2).reshape(s["single_site"]),
        ),
        (f"quarters-{shape_id(s['quarters'])}", np.round(4 * rng.random(s["quarters"])) / 4 + 0.25),
    ]
    out += [(f"{kind}-{shape_id(shape)}", rng.random(shape)) for kind, shape in s["extra"].items()]
    return out


ZOO = zoo(2, np.random.default_rng(2024)) + zoo(3, np.random.default_rng(2025))


@pytest.mark.parametrize("name,V", ZOO, ids=[name for name, _ in ZOO])
def test_lowest_match_dense_and_brackets_are_certified(name, V):
    ev = dense(V)
    k = min(V.size, {2: 16, 3: 12}[V.ndim])
    got = lowest_eigenvalues(V, k, dim=V.ndim)
    assert got.shape == (k,) and np.all(np.diff(got) >= 0)
    np.testing.assert_allclose(got, ev[:k], rtol=1e-10, atol=atol(V))
    lo, hi = eigenvalue_brackets(V, k, dim=V.ndim)
    assert lo.shape == hi.shape == (k,)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), ev[:k], rtol=1e-10, atol=atol(V))


@pytest.mark.parametrize(
    "shape",
    [
        *[(2, 2), (2, 3), (3, 3), (3, 4), (4, 4), (5, 3)],
        *[(2, 2, 2), (2, 3, 3)],
        pytest.param((2, 2, 3), marks=pytest.mark.slow),
        pytest.param((3, 3, 2), marks=pytest.mark.slow),
    ],
    ids=shape_id,
)
def test_whole_spectrum_of_small_lattices(shape, rng):
    dim = len(shape)
    for V in (rng.random(shape), np.full(shape, 0.5), 1e6 * rng.random(shape)):
        n = V.size
        lo, hi = eigenvalue_brackets(V, n, dim=dim)
        assert_certified(V, lo, hi)
        np.testing.assert_allclose(0.5 * (lo + hi), dense(V), rtol=1e-10, atol=atol(V))
        np.testing.assert_allclose(lowest_eigenvalues(V, n, dim=dim), dense(V), atol=atol(V))


@pytest.mark.parametrize(
    "shape", [(12, 12), (6, 6, 6), pytest.param((8, 8, 8), marks=pytest.mark.slow)], ids=shape_id
)
def test_constant_potential_levels_and_multiplicities(shape):
    """V ≡ c on L^d: levels c + Σ_i (2 - 2cos(2πj_i/L)), multiplicities up to 8 (12×12)
    and 48 (L³)."""
    dim, c = len(shape), 0.5
    free = free_levels(shape, c)
    V = np.full(shape, c)
    for k in (1, 7, 10, 19, 40):  # inside and at the ends of degenerate levels
        np.testing.assert_allclose(
            lowest_eigenvalues(V, k, dim=dim), free[:k], rtol=1e-12, atol=1e-13
        )
    k = 40
    lo, hi = eigenvalue_brackets(V, k, dim=dim)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), free[:k], rtol=1e-12, atol=1e-13)
    # the gaps between distinct levels are open; degenerate copies share a closed gap
    closed = hi[:-1] >= lo[1:]
    want_closed = np.isclose(free[: k - 1], free[1:k], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(closed, want_closed)
    levels = np.unique(np.round(free[: k + 1], 9))
    mids = 0.5 * (levels[1:] + levels[:-1])
    np.testing.assert_array_equal(
        count_eigenvalues(V, mids[mids < free[k - 1]], dim=dim),
        np.searchsorted(free, mids[mids < free[k - 1]], side="right"),
    )


def case(shape, kind, k, *marks):
    return pytest.param(shape, kind, k, marks=marks, id=f"{shape_id(shape)}-{kind}-k{k}")


@pytest.mark.parametrize(
    "shape,kind,k",
    [
        # the fast tier's largest: k = 100 at 32×32 (the use case of the Lanczos path), and
        # 1000 sites, where one count certifies the Lanczos values
        case((32, 32), "uniform", 100),
        case((10, 10, 10), "uniform", 20),
        # the dense limit
        *[case((40, 40), kind, 100, pytest.mark.slow) for kind in ("tiny", "huge", "mixed")],
        case((32, 32), "constant", 100, pytest.mark.slow),  # multiplicities up to 8
        case((40, 23), "uniform", 100, pytest.mark.slow),
        *[
            case((10, 10, 10), kind, 60, pytest.mark.slow)
            for kind in ("uniform", "constant", "tiny", "huge", "mixed")  # constant: up to 48
        ],
        case((12, 7, 11), "uniform", 60, pytest.mark.slow),
    ],
)
def test_many_eigenvalues_up_to_dense_limit_sizes(shape, kind, k, rng):
    V = {
        "uniform": lambda: rng.random(shape),
        "constant": lambda: np.full(shape, 0.5),
        "tiny": lambda: 1e-6 * rng.random(shape),
        "huge": lambda: 1e6 * rng.random(shape),
        "mixed": lambda: 10.0 ** rng.uniform(-6, 6, shape),
    }[kind]()
    ev = dense(V)
    np.testing.assert_allclose(
        lowest_eigenvalues(V, k, dim=V.ndim), ev[:k], rtol=1e-10, atol=atol(V)
    )
    lo, hi = eigenvalue_brackets(V, k, dim=V.ndim)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), ev[:k], rtol=1e-10, atol=atol(V))


@pytest.mark.parametrize(
    "sides,scales,k", [((48, 36), (1, 2), 50), ((12, 9, 11), (1, 2, 1), 25)], ids=["2d", "3d"]
)
def test_separable_potentials_beyond_dense_sizes(sides, scales, k, rng):
    """V(x) = Σ_i a_i(x_i): spec(H) = the sums of the 1-D spectra of the a_i (exact counter)."""
    parts = [scale * rng.random(L) for L, scale in zip(sides, scales, strict=True)]
    V, want = np.zeros(()), np.zeros(())
    for a in parts:
        V = np.add.outer(V, a)
        want = np.add.outer(want, lowest_eigenvalues(a, a.size))
    want = np.sort(want.ravel())[:k]
    np.testing.assert_allclose(lowest_eigenvalues(V, k, dim=V.ndim), want, rtol=1e-11, atol=1e-12)
    lo, hi = eigenvalue_brackets(V, k, dim=V.ndim)
    assert_certified(V, lo, hi)
    np.testing.assert_allclose(0.5 * (lo + hi), want, rtol=1e-11, atol=1e-12)


# stand-ins for the Lanczos candidates of the brackets: the certification must not trust them
WRONG_CANDIDATES = {
    "missing": lambda V, k: np.delete(dense(V)[:k], [0, 3, k // 2]),
    "shifted": lambda V, k: dense(V)[:k] + 1e-9,
    "noisy": lambda V, k: dense(V)[:k] * (1 + 1e-10 * np.random.default_rng(1).standard_normal(k)),
    "garbage": lambda V, k: np.sort(np.random.default_rng(2).uniform(0, 6 * V.ndim, k)),
    "none": lambda V, k: None,
}


@pytest.mark.parametrize("wrong", WRONG_CANDIDATES)
@pytest.mark.parametrize(
    "shape,constant,k", [((9, 8), (9, 8), 20), ((4, 5, 3), (4, 4, 4), 15)], ids=["2d", "3d"]
)
def test_bad_candidates_fall_back_to_the_counter(shape, constant, k, wrong, monkeypatch, rng):
    monkeypatch.setattr(spectrum_module, "_lanczos_candidates", WRONG_CANDIDATES[wrong])
    for V in (rng.random(shape), np.full(constant, 0.5)):
        ev = dense(V)
        lo, hi, _ = _brackets_2d(V[None], k, 1e-12, "lanczos")
        assert_certified(V, lo[0], hi[0])
        np.testing.assert_allclose(0.5 * (lo[0] + hi[0]), ev[:k], rtol=1e-10, atol=atol(V))


@pytest.mark.parametrize("shape,k", [((3, 9, 10), 15), ((3, 4, 5, 6), 12)], ids=["2d", "3d"])
def test_batch_matches_single(shape, k, rng):
    dim = len(shape) - 1
    V = rng.random(shape)
    V[1] = 0.5  # degenerate next to generic
    V[2] *= 1e3
    lo, hi = eigenvalue_brackets(V, k, dim=dim)
    lam = lowest_eigenvalues(V, k, dim=dim)
    assert lam.shape == lo.shape == hi.shape == (3, k)
    for b in range(3):
        assert_certified(V[b], lo[b], hi[b])
        np.testing.assert_allclose(lam[b], dense(V[b])[:k], rtol=1e-10, atol=atol(V[b]))
        np.testing.assert_array_equal(lam[b], lowest_eigenvalues(V[b], k, dim=dim))
    # just above λ_j there are >= j eigenvalues, just below fewer (degenerate levels: <=)
    up = count_eigenvalues(V, lam * (1 + 1e-9), dim=dim)
    down = count_eigenvalues(V, lam * (1 - 1e-9), dim=dim)
    assert np.all(up >= np.arange(1, k + 1)) and np.all(down < np.arange(1, k + 1))


@pytest.mark.parametrize(
    "shape",
    [
        *[(2, 2), (2, 5), (3, 3), (6, 7), (11, 12)],
        *[(2, 2, 2), (2, 3, 4), pytest.param((3, 3, 3), marks=pytest.mark.slow), (4, 5, 3)],
    ],
    ids=shape_id,
)
def test_kth_eigenvalue_matches_dense(shape):
    rng = np.random.default_rng(shape)
    dim, n = len(shape), int(np.prod(shape))
    V = np.stack(
        [rng.random(shape), np.full(shape, 0.7), 1e6 * rng.random(shape), 1e-6 * rng.random(shape)]
    )
    ev = np.stack([dense(v) for v in V])
    tol = np.array([atol(v) for v in V])
    for k in sorted({1, 2, n // 2 + 1, n}):
        got = kth_eigenvalue(V, k, dim=dim)
        assert got.shape == (4,)
        np.testing.assert_array_less(np.abs(got - ev[:, k - 1]), 1e-10 * np.abs(ev[:, k - 1]) + tol)
        single = kth_eigenvalue(V[0], k, dim=dim)
        assert isinstance(single, float) and single == got[0]
    if n <= 40:
        np.testing.assert_allclose(
            kth_eigenvalue(V[:2], n, dim=dim),
            lowest_eigenvalues(V[:2], n, dim=dim)[:, -1],
            rtol=1e-10,
        )
