"""Exact 3-D counting (multifrontal LDLᵀ on a 3-D nested dissection) against dense
LAPACK, with the root front factorised by the numba kernel and by LAPACK's dsytrf."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh, splu

from lnet.physics.dissection import CountingError, neighbours, symbolic
from lnet.physics.multifrontal import LAPACK_ROOT, count_lattice, factor_stats

ROOTS = {"kernel-root": 10**9, "lapack-root": 0}  # lapack_root: which route the root takes


def sparse_h(V: np.ndarray) -> sp.csr_matrix:
    """H = 2d + V - Σ shifts, built here from the neighbour table (independent of lnet's
    own ``hamiltonian``): repeated neighbours (a side of 2) add up."""
    n, nb = V.size, neighbours(V.shape)
    rows = np.repeat(np.arange(n), nb.shape[1])
    A = sp.csr_matrix((np.full(rows.size, -1.0), (rows, nb.ravel())), shape=(n, n))
    return (A + sp.diags(2.0 * V.ndim + V.ravel())).tocsr()


def probe(ev: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Energies across the spectrum, between and near levels, round and binary; none
    within round-off of an eigenvalue (there the count is a tie)."""
    span = ev.max() - ev.min() + 1.0
    step = max(1, ev.size // 60)
    E = np.concatenate(
        [
            rng.uniform(ev.min() - 0.1 * span, ev.max() + 0.1 * span, 60),
            0.5 * (ev[1:] + ev[:-1])[::step],
            np.round(ev[::step], 2),
            np.arange(-1.0, 14.0, 0.5),
        ]
    )
    gap = np.min(np.abs(E[:, None] - ev[None, :]), axis=1)
    return E[gap > 1e-9 * max(1.0, float(np.abs(ev).max()))]


def potentials(shape: tuple[int, ...], rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "uniform": rng.random(shape),
        "constant": np.full(shape, 0.5),  # the cubic torus: large multiplicities
        "huge": 1e6 * rng.random(shape),
        "tiny": 1e-6 * rng.random(shape),
        "bernoulli": np.where(rng.random(shape) < 0.3, 3.0, 0.0) + 1e-3,
        "quarters": np.round(4 * rng.random(shape)) / 4,  # ties, exact binary values
    }


def check_against_dense(shape: tuple[int, ...], rng: np.random.Generator, lapack_root: int):
    for name, V in potentials(shape, rng).items():
        if not V.any():
            V.flat[0] = 1.0
        ev = np.linalg.eigvalsh(sparse_h(V).toarray())
        E = probe(ev, rng)
        got = count_lattice(V[None], E[None], lapack_root=lapack_root)[0]
        want = np.searchsorted(ev, E, side="right")
        assert got.dtype == np.int64
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (
            f"{name} {shape}: E={E[bad[:5]]} got {got[bad[:5]]} want {want[bad[:5]]}"
        )


SMALL = [(2, 2, 2), (2, 3, 5), (3, 3, 3), (2, 2, 9), (4, 5, 6), (5, 5, 5), (7, 3, 4)]


@pytest.mark.parametrize("root", ROOTS.values(), ids=ROOTS.keys())
@pytest.mark.parametrize("shape", SMALL, ids=["x".join(map(str, s)) for s in SMALL])
def test_counts_match_dense_lapack(shape, root, rng):
    check_against_dense(shape, rng, root)


@pytest.mark.slow
@pytest.mark.parametrize("root", ROOTS.values(), ids=ROOTS.keys())
@pytest.mark.parametrize("shape", [(8, 8, 8), (12, 12, 12), (9, 10, 11), (2, 24, 24)])
def test_largest_dense_checked_lattices(shape, root, rng):
    check_against_dense(shape, rng, root)


def test_dissection_is_a_valid_elimination_tree():
    for shape in [(2, 2, 2), (3, 4, 5), (2, 2, 30), (9, 9, 9), (16, 16, 16)]:
        nb, j_ptr, j_idx, b_ptr, b_idx, nchild = symbolic(shape)
        n = math.prod(shape)
        assert nb.shape == (n, 6)
        np.testing.assert_array_equal(np.sort(j_idx), np.arange(n))  # each site once
        np.testing.assert_array_equal(np.sort(neighbours(shape)[0]), np.sort(nb[0]))
        assert b_ptr[-1] - b_ptr[-2] == 0  # the root has no boundary
    # a torus falls apart only along two planes: the root of L³ holds 2·L² sites
    _, j_ptr, _, _, _, _ = symbolic((16, 16, 16))
    assert j_ptr[-1] - j_ptr[-2] == 2 * 16 * 16


def test_lapack_root_takes_the_large_roots_only(rng):
    """At 16³ the root (512 rows) goes to LAPACK by default; both routes agree there,
    take every site, and the kernel route needs no delays on a random potential."""
    V = rng.random((1, 16, 16, 16))
    E = rng.uniform(0.0, 2.0, (1, 3))
    assert 2 * 16 * 16 >= LAPACK_ROOT
    by_lapack = factor_stats(V, E)
    by_kernel = factor_stats(V, E, lapack_root=10**9)
    np.testing.assert_array_equal(by_lapack["count"], by_kernel["count"])
    for s in (by_lapack, by_kernel):
        np.testing.assert_array_equal(s["pivots_1x1"] + 2 * s["pivots_2x2"], V[0].size)


def test_degenerate_free_spectrum_counted_with_multiplicity():
    """V constant on the L³ torus: eigenvalues c + Σ_axes (2 - 2 cos 2πk/L), exactly
    known with their multiplicities; count between and at them."""
    L, c = 6, 0.25
    k = 2.0 - 2.0 * np.cos(2.0 * np.pi * np.arange(L) / L)
    ev = np.sort((c + k[:, None, None] + k[None, :, None] + k[None, None, :]).ravel())
    levels = np.unique(np.round(ev, 12))
    E = np.concatenate([0.5 * (levels[1:] + levels[:-1]), [levels[0] - 0.1, levels[-1] + 0.1]])
    want = np.searchsorted(ev, E, side="right")
    for root in ROOTS.values():
        got = count_lattice(np.full((1, L, L, L), c), E[None], lapack_root=root)[0]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("poison", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("root", ROOTS.values(), ids=ROOTS.keys())
def test_a_non_finite_potential_raises_naming_lattice_and_energy(poison, root, rng):
    """A NaN or inf anywhere (here in a root site) never becomes a silent wrong count."""
    V = rng.random((1, 8, 8, 8))
    _, j_ptr, j_idx, _, _, _ = symbolic((8, 8, 8))
    V.reshape(1, -1)[0, j_idx[j_ptr[-2]]] = poison  # the first site of the root front
    E = np.array([[1.5, 3.0]])
    with pytest.raises(CountingError, match=r"3-D count on the 8×8×8 torus at E = 1\.5: ") as info:
        count_lattice(V, E, lapack_root=root)
    assert info.value.shape == (8, 8, 8)
    assert "first at V[0], E[0, 0], and 1 more" in str(info.value)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)


def test_batches_and_energy_order_do_not_matter(rng):
    V = rng.random((3, 4, 5, 6))
    E = rng.uniform(0.0, 3.0, (3, 7))
    batch = count_lattice(V, E)
    for b in range(3):
        perm = rng.permutation(7)
        np.testing.assert_array_equal(
            count_lattice(V[b : b + 1], E[b : b + 1, perm])[0], batch[b, perm]
        )
    assert np.all(np.diff(np.sort(E, axis=1), axis=1) >= 0)
    sorted_counts = np.take_along_axis(batch, np.argsort(E, axis=1), axis=1)
    assert np.all(np.diff(sorted_counts, axis=1) >= 0)  # monotone in E


@pytest.mark.slow
def test_32_cubed_matches_an_independent_sparse_route(rng):
    """At 32³ (32,768 sites, beyond dense LAPACK here) the lowest 30 eigenvalues by
    ARPACK in shift-invert mode on a SuperLU factorisation, a route sharing no code
    with the counter; counted below the lowest and in every fifth gap (7 energies, each
    a full factorisation of about 1.7 s)."""
    L, sigma = 32, -0.1
    V = rng.random((L, L, L))
    H = sparse_h(V).tocsc()
    lu = splu((H - sigma * sp.identity(H.shape[0])).tocsc(), permc_spec="MMD_AT_PLUS_A")
    inverse = LinearOperator(H.shape, matvec=lu.solve, dtype=np.float64)
    ev = eigsh(
        H, k=30, sigma=sigma, OPinv=inverse, which="LM", tol=1e-12, return_eigenvectors=False
    )
    ev = np.sort(ev)
    gaps = 0.5 * (ev[1:] + ev[:-1])  # between levels k and k + 1
    E = np.concatenate([gaps[::5], [ev[0] - 0.05]])
    got = count_lattice(V[None], E[None])[0]
    np.testing.assert_array_equal(got, np.searchsorted(ev, E, side="right"))


def test_count_eigenvalues_dim3_is_this_counter(rng):
    """The public route: one potential (L1, L2, L3) with E (m,), or a batch."""
    from lnet.physics import count_eigenvalues

    V = rng.random((2, 4, 3, 5))
    E = rng.uniform(0.0, 4.0, (2, 6))
    np.testing.assert_array_equal(count_eigenvalues(V, E, dim=3), count_lattice(V, E))
    np.testing.assert_array_equal(count_eigenvalues(V[1], E[1], dim=3), count_lattice(V, E)[1])
