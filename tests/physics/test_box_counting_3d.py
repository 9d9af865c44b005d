"""The 3-D box tiling's vectorised counts and the free 3-D integrated density of states
against nested quadrature; the box count and the Weyl laws on the 3-D lattice are tested
with the 2-D ones in test_box_counting_lattice.py."""

import math
import warnings

import numpy as np
import pytest
from scipy.integrate import IntegrationWarning, quad

from lnet.physics.box_counting import _num_boxes, _num_boxes_array
from lnet.physics.weyl import free_idos_3d


def test_tiling_counts_match_the_1d_rule():
    """The vectorised K(E) is the compiled 1-D rule, energy by energy (E = 1/j² included)."""
    E = np.concatenate(
        [
            1.0 / np.arange(1, 60, dtype=float) ** 2,
            np.linspace(-1, 2, 301),
            np.geomspace(1e-300, 1e3, 200),
            [0.0, -0.0, 1e-12, 0.25 * (1 + 1e-15), 0.25 * (1 - 1e-15)],
        ]
    )
    for n in (1, 2, 3, 7, 16, 48, 101):
        np.testing.assert_array_equal(_num_boxes_array(n, E), [_num_boxes(n, e) for e in E])


# -- the free 3-D integrated density of states ---------------------------------------


def _n1(x: float) -> float:
    return math.acos(max(-1.0, min(1.0, 1.0 - x / 2.0))) / math.pi


def _kinks(x: float, levels: tuple[float, ...]) -> list[float]:
    out = [0.0, math.pi]
    for c in levels:
        z = (c - x + 2.0) / 2.0
        if -1 < z < 1:
            out.append(math.acos(z))
    return sorted(out)


def _n2_quad(x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 8:
        return 1.0
    pts = _kinks(x, (0.0, 4.0))

    def f(q: float) -> float:
        return _n1(x - 2 + 2 * math.cos(q))

    pieces = zip(pts[:-1], pts[1:], strict=True)
    return sum(quad(f, a, b, epsabs=1e-15, epsrel=1e-14)[0] for a, b in pieces) / math.pi


def idos_3d_reference(e: float) -> float:
    """N3(e) = (1/π²) ∫∫ N1(e - t(k) - t(q)) dq dk, N1 the closed-form 1-D IDOS, by nested
    adaptive quadrature cut at the kinks (shares no code with lnet's N0 and N3 tables)."""
    pts = _kinks(e, (0.0, 4.0, 8.0))

    def f(k: float) -> float:
        return _n2_quad(e - 2 + 2 * math.cos(k))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        pieces = zip(pts[:-1], pts[1:], strict=True)
        parts = [quad(f, a, b, epsabs=1e-14, epsrel=1e-13)[0] for a, b in pieces]
    return sum(parts) / math.pi


ENERGIES_N3 = [0.3, 1.7, 3.99, 4.0, 4.5, 11.2]


def test_free_idos_matches_nested_quadrature():
    got = free_idos_3d(np.array(ENERGIES_N3))
    want = np.array([idos_3d_reference(e) for e in ENERGIES_N3])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_free_idos_matches_nested_quadrature_everywhere(rng):
    E = np.concatenate([rng.uniform(0, 12, 30), [1e-6, 1e-3, 2.0, 4 - 1e-9, 4 + 1e-9, 8, 10]])
    got = free_idos_3d(E)
    want = np.array([idos_3d_reference(e) for e in E])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
