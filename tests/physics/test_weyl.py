"""The torus form of the landscape Weyl law: the free staircase of W's own periodic
lattice, against dense LAPACK, and its limit, the lattice form."""

import numpy as np
import pytest

from lnet.physics import hamiltonian, landscape_potential, weyl_count
from lnet.physics.weyl import free_torus_levels


@pytest.mark.parametrize("shape", [(1,), (2,), (7,), (2, 3), (4, 4), (5, 3), (2, 2, 2), (3, 4, 2)])
def test_torus_levels_are_the_free_spectrum_of_the_periodic_lattice(shape):
    """Against dense LAPACK of the free Hamiltonian (the 1-D chains of 1 and 2 sites,
    which the builder refuses, by hand)."""
    levels = free_torus_levels(shape)
    assert levels.shape == (int(np.prod(shape)),) and not levels.flags.writeable
    if shape == (1,) or shape == (2,):  # H = 0 on one site; [[2, -2], [-2, 2]] on two
        np.testing.assert_allclose(levels, [0.0, 4.0][: shape[0]], atol=1e-15)
    else:
        dense = np.linalg.eigvalsh(hamiltonian(np.full(shape, 0.5), dim=len(shape)).toarray()) - 0.5
        np.testing.assert_allclose(levels, dense, atol=1e-12)
    assert levels[0] == 0.0 and np.all(np.diff(levels) >= 0)


@pytest.mark.parametrize("shape", [(9,), (4, 5), (3, 4, 2)])
def test_torus_weyl_law_is_the_free_torus_count_at_each_site(rng, shape):
    """Σ_x #{ε <= E - W(x)} / n with ε from the dense free spectrum; batched and single."""
    dim = len(shape)
    V = rng.random((3, *shape)) * 2.0
    W = np.stack([landscape_potential(v, dim=dim) for v in V])
    E = rng.uniform(0.0, 4.0 * dim + 2.0, (3, 11))
    free = np.linalg.eigvalsh(hamiltonian(np.full(shape, 0.5), dim=dim).toarray()) - 0.5
    want = (free[None, None, None, :] <= (E[:, :, None] - W.reshape(3, 1, -1))[..., None]).sum(
        axis=(-1, -2)
    ) / free.size
    np.testing.assert_allclose(
        weyl_count(W, E, kind="torus", dim=dim), want, rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(weyl_count(W[1], E[1], kind="torus", dim=dim), want[1], rtol=1e-12)


@pytest.mark.parametrize("shape", [(4000,), (120, 120), (40, 40, 40)])
def test_torus_weyl_law_tends_to_the_lattice_law(rng, shape):
    dim = len(shape)
    W = 0.3 + 0.2 * rng.random(shape)
    E = np.linspace(0.5, 3.0, 12)
    torus = weyl_count(W, E, kind="torus", dim=dim)
    lattice = weyl_count(W, E, kind="lattice", dim=dim)
    np.testing.assert_allclose(torus, lattice, rtol=0.02)


def test_weyl_count_names_an_unknown_kind(rng):
    with pytest.raises(ValueError, match="'continuum', 'lattice' or 'torus'"):
        weyl_count(0.5 + rng.random(8), [1.0], kind="staircase")
