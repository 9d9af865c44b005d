"""The free lattice's integrated density of states as a torch op: values, the torus's
staircase against its dense spectrum, and the gradient (the density of states)."""

import numpy as np
import pytest
import torch

from lnet.models.free_idos import free_idos, torus_idos
from lnet.physics.weyl import free_torus_levels

DIMS = (1, 2, 3)


CONTINUUM = {  # N_d(e) as e -> 0: the continuum's k^d volume, k = √e
    1: lambda e: np.sqrt(e) / np.pi,
    2: lambda e: e / (4 * np.pi),
    3: lambda e: e**1.5 / (6 * np.pi**2),
}
LARGE = {1: (20000,), 2: (300, 300), 3: (64, 64, 64)}


@pytest.mark.parametrize("dim", DIMS)
def test_free_idos_band_edges_symmetry_continuum_limit_and_large_torus(dim):
    top = 4.0 * dim
    edges = free_idos(torch.tensor([-1.0, 0.0, top / 2, top, top + 1.0], dtype=torch.float64), dim)
    torch.testing.assert_close(edges, torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0], dtype=torch.float64))
    e = torch.linspace(0.1, top - 0.1, 50, dtype=torch.float64)
    torch.testing.assert_close(free_idos(top - e, dim), 1.0 - free_idos(e, dim))  # e -> 4d - e
    small = torch.tensor([1e-6, 1e-5], dtype=torch.float64)
    np.testing.assert_allclose(
        free_idos(small, dim).numpy(), CONTINUUM[dim](small.numpy()), rtol=1e-4
    )
    assert (torus_idos(e, LARGE[dim]) - free_idos(e, dim)).abs().max() < 0.01


@pytest.mark.parametrize("dim", DIMS)
def test_free_idos_gradient_is_the_density_of_states(dim):
    """Against finite differences of the values (gradcheck) away from the van Hove
    energies, and in 1-D against ρ(e) = 1 / (π √(e (4 - e)))."""
    e = torch.tensor(
        [-1.0, 0.3, 1.1, 2.7, 3.6, 4.5, 5.2, 7.5, 9.1, 11.3, 13.0], dtype=torch.float64
    )
    van_hove = torch.arange(0.0, 4.0 * dim + 1, 4.0)  # kinks of N_d: 0, 4, ..., 4d
    far = ((e[:, None] - van_hove).abs() > 0.2).all(dim=1)
    e = e[far].requires_grad_(True)
    torch.autograd.gradcheck(lambda x: free_idos(x, dim), (e,), eps=1e-6, atol=1e-6, rtol=1e-4)
    if dim == 1:
        inside = torch.tensor([0.3, 1.1, 2.7, 3.6], dtype=torch.float64, requires_grad=True)
        free_idos(inside, 1).sum().backward()
        x = inside.detach()
        torch.testing.assert_close(
            inside.grad, 1.0 / (np.pi * torch.sqrt(x * (4.0 - x))), rtol=1e-8, atol=0
        )


@pytest.mark.parametrize("shape", [(12,), (6, 5), (4, 3, 5)])
def test_torus_idos_counts_the_free_torus_levels(rng, shape):
    """N_L(e)·n is the number of free levels <= e, exactly, degenerate shells included
    (e on a shell counts it: the count is of levels <= e)."""
    levels = free_torus_levels(shape)
    e = np.concatenate([rng.uniform(-1, 4 * len(shape) + 1, 40), levels[::3]])
    got = torus_idos(torch.from_numpy(e), shape).numpy() * levels.size
    want = (levels[None, :] <= e[:, None]).sum(axis=1)
    np.testing.assert_array_equal(got, want)
    assert torus_idos(torch.from_numpy(e).float(), shape).dtype == torch.float32


def test_torus_idos_tends_to_the_infinite_lattice_and_takes_its_gradient():
    e = torch.linspace(0.05, 11.95, 200, dtype=torch.float64, requires_grad=True)
    big = torus_idos(e, (64, 64, 64))
    assert (big - free_idos(e, 3)).abs().max() < 0.01
    big.sum().backward()
    want = torch.autograd.grad(free_idos(e, 3).sum(), e)[0]
    torch.testing.assert_close(e.grad, want)


@pytest.mark.parametrize("shape", [(), (0, 3), (2, 2, 2, 2)])
def test_torus_idos_names_a_bad_shape(shape):
    with pytest.raises(ValueError, match="shape must give 1 to 3 sides"):
        torus_idos(torch.zeros(3, dtype=torch.float64), shape)
