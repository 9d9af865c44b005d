"""Exact 2-D counting (multifrontal LDLᵀ) against dense LAPACK on the periodic L1×L2 lattice."""

import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnet.physics import count_eigenvalues, dissection, hamiltonian
from lnet.physics.dissection import CountingError, check_tree, symbolic
from lnet.physics.multifrontal import count_lattice, factor_stats


def dense_spectrum(V: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(hamiltonian(V, dim=2).toarray())


def safe_energies(ev: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Energies not within round-off of an eigenvalue (there the count is a tie)."""
    tol = 1e-9 * max(1.0, float(np.abs(ev).max()))
    gap = np.min(np.abs(E[:, None] - ev[None, :]), axis=1)
    return E[gap > tol]


def probe_energies(ev: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    span = ev.max() - ev.min() + 1.0
    E = np.concatenate(
        [
            rng.uniform(ev.min() - 0.1 * span, ev.max() + 0.1 * span, 150),
            0.5 * (ev[1:] + ev[:-1]),  # every level of the staircase
            np.round(ev, 2),  # round numbers near eigenvalues
            np.arange(-1.0, 12.0, 0.25),  # exact binary fractions: exactly singular blocks
        ]
    )
    return safe_energies(ev, E)


def check(V: np.ndarray, E: np.ndarray) -> None:
    ev = dense_spectrum(V)
    E = safe_energies(ev, E)
    if E.size == 0:
        return
    got = count_eigenvalues(V, E, dim=2)
    want = np.searchsorted(ev, E, side="right")
    assert got.dtype == np.int64
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{V.shape}: E={E[bad[:5]]} got {got[bad[:5]]} want {want[bad[:5]]}"


SHAPES = [(2, 2), (2, 3), (3, 3), (3, 2), (2, 7), (4, 4), (5, 7), (8, 8), (11, 6), (16, 16)]


def potentials(shape, rng):
    return {
        "uniform": rng.random(shape),
        "constant": np.full(shape, 0.5),  # highly degenerate 2-D spectrum
        "huge": 1e6 * rng.random(shape),
        "tiny": 1e-6 * rng.random(shape),
        "bernoulli": np.where(rng.random(shape) < 0.3, 3.0, 0.0) + np.eye(*shape),
        "quarters": np.round(4 * rng.random(shape)) / 4 + 0.25,  # ties between sites
    }


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_counts_match_dense_lapack(shape, rng):
    for name, V in potentials(shape, rng).items():
        ev = dense_spectrum(V)
        E = probe_energies(ev, rng)
        got = count_eigenvalues(V, E, dim=2)
        want = np.searchsorted(ev, E, side="right")
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, f"{name} {shape}: E={E[bad[:5]]} got {got[bad[:5]]}"


@pytest.mark.parametrize("shape", [(40, 40), (33, 24)])
def test_largest_dense_checked_lattices(shape, rng):
    V = rng.random(shape)
    ev = dense_spectrum(V)
    E = safe_energies(ev, np.concatenate([0.5 * (ev[1:300] + ev[:299]), rng.uniform(0, 9, 200)]))
    np.testing.assert_array_equal(
        count_eigenvalues(V, E, dim=2), np.searchsorted(ev, E, side="right")
    )


def _regions(L1: int, L2: int) -> list[np.ndarray]:
    _, j_ptr, j_idx, _, _, nchild = symbolic((L1, L2))
    regions, stack = [], []
    for t in range(len(nchild)):
        k = int(nchild[t])
        parts = [j_idx[j_ptr[t] : j_ptr[t + 1]], *stack[len(stack) - k :]] if k else []
        if k:
            del stack[len(stack) - k :]
        region = np.concatenate(parts) if k else j_idx[j_ptr[t] : j_ptr[t + 1]]
        stack.append(region)
        regions.append(region)
    return regions


@pytest.mark.parametrize("shape", [(12, 12), (23, 17)])
def test_energies_that_make_inner_fronts_singular(shape, rng):
    """E an eigenvalue of a subtree's block (not of H): the front pivots must be delayed."""
    L1, L2 = shape
    regions = _regions(L1, L2)
    _, j_ptr, j_idx, _, _, _ = symbolic((L1, L2))
    for V in (
        rng.random(shape),
        np.full(shape, 0.25),
        np.where(rng.random(shape) < 0.3, 1e6, 1e-3),
    ):
        H = hamiltonian(V, dim=2).toarray()
        E = []
        for t in rng.choice(len(regions) - 1, min(25, len(regions) - 1), replace=False):
            J = j_idx[j_ptr[t] : j_ptr[t + 1]]
            for block in (regions[t], J):
                E.append(np.linalg.eigvalsh(H[np.ix_(block, block)]))
        check(V, np.concatenate(E))


def test_dissection_is_a_valid_elimination_tree():
    for L1, L2 in [(2, 2), (3, 5), (16, 16), (17, 30)]:
        nb, j_ptr, j_idx, b_ptr, b_idx, nchild = symbolic((L1, L2))
        n = L1 * L2
        np.testing.assert_array_equal(np.sort(j_idx), np.arange(n))  # each site once
        order = np.empty(n, dtype=np.int64)
        for t in range(len(nchild)):
            order[j_idx[j_ptr[t] : j_ptr[t + 1]]] = t
        stack = []
        for t in range(len(nchild)):
            own = set(j_idx[j_ptr[t] : j_ptr[t + 1]]) | set(b_idx[b_ptr[t] : b_ptr[t + 1]])
            for _ in range(int(nchild[t])):
                child_boundary = stack.pop()
                assert child_boundary <= own  # a child's boundary is in its parent's front
            boundary = set(b_idx[b_ptr[t] : b_ptr[t + 1]].tolist())
            assert all(order[b] > t for b in boundary)  # boundary sites come later
            stack.append(boundary)
        assert len(stack) == 1 and stack[0] == set()


def test_degenerate_free_spectrum_counted_with_multiplicity():
    L = 12
    V = np.full((L, L), 1.0)
    k = 2 - 2 * np.cos(2 * np.pi * np.arange(L) / L)
    exact = np.sort((1.0 + k[:, None] + k[None, :]).ravel())
    levels = np.unique(np.round(exact, 10))
    mid = 0.5 * (levels[1:] + levels[:-1])
    np.testing.assert_array_equal(
        count_eigenvalues(V, mid, dim=2), np.searchsorted(exact, mid, side="right")
    )


def test_extreme_energies_count_nothing_or_everything(rng):
    V = rng.random((9, 7))
    np.testing.assert_array_equal(
        count_eigenvalues(V, [-1e300, -1.0, 1e300, 1e9], dim=2), [0, 0, 63, 63]
    )


def test_batch_shapes_and_agreement(rng):
    V = rng.random((4, 6, 5))
    E = rng.uniform(0, 8, (4, 7))
    batch = count_eigenvalues(V, E, dim=2)
    assert batch.shape == (4, 7) and batch.dtype == np.int64
    for b in range(4):
        np.testing.assert_array_equal(batch[b], count_eigenvalues(V[b], E[b], dim=2))
    assert count_eigenvalues(V[0], 2.0, dim=2).shape == (1,)


def test_translation_and_transpose_invariance(rng):
    V = rng.random((10, 14))
    E = rng.uniform(0, 3, 60)
    base = count_eigenvalues(V, E, dim=2)
    np.testing.assert_array_equal(count_eigenvalues(np.roll(V, (3, 5), (0, 1)), E, dim=2), base)
    np.testing.assert_array_equal(count_eigenvalues(V.T.copy(), E, dim=2), base)


@pytest.mark.parametrize(
    "V,E,match",
    [
        (np.ones(5), [1.0], r"shape \(L1, L2\) or \(B, L1, L2\)"),
        (np.ones((1, 5)), [1.0], "L1, L2 >= 2"),
        (-np.ones((3, 3)), [1.0], r"V\[0, 0\] = -1 is negative"),
        (np.zeros((3, 3)), [1.0], "identically zero"),
        (np.ones((3, 3)), [np.nan], r"E\[0\] = nan is not finite"),
        (np.ones((2, 3, 3)), [1.0], r"\(B, m\) = \(2, m\)"),
        (np.ones((3, 3)), [], "empty"),
    ],
)
def test_bad_input_is_named(V, E, match):
    with pytest.raises(ValueError, match=match):
        count_eigenvalues(V, E, dim=2)


def test_bad_dim_is_named():
    with pytest.raises(ValueError, match=r"dim must be 1, 2 or 3 .*got 4"):
        count_eigenvalues(np.ones((3, 3)), [1.0], dim=4)
    with pytest.raises(ValueError, match=r"V must have shape \(L1, L2, L3\).* for dim=3"):
        count_eigenvalues(np.ones((3, 3)), [1.0], dim=3)


@settings(max_examples=40, deadline=None)
@given(
    V=arrays(
        np.float64,
        st.tuples(st.integers(2, 9), st.integers(2, 9)),
        elements=st.floats(0, 50, allow_subnormal=False),
    ),
    E=arrays(np.float64, st.integers(1, 15), elements=st.floats(-5, 70, allow_subnormal=False)),
)
def test_counts_match_dense_property(V, E):
    if not np.any(V > 0):
        V = V.copy()
        V[0, 0] = 1.0
    check(V, E)


# -- the counter checks itself (issue 21) ------------------------------------------


def _parents(nchild: np.ndarray) -> np.ndarray:
    """Parent node of every node of a postorder tree (-1 for the root)."""
    parent = np.full(len(nchild), -1)
    stack: list[int] = []
    for t, k in enumerate(nchild.tolist()):
        if k:
            parent[stack[-k:]] = t
            del stack[-k:]
        stack.append(t)
    return parent


def _poison_site(L1: int, L2: int, front: str) -> int:
    """First site eliminated by a leaf, an inner separator or the root front."""
    _, j_ptr, j_idx, _, _, nchild = symbolic((L1, L2))
    inner = [t for t in range(len(nchild) - 1) if nchild[t] > 0]
    t = {"leaf": 0, "separator": inner[-1], "root": len(nchild) - 1}[front]
    return int(j_idx[j_ptr[t]])


@pytest.mark.parametrize("front", ["leaf", "separator", "root"])
@pytest.mark.parametrize("poison", [np.nan, np.inf], ids=["nan", "inf"])
def test_a_non_finite_front_entry_raises_naming_lattice_and_energy(front, poison, rng):
    """A NaN is never an admissible pivot: unchecked, it is delayed up to the root and
    the count comes out one too low (an inf pivot is counted as positive), silently."""
    L1, L2 = 12, 10
    V = rng.random((L1, L2))
    E = np.array([[2.5, 4.0, 6.0]])
    V.ravel()[_poison_site(L1, L2, front)] = poison
    reason = "left live at the root front" if np.isnan(poison) else "is NaN or inf"
    with pytest.raises(CountingError, match=re.escape("2-D count on the 12×10 torus at E = 2.5: ")):
        count_lattice(V[None], E)
    with pytest.raises(CountingError, match=reason) as info:
        factor_stats(V[None], E)
    assert info.value.shape == (12, 10) and info.value.energy == 2.5
    assert "first at V[0], E[0, 0], and 2 more" in str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)  # process pools


def _with_boundary(sym: tuple, t: int, add=(), drop=()) -> tuple:
    """``symbolic``'s tuple with sites added to and dropped from node t's boundary."""
    nb, j_ptr, j_idx, b_ptr, b_idx, nchild = sym
    bounds = [b_idx[b_ptr[s] : b_ptr[s + 1]] for s in range(len(nchild))]
    kept = bounds[t][~np.isin(bounds[t], drop)]
    bounds[t] = np.concatenate([kept, np.asarray(add, dtype=np.int64)])
    ptr = np.concatenate([[0], np.cumsum([b.size for b in bounds])]).astype(np.int64)
    return nb, j_ptr, j_idx, ptr, np.concatenate(bounds), nchild


def _outside_parent_front(sym: tuple) -> tuple:
    """Leaf 0's boundary gains a root site that is not in its parent's front."""
    nb, j_ptr, j_idx, b_ptr, b_idx, nchild = sym
    p = _parents(nchild)[0]
    front = np.concatenate([j_idx[j_ptr[p] : j_ptr[p + 1]], b_idx[b_ptr[p] : b_ptr[p + 1]]])
    root = j_idx[j_ptr[-2] : j_ptr[-1]]
    return _with_boundary(sym, 0, add=[root[~np.isin(root, front)][0]])


def _dropped_coupling(sym: tuple) -> tuple:
    _, _, _, b_ptr, b_idx, _ = sym
    return _with_boundary(sym, 0, drop=[b_idx[b_ptr[0]]])


def _boundary_site_twice(sym: tuple) -> tuple:
    _, _, _, b_ptr, b_idx, _ = sym
    return _with_boundary(sym, 0, add=[b_idx[b_ptr[0]]])


def _site_twice(sym: tuple) -> tuple:
    nb, j_ptr, j_idx, b_ptr, b_idx, nchild = sym
    j = j_idx.copy()
    j[1] = j[0]
    return nb, j_ptr, j, b_ptr, b_idx, nchild


@pytest.mark.parametrize(
    "corrupt,match",
    [
        (
            _outside_parent_front,
            r"maps to row -1 of its parent node \d+'s front .* outside the front",
        ),
        (_dropped_coupling, "neither eliminated in its subtree nor on its boundary"),
        (_boundary_site_twice, "appears twice in node 0's boundary"),
        (_site_twice, "is eliminated 2 times"),
    ],
    ids=[
        "child-boundary-outside-parent-front",
        "dropped-coupling",
        "boundary-site-twice",
        "site-twice",
    ],
)
def test_corrupted_symbolic_structure_raises(corrupt, match, monkeypatch):
    real = check_tree
    real((12, 12), *symbolic((12, 12)))  # the sound tree passes
    monkeypatch.setattr(dissection, "check_tree", lambda shape, *sym: real(shape, *corrupt(sym)))
    with pytest.raises(CountingError, match=f"2-D count on the 12×12 torus: .*{match}"):
        symbolic.__wrapped__((12, 12))  # uncached: the cache keeps the sound tree


def test_factor_stats_count_every_pivot_and_show_delays(rng):
    """Constant V: binary energies are eigenvalues of inner blocks, forcing delays and 2×2s."""
    L1, L2 = 12, 12
    V = np.full((L1, L2), 0.25)
    ev = dense_spectrum(V)
    E = safe_energies(ev, np.concatenate([np.arange(-1.0, 12.0, 0.25), [-1e9, 1e9]]))
    s = factor_stats(V[None], E[None])
    np.testing.assert_array_equal(s["count"][0], np.searchsorted(ev, E, side="right"))
    np.testing.assert_array_equal(s["count"], count_lattice(V[None], E[None]))
    np.testing.assert_array_equal(s["pivots_1x1"] + 2 * s["pivots_2x2"], L1 * L2)
    assert s["pivots_2x2"].sum() > 0 and s["delayed"].sum() > 0
    assert s["pivots_1x1"][0, -1] == L1 * L2 and s["delayed"][0, -1] == 0  # not factorised


LARGE_FAMILIES = ["constant", "checkerboard", "sparse-wells", "bernoulli-1e6"]


def _large_potential(family: str, shape: tuple[int, int], rng) -> np.ndarray:
    x, y = np.indices(shape)
    return {
        "constant": lambda: np.full(shape, 0.25),
        "checkerboard": lambda: 3.0 * ((x + y) % 2),
        "sparse-wells": lambda: np.where(rng.random(shape) < 0.05, 0.0, 4.0),
        "bernoulli-1e6": lambda: np.where(rng.random(shape) < 0.3, 1e6, 1e-3),
    }[family]()


@pytest.mark.slow
@pytest.mark.parametrize("family", LARGE_FAMILIES)
@pytest.mark.parametrize("shape", [(32, 32), (48, 48)], ids=["32x32", "48x48"])
def test_large_lattices_with_delays_and_2x2_pivots_match_dense(shape, family, rng):
    """Exact counts at 32×32 and 48×48 on potentials and energies that force both
    branches: binary energies, eigenvalues of inner subtrees' blocks, staircase levels."""
    V = _large_potential(family, shape, rng)
    H = hamiltonian(V, dim=2).toarray()
    ev = np.linalg.eigvalsh(H)
    regions = _regions(*shape)
    _, j_ptr, j_idx, _, _, _ = symbolic(tuple(shape))
    inner = []
    for t in rng.choice(len(regions) - 1, 25, replace=False):
        for block in (regions[t], j_idx[j_ptr[t] : j_ptr[t + 1]]):
            inner.append(np.linalg.eigvalsh(H[np.ix_(block, block)]))
    levels = 0.5 * (ev[1:] + ev[:-1])  # every step of the staircase
    E = safe_energies(ev, np.concatenate([np.arange(-1.0, 12.0, 0.25), *inner, levels]))
    s = factor_stats(V[None], E[None])
    bad = np.flatnonzero(s["count"][0] != np.searchsorted(ev, E, side="right"))
    assert bad.size == 0, f"{family} {shape}: E={E[bad[:5]]} got {s['count'][0, bad[:5]]}"
    np.testing.assert_array_equal(s["pivots_1x1"] + 2 * s["pivots_2x2"], V.size)
    assert s["pivots_2x2"].sum() > 0, f"{family} {shape}: no 2×2 pivot over {E.size} energies"
    assert s["delayed"].sum() > 0, f"{family} {shape}: no delayed pivot over {E.size} energies"


@pytest.mark.parametrize(
    "shape", [(2, 2), (3, 5), (8, 8), (16, 16), pytest.param((23, 17), marks=pytest.mark.slow)]
)
def test_a_lapack_root_counts_the_same(shape, rng):
    """The root factorised by LAPACK's dsytrf (the default from LAPACK_ROOT rows, here
    forced at every size) counts like dense LAPACK, degenerate spectra included."""
    for name, V in potentials(shape, rng).items():
        ev = dense_spectrum(V)
        E = probe_energies(ev, rng)
        got = count_lattice(V[None], E[None], lapack_root=0)[0]
        bad = np.flatnonzero(got != np.searchsorted(ev, E, side="right"))
        assert bad.size == 0, f"{name} {shape}: E={E[bad[:5]]} got {got[bad[:5]]}"
