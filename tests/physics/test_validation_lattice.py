"""Input checks of the 2-D and 3-D physics functions (dim=2, dim=3): clear ValueErrors
naming what is wrong, the same checks on either lattice."""

import re

import numpy as np
import pytest

from lnet.physics import (
    box_count,
    count_eigenvalues,
    eigenvalue_brackets,
    hamiltonian,
    kth_eigenvalue,
    landscape,
    landscape_potential,
    lowest_eigenvalues,
    periodic_gradient,
    weyl_count,
)
from lnet.physics.validation import DIMS, as_batch, as_energies, as_field, as_potential, check_dim

# name -> f(V, dim), each taking V as the potential(s) of the dim-D lattice
V_FUNCS = {
    "count_eigenvalues": lambda V, dim: count_eigenvalues(
        V, np.zeros(np.shape(V)[:-dim] + (2,)), dim=dim
    ),
    "landscape": lambda V, dim: landscape(V, dim=dim),
    "landscape_potential": lambda V, dim: landscape_potential(V, dim=dim),
    "lowest_eigenvalues": lambda V, dim: lowest_eigenvalues(V, 1, dim=dim),
    "eigenvalue_brackets": lambda V, dim: eigenvalue_brackets(V, 1, dim=dim),
    "kth_eigenvalue": lambda V, dim: kth_eigenvalue(V, 1, dim=dim),
    "hamiltonian": lambda V, dim: hamiltonian(V, dim=dim),
}
BATCH_FUNCS = [name for name in V_FUNCS if name != "hamiltonian"]  # one potential only


def sides(dim: int, batch: bool = False) -> str:
    """The pattern of the lattice shape as the messages write it: \\(L1, L2\\) for dim=2,
    \\(B, L1, L2\\) with ``batch``."""
    names = ["B"] * batch + [f"L{i}" for i in range(1, dim + 1)]
    return re.escape("(" + ", ".join(names) + ")")


def site(name: str, idx: tuple[int, ...]) -> str:
    """The pattern of the entry as the messages write it: W\\[2, 1\\] for ("W", (2, 1))."""
    return re.escape(f"{name}[{', '.join(map(str, idx))}]")


def _with(value, idx, shape):
    V = np.ones(shape)
    V[idx] = value
    return V


BAD_POTENTIALS = [
    # 2-D
    (2, _with(np.nan, (1, 2), (3, 4)), r"V\[1, 2\] = nan is not finite"),
    (2, _with(np.inf, (0, 3), (3, 4)), r"V\[0, 3\] = inf is not finite"),
    (2, _with(-1.0, (2, 0), (3, 4)), r"V\[2, 0\] = -1 is negative"),
    (2, np.zeros((3, 3)), "identically zero"),
    (2, np.ones((1, 5)), r"1 × 5 sites.*L1, L2 >= 2"),
    (2, np.ones((5, 1)), r"5 × 1 sites.*L1, L2 >= 2"),
    (2, np.ones((0, 3)), "empty"),
    (2, np.ones(5), r"\(L1, L2\) or \(B, L1, L2\) for dim=2, got 1 dimensions"),
    (2, np.ones((2, 2, 3, 3)), "4 dimensions"),
    (2, np.array(1.0), "0 dimensions"),
    # 3-D
    (3, _with(np.nan, (1, 2, 0), (3, 4, 5)), r"V\[1, 2, 0\] = nan is not finite"),
    (3, _with(np.inf, (0, 3, 4), (3, 4, 5)), r"V\[0, 3, 4\] = inf is not finite"),
    (3, _with(-np.inf, (2, 0, 1), (3, 4, 5)), r"V\[2, 0, 1\] = -inf is not finite"),
    (3, _with(-1.0, (2, 0, 3), (3, 4, 5)), r"V\[2, 0, 3\] = -1 is negative"),
    (3, _with(-1e-300, (1, 1, 1), (2, 2, 2)), r"V\[1, 1, 1\] = -1e-300 is negative"),
    (3, np.zeros((3, 3, 3)), "identically zero"),
    (3, np.ones((1, 5, 3)), r"1 × 5 × 3 sites.*L1, L2, L3 >= 2"),
    (3, np.ones((5, 3, 1)), r"5 × 3 × 1 sites.*L1, L2, L3 >= 2"),
    (3, np.ones((0, 3, 3)), "empty"),
    (3, np.ones((4, 4)), r"\(L1, L2, L3\) or \(B, L1, L2, L3\) for dim=3, got 2 dimensions"),
    (3, np.ones(5), "got 1 dimensions"),
    (3, np.ones((2, 2, 2, 3, 3)), "5 dimensions"),
    (3, np.array(1.0), "0 dimensions"),
    (3, [[[1.0, "a"]]], "real array"),
]


@pytest.mark.parametrize("fname", V_FUNCS)
@pytest.mark.parametrize("dim,V,message", BAD_POTENTIALS)
def test_bad_potentials(dim, V, message, fname):
    with pytest.raises(ValueError, match=message):
        V_FUNCS[fname](V, dim)


# (V, message): a batch's bad entry is named by potential and site
BATCH_ERRORS = {
    2: [
        (_with(-1.0, (3, 0, 5), (4, 6, 7)), r"V\[3, 0, 5\] = -1 is negative"),
        (_with(np.nan, (2, 5, 6), (4, 6, 7)), r"V\[2, 5, 6\] = nan is not finite"),
        (_with(0.0, 1, (4, 6, 7)), r"V\[1\] is identically zero"),
        (np.ones((0, 2, 7)), r"2 × 7 sites|empty"),
    ],
    3: [
        (_with(-1.0, (2, 0, 3, 1), (3, 4, 5, 3)), r"V\[2, 0, 3, 1\] = -1 is negative"),
        (_with(np.nan, (1, 3, 4, 2), (3, 4, 5, 3)), r"V\[1, 3, 4, 2\] = nan is not finite"),
        (_with(0.0, 1, (3, 4, 5, 3)), r"V\[1\] is identically zero"),
        (np.ones((0, 2, 2, 2)), "empty"),
        (np.ones((2, 2, 1, 4)), r"2 × 1 × 4 sites"),
    ],
}


@pytest.mark.parametrize("fname", BATCH_FUNCS)
@pytest.mark.parametrize("dim", [2, 3])
def test_batch_errors_name_the_potential_and_site(dim, fname):
    for V, message in BATCH_ERRORS[dim]:
        with pytest.raises(ValueError, match=message):
            V_FUNCS[fname](V, dim)


# on the lattice of dim, the bad values of dim (its own dim as a float or a string among them)
BAD_DIMS = [(d, bad) for d in (2, 3) for bad in (0, 4, -1, True, float(d), str(d), None)]


@pytest.mark.parametrize("lattice,dim", BAD_DIMS, ids=repr)
def test_bad_dim_is_named(lattice, dim):
    V = np.ones({2: (4, 4), 3: (3, 3, 3)}[lattice])
    E = np.zeros(2)
    calls = [
        lambda: check_dim(dim),
        lambda: as_field(V, "V", dim=dim),
        lambda: as_potential(V, dim=dim),
        lambda: as_energies(E, V, dim=dim),
        lambda: count_eigenvalues(V, E, dim=dim),
        lambda: hamiltonian(V, dim=dim),
        lambda: landscape(V, dim=dim),
        lambda: landscape_potential(V, dim=dim),
        lambda: periodic_gradient(V, dim=dim),
        lambda: lowest_eigenvalues(V, 1, dim=dim),
        lambda: eigenvalue_brackets(V, 1, dim=dim),
        lambda: kth_eigenvalue(V, 1, dim=dim),
        lambda: box_count(V, E, dim=dim),
        lambda: weyl_count(V, E, dim=dim),
        lambda: weyl_count(V, E, kind="lattice", dim=dim),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"dim must be 1, 2 or 3 \(the lattice dimension\)"):
            call()


@pytest.mark.parametrize("dim,shape,batch", [(2, (2, 3), (5, 2, 9)), (3, (2, 3, 4), (5, 2, 9, 3))])
def test_valid_shapes_pass_through(dim, shape, batch):
    assert DIMS == (1, 2, 3)
    V = np.arange(1.0, np.prod(shape) + 1.0).reshape(shape)
    a = as_potential(V, dim=dim)
    assert a.dtype == np.float64 and a.shape == shape
    corner = np.eye(2**dim, dtype=int)[0].reshape((2,) * dim)  # L = 2 is a lattice
    assert as_potential(corner.tolist(), dim=dim).shape == corner.shape  # nested lists of ints
    assert as_potential(corner.astype(float), dim=dim).shape == corner.shape
    assert as_potential(np.ones(batch), dim=dim).shape == batch
    assert as_field(-np.ones((3,) * dim), "f", dim=dim).shape == (3,) * dim  # fields may be < 0
    assert as_energies(0.5, V, dim=dim).shape == (1,)  # 0-d E for one potential
    assert as_energies([0.5, 1.0], V, dim=dim).shape == (2,)
    assert as_energies(np.ones((5, 3)), np.ones(batch), dim=dim).shape == (5, 3)
    assert as_batch(V, dim=dim).shape == (1, *shape)
    assert check_dim(np.int64(dim)) == dim


@pytest.mark.parametrize(
    "dim,V,E,message",
    [
        # 2-D
        (2, np.ones((3, 4)), np.array([0.1, np.nan]), r"E\[1\] = nan is not finite"),
        (2, np.ones((3, 4)), np.ones((2, 2)), r"E must have shape \(m,\) for a single potential"),
        (2, np.ones((3, 4, 5)), np.ones((2, 4)), r"\(B, m\) = \(3, m\)"),
        (2, np.ones((3, 4, 5)), np.ones(4), r"\(B, m\) = \(3, m\)"),
        (2, np.ones((3, 4, 5)), np.ones((3, 2, 2)), r"\(B, m\) = \(3, m\)"),
        (2, np.ones((3, 4, 5)), np.full((3, 2), np.inf), r"E\[0, 0\] = inf is not finite"),
        (2, np.ones((3, 4)), np.array([]), "E is empty"),
        (2, np.ones((3, 4)), "abc", "real array"),
        # 3-D
        (3, np.ones((3, 4, 2)), np.array([0.1, np.nan]), r"E\[1\] = nan is not finite"),
        (
            3,
            np.ones((3, 4, 2)),
            np.ones((2, 2)),
            r"E must have shape \(m,\) for a single potential",
        ),
        (3, np.ones((3, 4, 5, 2)), np.ones((2, 4)), r"\(B, m\) = \(3, m\)"),
        (3, np.ones((3, 4, 5, 2)), np.ones(4), r"\(B, m\) = \(3, m\)"),
        (3, np.ones((3, 4, 5, 2)), np.full((3, 2), np.inf), r"E\[0, 0\] = inf is not finite"),
        (3, np.ones((3, 4, 2)), np.array([]), "E is empty"),
        (3, np.ones((3, 4, 2)), "abc", "real array"),
    ],
)
def test_bad_energies(dim, V, E, message):
    for f in (count_eigenvalues, box_count, weyl_count):
        with pytest.raises(ValueError, match=message):
            f(V, E, dim=dim)
    with pytest.raises(ValueError, match=message):
        weyl_count(V, E, kind="lattice", dim=dim)


@pytest.mark.parametrize("dim", [2, 3])
def test_hamiltonian_is_one_potential_only(dim):
    with pytest.raises(ValueError, match=rf"one potential of shape {sides(dim)}"):
        hamiltonian(np.ones((2,) + (3,) * dim), dim=dim)


@pytest.mark.parametrize(
    "shape,low,nan,wrong_rank",
    [
        ((3, 4), (2, 1), (1, 0, 3), (5,)),
        ((3, 4, 2), (2, 1, 0), (1, 0, 3, 1), (4, 4)),
    ],
    ids=["2d", "3d"],
)
def test_landscape_laws_reject_bad_W(shape, low, nan, wrong_rank):
    dim = len(shape)
    W = np.ones(shape)
    W[low] = -1.0
    for f in (box_count, weyl_count):
        with pytest.raises(ValueError, match=site("W", low) + " = -1 is negative"):
            f(W, [0.5], dim=dim)
    Wb = np.ones((2, *shape))
    Wb[nan] = np.nan
    with pytest.raises(ValueError, match=site("W", nan) + " = nan is not finite"):
        weyl_count(Wb, np.ones((2, 1)), kind="lattice", dim=dim)
    with pytest.raises(
        ValueError, match=f"W must have shape {sides(dim)} or {sides(dim, batch=True)}"
    ):
        box_count(np.ones(wrong_rank), [0.5], dim=dim)


@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 5)], ids=["3x4", "3x4x5"])
def test_bad_k_and_rtol(shape):
    dim, n = len(shape), int(np.prod(shape))
    V = np.ones(shape)
    for k in (0, -1, n + 1, 2.5, True):
        with pytest.raises(ValueError, match=rf"k must be an integer with 1 <= k <= n = {n}"):
            lowest_eigenvalues(V, k, dim=dim)
        for f in (kth_eigenvalue, eigenvalue_brackets):
            with pytest.raises(ValueError, match=r"k must be"):
                f(V, k, dim=dim)
    for rtol in (0.0, 1.0):
        with pytest.raises(ValueError, match="rtol must be in"):
            eigenvalue_brackets(V, 2, rtol=rtol, dim=dim)


@pytest.mark.parametrize("shape,nan", [((2, 2), (0, 1)), ((2, 3, 4), (1, 2, 3))], ids=["2d", "3d"])
def test_periodic_gradient_checks_its_field(shape, nan):
    dim = len(shape)
    f = np.zeros(shape)
    f[nan] = np.nan
    with pytest.raises(ValueError, match=site("f", nan) + " = nan is not finite"):
        periodic_gradient(f, dim=dim)
    with pytest.raises(ValueError, match=rf"f must have shape {sides(dim)}"):
        periodic_gradient(np.ones((4,) * (dim - 1)), dim=dim)
