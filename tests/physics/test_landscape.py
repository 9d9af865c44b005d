import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lnet.physics import hamiltonian, landscape, landscape_potential, periodic_derivative
from tests.conftest import ZOO


@pytest.mark.parametrize("name,V", ZOO, ids=[name for name, _ in ZOO])
def test_landscape_matches_dense_solve(name, V):
    H = hamiltonian(V).toarray()
    want = np.linalg.solve(H, np.ones(V.size))
    u = landscape(V)
    cond = np.linalg.cond(H)
    np.testing.assert_allclose(u, want, rtol=max(1e-12, 1e-15 * cond * 10), atol=0)
    np.testing.assert_allclose(H @ u, 1.0, rtol=0, atol=1e-15 * cond * 10 + 1e-12)


@pytest.mark.parametrize("name,V", ZOO, ids=[name for name, _ in ZOO])
def test_maximum_principle(name, V):
    u = landscape(V)
    slack = 1e-9
    assert np.all(u >= (1 - slack) / V.max())
    if V.min() > 0:
        assert np.all(u <= (1 + slack) / V.min())
    W = landscape_potential(V)
    assert np.all(W >= V.min() * (1 - slack))
    np.testing.assert_allclose(W, 1 / u)


def test_constant_potential_has_constant_landscape():
    u = landscape(np.full(11, 0.25))
    np.testing.assert_allclose(u, 4.0, rtol=1e-13)


def test_batch_matches_single(rng):
    V = rng.random((4, 25))
    u = landscape(V)
    assert u.shape == (4, 25)
    for b in range(4):
        np.testing.assert_array_equal(u[b], landscape(V[b]))


def test_periodic_derivative_is_central_and_wraps():
    f = np.array([0.0, 1.0, 4.0, 9.0, 16.0])
    np.testing.assert_allclose(periodic_derivative(f), [(1 - 16) / 2, 2, 4, 6, (0 - 9) / 2])
    x = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    h = x[1] - x[0]
    np.testing.assert_allclose(periodic_derivative(np.sin(x)) / h, np.cos(x), atol=1e-3)


@settings(max_examples=50, deadline=None)
@given(V=arrays(np.float64, st.integers(3, 50), elements=st.floats(0, 1e3, allow_subnormal=False)))
def test_landscape_property(V):
    if not np.any(V > 1e-3):
        V = V.copy()
        V[0] = 1.0
    H = hamiltonian(V).toarray()
    u = landscape(V)
    assert np.all(u > 0)
    assert np.all(u >= (1 - 1e-9) / V.max())
    np.testing.assert_allclose(H @ u, 1.0, atol=1e-6)
