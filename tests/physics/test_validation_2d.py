"""Input checks of the 2-D physics functions (dim=2): clear ValueErrors naming what is wrong."""

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
from lnet.physics.validation import as_energies, as_field, as_potential, check_dim

V_FUNCS = [
    (
        "count_eigenvalues",
        lambda V: count_eigenvalues(V, np.zeros(np.shape(V)[:-2] + (2,)), dim=2),
    ),
    ("landscape", lambda V: landscape(V, dim=2)),
    ("landscape_potential", lambda V: landscape_potential(V, dim=2)),
    ("lowest_eigenvalues", lambda V: lowest_eigenvalues(V, 1, dim=2)),
    ("eigenvalue_brackets", lambda V: eigenvalue_brackets(V, 1, dim=2)),
    ("kth_eigenvalue", lambda V: kth_eigenvalue(V, 1, dim=2)),
    ("hamiltonian", lambda V: hamiltonian(V, dim=2)),
]


def _with(value, idx, shape=(4, 6, 7)):
    V = np.ones(shape)
    V[idx] = value
    return V


@pytest.mark.parametrize("fname,f", V_FUNCS, ids=[n for n, _ in V_FUNCS])
@pytest.mark.parametrize(
    "V,message",
    [
        (_with(np.nan, (1, 2), (3, 4)), r"V\[1, 2\] = nan is not finite"),
        (_with(np.inf, (0, 3), (3, 4)), r"V\[0, 3\] = inf is not finite"),
        (_with(-1.0, (2, 0), (3, 4)), r"V\[2, 0\] = -1 is negative"),
        (np.zeros((3, 3)), "identically zero"),
        (np.ones((1, 5)), r"1 × 5 sites.*L1, L2 >= 2"),
        (np.ones((5, 1)), r"5 × 1 sites.*L1, L2 >= 2"),
        (np.ones((0, 3)), "empty"),
        (np.ones(5), r"\(L1, L2\) or \(B, L1, L2\) for dim=2, got 1 dimensions"),
        (np.ones((2, 2, 3, 3)), "4 dimensions"),
        (np.array(1.0), "0 dimensions"),
    ],
)
def test_bad_potentials(fname, f, V, message):
    with pytest.raises(ValueError, match=message):
        f(V)


@pytest.mark.parametrize("fname,f", V_FUNCS[:6], ids=[n for n, _ in V_FUNCS[:6]])
def test_batch_errors_name_the_potential_and_site(fname, f):
    with pytest.raises(ValueError, match=r"V\[3, 0, 5\] = -1 is negative"):
        f(_with(-1.0, (3, 0, 5)))
    with pytest.raises(ValueError, match=r"V\[2, 5, 6\] = nan is not finite"):
        f(_with(np.nan, (2, 5, 6)))
    V = np.ones((4, 6, 7))
    V[1] = 0.0
    with pytest.raises(ValueError, match=r"V\[1\] is identically zero"):
        f(V)
    with pytest.raises(ValueError, match=r"2 × 7 sites|empty"):
        f(np.ones((0, 2, 7)))


BAD_DIMS = [0, 4, -1, True, 2.0, "2", None]  # 3 is the 3-D lattice (test_validation_3d.py)


@pytest.mark.parametrize("dim", BAD_DIMS, ids=repr)
def test_bad_dim_is_named(dim):
    V = np.ones((4, 4))
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
        with pytest.raises(ValueError, match=r"dim must be 1, 2 or 3"):
            call()


def test_valid_shapes_pass_through():
    V = np.arange(1.0, 7.0).reshape(2, 3)
    a = as_potential(V, dim=2)
    assert a.dtype == np.float64 and a.shape == (2, 3)
    assert as_potential([[1, 0], [0, 0]], dim=2).shape == (2, 2)  # L = 2 is a lattice
    assert as_potential(np.ones((5, 2, 9)), dim=2).shape == (5, 2, 9)
    assert as_field(-np.ones((3, 3)), "f", dim=2).shape == (3, 3)  # fields may be negative
    assert as_energies(0.5, V, dim=2).shape == (1,)  # 0-d E for one potential
    assert as_energies([0.5, 1.0], V, dim=2).shape == (2,)
    assert as_energies(np.ones((5, 3)), np.ones((5, 2, 9)), dim=2).shape == (5, 3)
    assert check_dim(np.int64(2)) == 2


@pytest.mark.parametrize(
    "V,E,message",
    [
        (np.ones((3, 4)), np.array([0.1, np.nan]), r"E\[1\] = nan is not finite"),
        (np.ones((3, 4)), np.ones((2, 2)), r"E must have shape \(m,\) for a single potential"),
        (np.ones((3, 4, 5)), np.ones((2, 4)), r"\(B, m\) = \(3, m\)"),
        (np.ones((3, 4, 5)), np.ones(4), r"\(B, m\) = \(3, m\)"),
        (np.ones((3, 4, 5)), np.ones((3, 2, 2)), r"\(B, m\) = \(3, m\)"),
        (np.ones((3, 4, 5)), np.full((3, 2), np.inf), r"E\[0, 0\] = inf is not finite"),
        (np.ones((3, 4)), np.array([]), "E is empty"),
        (np.ones((3, 4)), "abc", "real array"),
    ],
)
def test_bad_energies(V, E, message):
    for f in (count_eigenvalues, box_count, weyl_count):
        with pytest.raises(ValueError, match=message):
            f(V, E, dim=2)


def test_hamiltonian_is_one_potential_only():
    with pytest.raises(ValueError, match=r"one potential of shape \(L1, L2\)"):
        hamiltonian(np.ones((2, 3, 3)), dim=2)


def test_landscape_laws_reject_bad_W():
    W = np.ones((3, 4))
    W[2, 1] = -1.0
    with pytest.raises(ValueError, match=r"W\[2, 1\] = -1 is negative"):
        box_count(W, [0.5], dim=2)
    with pytest.raises(ValueError, match=r"W\[2, 1\] = -1 is negative"):
        weyl_count(W, [0.5], dim=2)
    Wb = np.ones((2, 3, 4))
    Wb[1, 0, 3] = np.nan
    with pytest.raises(ValueError, match=r"W\[1, 0, 3\] = nan is not finite"):
        weyl_count(Wb, np.ones((2, 1)), kind="lattice", dim=2)
    with pytest.raises(ValueError, match=r"W must have shape \(L1, L2\) or \(B, L1, L2\)"):
        box_count(np.ones(5), [0.5], dim=2)


def test_bad_k_and_rtol_in_2d():
    V = np.ones((3, 4))
    for k in (0, -1, 13, 2.5, True):
        with pytest.raises(ValueError, match=r"k must be an integer with 1 <= k <= n = 12"):
            lowest_eigenvalues(V, k, dim=2)
        with pytest.raises(ValueError, match=r"k must be"):
            kth_eigenvalue(V, k, dim=2)
    with pytest.raises(ValueError, match="rtol must be in"):
        eigenvalue_brackets(V, 2, rtol=0.0, dim=2)


def test_periodic_gradient_checks_its_field():
    with pytest.raises(ValueError, match=r"f\[0, 1\] = nan is not finite"):
        periodic_gradient(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"f must have shape \(L1, L2\)"):
        periodic_gradient(np.ones(4))


def test_landscape_of_a_potential_below_round_off():
    with pytest.raises(ValueError, match="V is too small to resolve"):
        landscape(np.full((4, 4), 1e-20), dim=2)
    V = np.ones((2, 4, 4))
    V[1] = 1e-19
    with pytest.raises(ValueError, match=r"V\[1\] is too small"):
        landscape(V, dim=2)
