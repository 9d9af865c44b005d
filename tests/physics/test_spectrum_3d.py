"""3-D eigenvalues: the Lanczos values certified by one count, and the guard against
missed degenerate copies; the tests shared with the 2-D lattice are in
test_spectrum_lattice.py."""

import importlib

import numpy as np
import pytest

from lnet.physics import lowest_eigenvalues
from lnet.physics.spectrum_3d import _certifying_energy
from tests.physics.test_spectrum_lattice import atol, dense, free_levels

spectrum_module = importlib.import_module("lnet.physics.spectrum")
lanczos_module = importlib.import_module("lnet.physics.spectrum_3d")


# -- the guard against missed copies ----------------------------------------------------


class _Spy:
    """Counts the potentials that fell back to the certified brackets."""

    def __init__(self, monkeypatch):
        self.fallbacks = 0
        original = spectrum_module._brackets_2d

        def spy(V, *args, **kwargs):
            self.fallbacks += V.shape[0]
            return original(V, *args, **kwargs)

        monkeypatch.setattr(spectrum_module, "_brackets_2d", spy)


def _pairs_without(drop):
    original = lanczos_module._lanczos_pairs

    def pairs(V, k):
        mu, X = original(V, k)
        keep = np.setdiff1d(np.arange(mu.size), drop)
        return mu[keep], X[:, keep]

    return pairs


def test_missed_copies_of_a_degenerate_level_are_caught(monkeypatch):
    """Lanczos returning one copy too few (a copy of the 6-fold level 2 dropped): the
    count at E* disagrees and the potential takes the certified brackets."""
    V = np.full((6, 6, 6), 0.5)
    spy = _Spy(monkeypatch)
    monkeypatch.setattr(lanczos_module, "_lanczos_pairs", _pairs_without([3]))
    got = lowest_eigenvalues(V, 12, dim=3)
    np.testing.assert_allclose(got, free_levels(V.shape, 0.5)[:12], rtol=1e-12, atol=1e-13)
    assert spy.fallbacks == 1


def test_a_missed_generic_level_is_caught(monkeypatch, rng):
    V = rng.random((5, 6, 4))
    spy = _Spy(monkeypatch)
    monkeypatch.setattr(lanczos_module, "_lanczos_pairs", _pairs_without([0, 5]))
    np.testing.assert_allclose(lowest_eigenvalues(V, 10, dim=3), dense(V)[:10], atol=atol(V))
    assert spy.fallbacks == 1


@pytest.mark.parametrize("bad", ["shifted", "unnormalised", "failed"])
def test_uncertifiable_pairs_fall_back(bad, monkeypatch, rng):
    """Values off by more than their residual allows, vectors that are not orthonormal,
    or no ARPACK result: the residual test rejects them before any count."""
    V = rng.random((5, 6, 4))
    original = lanczos_module._lanczos_pairs

    def pairs(V, k):
        mu, X = original(V, k)
        if bad == "shifted":
            return mu + 1e-9, X
        if bad == "unnormalised":
            return mu, X * 1.001
        return None

    spy = _Spy(monkeypatch)
    monkeypatch.setattr(lanczos_module, "_lanczos_pairs", pairs)
    np.testing.assert_allclose(lowest_eigenvalues(V, 10, dim=3), dense(V)[:10], atol=atol(V))
    assert spy.fallbacks == 1


def test_good_pairs_need_no_fallback(monkeypatch, rng):
    V = np.stack([rng.random((5, 6, 4)), 1e6 * rng.random((5, 6, 4)), np.full((5, 6, 4), 0.5)])
    spy = _Spy(monkeypatch)
    got = lowest_eigenvalues(V, 10, dim=3)
    assert spy.fallbacks == 0
    for b in range(3):
        np.testing.assert_allclose(got[b], dense(V[b])[:10], rtol=1e-10, atol=atol(V[b]))


def test_certifying_energy_above_a_gap_or_below_a_level():
    atol_ = 1e-15
    # a wide gap at or above index k: E* in it, every candidate below it counted
    mu = np.array([1.0, 2.0, 2.0, 2.0, 3.0, 3.0])
    assert _certifying_energy(mu, 2, atol_, atol_) == (2.5, 4)
    assert _certifying_energy(mu, 4, atol_, atol_) == (2.5, 4)
    assert _certifying_energy(mu, 1, atol_, atol_) == (1.5, 1)
    # the level holding λ_k reaches past the candidates: E* just below that level
    e, i = _certifying_energy(np.array([1.0, 2.0, 2.0, 2.0, 2.0]), 2, atol_, 1e-13)
    assert i == 1 and e == 2.0 - 4e-13
    e, i = _certifying_energy(np.array([2.0, 2.0, 2.0]), 2, atol_, 1e-13)
    assert i == 0 and e == 2.0 - 4e-13
    # copies a few ulps apart are one level, not a gap
    mu = 2.0 + np.array([0.0, 1.0, 3.0, 4.0]) * 4e-16
    assert _certifying_energy(np.append(mu, 5.0), 1, atol_, atol_) == (0.5 * (mu[3] + 5.0), 4)
