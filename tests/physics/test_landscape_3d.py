"""The 3-D landscape beyond dense sizes, its separable case and its failure mode; the
comparisons with the 2-D landscape's references are in test_landscape_lattice.py."""

import importlib

import numpy as np
import pytest

from lnet.physics import landscape
from lnet.physics.landscape import residual_3d
from tests.physics.test_landscape_lattice import EPS, make

landscape_module = importlib.import_module("lnet.physics.landscape")  # the module, not the function


@pytest.mark.parametrize("kind", ["1", "1e-6", "1e6", "mixed", "spikes"])
def test_32_cubed_backward_error_at_round_off(kind, rng):
    """Beyond dense sizes: |1 - H u| (long double) is a few ε of |H| u, and the maximum
    principle holds; H is an M-matrix, so |u - u_exact| <= H⁻¹|1 - H u| site by site."""
    V = make(kind, (32, 32, 32), rng)
    u = landscape(V, dim=3)
    r = residual_3d(V, u).astype(np.float64)
    assert np.max(np.abs(r) / (1 + (12 + V) * u)) <= 4 * EPS
    assert np.all(u >= (1 - 1e-12) / V.max()) and np.all(u <= (1 + 1e-12) / V.min())


def test_separable_potential_is_not_special_but_side_two_is(rng):
    """A side of 2 doubles the bond: the 2×L2×L3 landscape of V(x, y, z) = a(y, z) is the
    2-D landscape of a with the x-axis adding nothing (u constant along x)."""
    a = rng.random((5, 6)) + 0.1
    V = np.stack([a, a])
    u = landscape(V, dim=3)
    np.testing.assert_allclose(u[0], u[1], rtol=1e-15)
    np.testing.assert_allclose(u[0], landscape(a, dim=2), rtol=1e-13)


def test_a_refinement_that_cannot_converge_raises(monkeypatch, rng):
    """Inner solves that return garbage never become a silent wrong landscape."""
    monkeypatch.setattr(
        landscape_module, "_deflated_cg", lambda H, v, total, b, tol, maxiter: -b / v.mean()
    )
    with pytest.raises(ValueError, match=r"V: the 3-D landscape did not converge"):
        landscape(rng.random((3, 4, 5)), dim=3)
    with pytest.raises(ValueError, match=r"V\[0\]: the 3-D landscape did not converge"):
        landscape(rng.random((2, 3, 4, 5)), dim=3)
