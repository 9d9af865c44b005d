"""Input checks of the 3-D physics functions (dim=3): clear ValueErrors naming what is wrong."""

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

V_FUNCS = [
    (
        "count_eigenvalues",
        lambda V: count_eigenvalues(V, np.zeros(np.shape(V)[:-3] + (2,)), dim=3),
    ),
    ("landscape", lambda V: landscape(V, dim=3)),
    ("landscape_potential", lambda V: landscape_potential(V, dim=3)),
    ("lowest_eigenvalues", lambda V: lowest_eigenvalues(V, 1, dim=3)),
    ("eigenvalue_brackets", lambda V: eigenvalue_brackets(V, 1, dim=3)),
    ("kth_eigenvalue", lambda V: kth_eigenvalue(V, 1, dim=3)),
    ("hamiltonian", lambda V: hamiltonian(V, dim=3)),
]


def _with(value, idx, shape=(3, 4, 5, 3)):
    V = np.ones(shape)
    V[idx] = value
    return V


@pytest.mark.parametrize("fname,f", V_FUNCS, ids=[n for n, _ in V_FUNCS])
@pytest.mark.parametrize(
    "V,message",
    [
        (_with(np.nan, (1, 2, 0), (3, 4, 5)), r"V\[1, 2, 0\] = nan is not finite"),
        (_with(np.inf, (0, 3, 4), (3, 4, 5)), r"V\[0, 3, 4\] = inf is not finite"),
        (_with(-np.inf, (2, 0, 1), (3, 4, 5)), r"V\[2, 0, 1\] = -inf is not finite"),
        (_with(-1.0, (2, 0, 3), (3, 4, 5)), r"V\[2, 0, 3\] = -1 is negative"),
        (_with(-1e-300, (1, 1, 1), (2, 2, 2)), r"V\[1, 1, 1\] = -1e-300 is negative"),
        (np.zeros((3, 3, 3)), "identically zero"),
        (np.ones((1, 5, 3)), r"1 × 5 × 3 sites.*L1, L2, L3 >= 2"),
        (np.ones((5, 3, 1)), r"5 × 3 × 1 sites.*L1, L2, L3 >= 2"),
        (np.ones((0, 3, 3)), "empty"),
        (np.ones((4, 4)), r"\(L1, L2, L3\) or \(B, L1, L2, L3\) for dim=3, got 2 dimensions"),
        (np.ones(5), "got 1 dimensions"),
        (np.ones((2, 2, 2, 3, 3)), "5 dimensions"),
        (np.array(1.0), "0 dimensions"),
        ([[[1.0, "a"]]], "real array"),
    ],
)
def test_bad_potentials(fname, f, V, message):
    with pytest.raises(ValueError, match=message):
        f(V)


@pytest.mark.parametrize("fname,f", V_FUNCS[:6], ids=[n for n, _ in V_FUNCS[:6]])
def test_batch_errors_name_the_potential_and_site(fname, f):
    with pytest.raises(ValueError, match=r"V\[2, 0, 3, 1\] = -1 is negative"):
        f(_with(-1.0, (2, 0, 3, 1)))
    with pytest.raises(ValueError, match=r"V\[1, 3, 4, 2\] = nan is not finite"):
        f(_with(np.nan, (1, 3, 4, 2)))
    V = np.ones((3, 4, 5, 3))
    V[1] = 0.0
    with pytest.raises(ValueError, match=r"V\[1\] is identically zero"):
        f(V)
    with pytest.raises(ValueError, match=r"empty"):
        f(np.ones((0, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"2 × 1 × 4 sites"):
        f(np.ones((2, 2, 1, 4)))


@pytest.mark.parametrize("dim", [0, 4, -1, True, 3.0, "3", None], ids=repr)
def test_bad_dim_is_named(dim):
    V = np.ones((3, 3, 3))
    E = np.zeros(2)
    calls = [
        lambda: check_dim(dim),
        lambda: as_field(V, "V", dim=dim),
        lambda: as_potential(V, dim=dim),
        lambda: as_energies(E, V, dim=dim),
        lambda: count_eigenvalues(V, E, dim=dim),
        lambda: hamiltonian(V, dim=dim),
        lambda: landscape(V, dim=dim),
        lambda: periodic_gradient(V, dim=dim),
        lambda: lowest_eigenvalues(V, 1, dim=dim),
        lambda: eigenvalue_brackets(V, 1, dim=dim),
        lambda: kth_eigenvalue(V, 1, dim=dim),
        lambda: box_count(V, E, dim=dim),
        lambda: weyl_count(V, E, dim=dim),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"dim must be 1, 2 or 3 \(the lattice dimension\)"):
            call()


def test_valid_shapes_pass_through():
    assert DIMS == (1, 2, 3)
    V = np.arange(1.0, 25.0).reshape(2, 3, 4)
    a = as_potential(V, dim=3)
    assert a.dtype == np.float64 and a.shape == (2, 3, 4)
    assert as_potential(np.eye(8)[0].reshape(2, 2, 2), dim=3).shape == (2, 2, 2)  # L = 2
    assert as_potential(np.ones((5, 2, 9, 3)), dim=3).shape == (5, 2, 9, 3)
    assert as_field(-np.ones((3, 3, 3)), "f", dim=3).shape == (3, 3, 3)  # fields may be < 0
    assert as_energies(0.5, V, dim=3).shape == (1,)  # 0-d E for one potential
    assert as_energies([0.5, 1.0], V, dim=3).shape == (2,)
    assert as_energies(np.ones((5, 3)), np.ones((5, 2, 9, 3)), dim=3).shape == (5, 3)
    assert as_batch(V, dim=3).shape == (1, 2, 3, 4)
    assert check_dim(np.int64(3)) == 3


@pytest.mark.parametrize(
    "V,E,message",
    [
        (np.ones((3, 4, 2)), np.array([0.1, np.nan]), r"E\[1\] = nan is not finite"),
        (np.ones((3, 4, 2)), np.ones((2, 2)), r"E must have shape \(m,\) for a single potential"),
        (np.ones((3, 4, 5, 2)), np.ones((2, 4)), r"\(B, m\) = \(3, m\)"),
        (np.ones((3, 4, 5, 2)), np.ones(4), r"\(B, m\) = \(3, m\)"),
        (np.ones((3, 4, 5, 2)), np.full((3, 2), np.inf), r"E\[0, 0\] = inf is not finite"),
        (np.ones((3, 4, 2)), np.array([]), "E is empty"),
        (np.ones((3, 4, 2)), "abc", "real array"),
    ],
)
def test_bad_energies(V, E, message):
    for f in (count_eigenvalues, box_count, weyl_count):
        with pytest.raises(ValueError, match=message):
            f(V, E, dim=3)
    with pytest.raises(ValueError, match=message):
        weyl_count(V, E, kind="lattice", dim=3)


def test_hamiltonian_is_one_potential_only():
    with pytest.raises(ValueError, match=r"one potential of shape \(L1, L2, L3\)"):
        hamiltonian(np.ones((2, 3, 3, 3)), dim=3)


def test_landscape_laws_reject_bad_W():
    W = np.ones((3, 4, 2))
    W[2, 1, 0] = -1.0
    for f in (box_count, weyl_count):
        with pytest.raises(ValueError, match=r"W\[2, 1, 0\] = -1 is negative"):
            f(W, [0.5], dim=3)
    Wb = np.ones((2, 3, 4, 2))
    Wb[1, 0, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"W\[1, 0, 3, 1\] = nan is not finite"):
        weyl_count(Wb, np.ones((2, 1)), kind="lattice", dim=3)
    with pytest.raises(ValueError, match=r"W must have shape \(L1, L2, L3\) or \(B, L1, L2, L3\)"):
        box_count(np.ones((4, 4)), [0.5], dim=3)


def test_bad_k_and_rtol_in_3d():
    V = np.ones((3, 4, 5))
    for k in (0, -1, 61, 2.5, True):
        with pytest.raises(ValueError, match=r"k must be an integer with 1 <= k <= n = 60"):
            lowest_eigenvalues(V, k, dim=3)
        with pytest.raises(ValueError, match=r"k must be"):
            kth_eigenvalue(V, k, dim=3)
        with pytest.raises(ValueError, match=r"k must be"):
            eigenvalue_brackets(V, k, dim=3)
    with pytest.raises(ValueError, match="rtol must be in"):
        eigenvalue_brackets(V, 2, rtol=1.0, dim=3)


def test_periodic_gradient_checks_its_field():
    f = np.zeros((2, 3, 4))
    f[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"f\[1, 2, 3\] = nan is not finite"):
        periodic_gradient(f, dim=3)
    with pytest.raises(ValueError, match=r"f must have shape \(L1, L2, L3\)"):
        periodic_gradient(np.ones((4, 4)), dim=3)


def test_landscape_beyond_float64():
    """Deflation resolves V far below round-off of 6 + V; only n / Σ V overflowing fails."""
    u = landscape(np.full((3, 4, 2), 1e-300), dim=3)
    np.testing.assert_allclose(u, 1e300, rtol=2e-16)
    with pytest.raises(ValueError, match=r"^V: the 3-D landscape did not converge"):
        landscape(np.full((3, 3, 3), 1e-310), dim=3)
    V = np.ones((2, 3, 3, 3))
    V[1] = 1e-310
    with pytest.raises(ValueError, match=r"^V\[1\]: the 3-D landscape did not converge"):
        landscape(V, dim=3)
