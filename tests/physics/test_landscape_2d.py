"""The periodic gradient's 2-D default and its 1-D form; the 2-D landscape itself is
tested with the 3-D one in test_landscape_lattice.py."""

import numpy as np

from lnet.physics import periodic_derivative, periodic_gradient


def test_periodic_gradient_defaults_to_2d_and_approximates_the_derivative(rng):
    f = rng.standard_normal((5, 7))
    np.testing.assert_array_equal(periodic_gradient(f), periodic_gradient(f, dim=2))
    fb = rng.standard_normal((3, 4, 6))
    np.testing.assert_array_equal(periodic_gradient(fb), periodic_gradient(fb, dim=2))
    # smooth fields: the difference approximates the derivative
    x = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    h = x[1] - x[0]
    F = np.sin(x)[:, None] * np.cos(2 * x)[None, :]
    G = periodic_gradient(F) / h
    np.testing.assert_allclose(G[0], np.cos(x)[:, None] * np.cos(2 * x)[None, :], atol=2e-3)
    np.testing.assert_allclose(G[1], -2 * np.sin(x)[:, None] * np.sin(2 * x)[None, :], atol=8e-3)


def test_periodic_gradient_in_1d_is_the_derivative(rng):
    f = rng.standard_normal((3, 10))
    g = periodic_gradient(f, dim=1)
    assert g.shape == (3, 1, 10)
    np.testing.assert_array_equal(g[:, 0], periodic_derivative(f))
    assert periodic_gradient(f[0], dim=1).shape == (1, 10)
