import numpy as np
import pytest

from lnet.physics import (
    box_count,
    count_eigenvalues,
    hamiltonian,
    landscape,
    landscape_potential,
    lowest_eigenvalues,
    weyl_count,
)

V_FUNCS = [
    ("count_eigenvalues", lambda V: count_eigenvalues(V, np.zeros(np.shape(V)[:-1] + (2,)))),
    ("landscape", landscape),
    ("landscape_potential", landscape_potential),
    ("lowest_eigenvalues", lambda V: lowest_eigenvalues(V, 1)),
    ("hamiltonian", hamiltonian),
]


@pytest.mark.parametrize("fname,f", V_FUNCS, ids=[n for n, _ in V_FUNCS])
@pytest.mark.parametrize(
    "V,message",
    [
        (np.array([1.0, np.nan, 2.0, 1.0]), r"V\[1\] = nan is not finite"),
        (np.array([1.0, 2.0, np.inf, 1.0]), r"V\[2\] = inf is not finite"),
        (np.array([1.0, 2.0, 1.0, -0.5]), r"V\[3\] = -0.5 is negative"),
        (np.zeros(5), "identically zero"),
        (np.ones(2), "n >= 3"),
        (np.ones((0,)), "empty"),
        (np.ones((2, 2, 5)), "3 dimensions"),
        (np.array(1.0), "0 dimensions"),
    ],
)
def test_bad_potentials(fname, f, V, message):
    with pytest.raises(ValueError, match=message):
        f(V)


def test_batch_error_names_row_and_site():
    V = np.ones((3, 6))
    V[2, 4] = -1.0
    with pytest.raises(ValueError, match=r"V\[2, 4\]"):
        landscape(V)
    V = np.ones((3, 6))
    V[1] = 0.0
    with pytest.raises(ValueError, match=r"V\[1\] is identically zero"):
        count_eigenvalues(V, np.zeros((3, 1)))


@pytest.mark.parametrize(
    "V,E,message",
    [
        (np.ones(5), np.array([0.1, np.nan]), r"E\[1\] = nan is not finite"),
        (np.ones(5), np.ones((2, 2)), r"E must have shape \(m,\)"),
        (np.ones((3, 5)), np.ones((2, 4)), r"\(3, m\)"),
        (np.ones((3, 5)), np.ones(4), r"\(3, m\)"),
        (np.ones(5), np.array([]), "E is empty"),
        (np.ones(5), "abc", "real array"),
    ],
)
def test_bad_energies(V, E, message):
    for f in (count_eigenvalues, box_count, weyl_count):
        with pytest.raises(ValueError, match=message):
            f(V, E)


def test_hamiltonian_is_one_potential_only():
    with pytest.raises(ValueError, match="one potential"):
        hamiltonian(np.ones((2, 5)))


def test_landscape_laws_reject_bad_W():
    with pytest.raises(ValueError, match=r"W\[2\] = -1 is negative"):
        box_count(np.array([1.0, 1.0, -1.0]), [0.5])
    with pytest.raises(ValueError, match=r"W\[0\] = nan is not finite"):
        weyl_count(np.array([np.nan, 1.0, 1.0]), [0.5])


def test_landscape_of_a_potential_below_round_off():
    with pytest.raises(ValueError, match="V is too small to resolve"):
        landscape(np.array([1e-20, 0.0, 0.0]))
    V = np.ones((2, 5))
    V[1] = 1e-17
    with pytest.raises(ValueError, match=r"V\[1\] is too small"):
        landscape(V)


def test_shared_energies_for_a_batch():
    """``as_energies(..., shared=True)`` (kpm_counts) also takes one (m,) row for a batch;
    by default a batch needs (B, m)."""
    from lnet.physics.validation import as_energies

    V = np.ones((3, 5))
    assert as_energies([0.5, 1.0], V, shared=True).shape == (2,)
    assert as_energies(np.ones((3, 2)), V, shared=True).shape == (3, 2)
    with pytest.raises(ValueError, match=r"E must have shape \(B, m\) = \(3, m\)"):
        as_energies([0.5, 1.0], V)
    with pytest.raises(ValueError, match=r"E must have shape \(m,\) or \(B, m\) = \(3, m\)"):
        as_energies(np.ones((2, 2)), V, shared=True)
    with pytest.raises(ValueError, match=r"E\[1\] = inf is not finite"):
        as_energies([0.5, np.inf], V, shared=True)
