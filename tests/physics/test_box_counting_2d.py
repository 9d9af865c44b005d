"""The free 2-D integrated density of states against 30-digit quadrature; the box count
and the Weyl laws on the 2-D lattice are tested with the 3-D ones in
test_box_counting_lattice.py."""

import mpmath
import numpy as np

from lnet.physics.weyl import free_idos_2d


def idos_reference(e: float) -> float:
    """N0(e) = (1/π) ∫_0^π f(e - 2 + 2 cos k) dk, f the 1-D IDOS, in 30-digit quadrature."""
    if e <= 0:
        return 0.0
    if e >= 8:
        return 1.0
    with mpmath.workdps(30):
        x = mpmath.mpf(e)

        def f(k):
            t = x - 2 + 2 * mpmath.cos(k)
            return mpmath.acos(max(-1, min(1, 1 - t / 2))) / mpmath.pi

        kinks = [mpmath.acos(-(x - c) / 2) for c in (2, 6) if -1 < -(x - c) / 2 < 1]
        return float(mpmath.quad(f, sorted([0, *kinks, mpmath.pi])) / mpmath.pi)


ENERGIES_N0 = [
    1e-12, 1e-6, 1e-3, 0.1, 0.5, 1.0, 1.7, 2.0, 2.5, 3.0, 3.5, 3.9, 3.99, 3.9999, 4 - 1e-9,
    4.0, 4 + 1e-7, 4.01, 4.3, 5.0, 6.0, 6.6, 7.5, 7.99, 8 - 1e-8,
]  # fmt: skip


def test_free_idos_matches_30_digit_quadrature():
    got = free_idos_2d(np.array(ENERGIES_N0))
    want = np.array([idos_reference(e) for e in ENERGIES_N0])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
