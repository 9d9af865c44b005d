"""2-D eigenvalues: the two paths to certified brackets (Lanczos candidates, bisection
on the counter) and the control of their width; the tests shared with the 3-D lattice
are in test_spectrum_lattice.py."""

import numpy as np
import pytest

from lnet.physics import eigenvalue_brackets
from lnet.physics.spectrum import _brackets_2d
from tests.physics.test_spectrum_lattice import ZOO, assert_certified, atol, dense

BOTH_PATHS = [
    *["uniform-7x9", "uniform-12x20", "constant-8x8", "constant-20x20"],
    *["tiny-15x14", "huge-15x14", "mixed-13x11", "bernoulli-16x16"],
]


@pytest.mark.parametrize("method", ["lanczos", "bisect"])
@pytest.mark.parametrize("name", BOTH_PATHS)
def test_both_paths_agree_with_dense(name, method):
    """Lanczos candidates + certification, and bisection on the counter alone."""
    V = dict(ZOO)[name]
    ev = dense(V)
    k = min(V.size // 3, 20)
    lo, hi, _ = _brackets_2d(V[None], k, 1e-12, method)
    assert_certified(V, lo[0], hi[0])
    np.testing.assert_allclose(0.5 * (lo[0] + hi[0]), ev[:k], rtol=1e-10, atol=atol(V))


def test_rtol_controls_the_width(rng):
    V = rng.random((10, 11))
    for rtol in (1e-3, 1e-7, 1e-12):
        lo, hi = eigenvalue_brackets(V, 20, rtol=rtol, dim=2)
        assert_certified(V, lo, hi, rtol=rtol)


def test_good_candidates_need_one_count_call(rng):
    V = rng.random((16, 16))
    _, _, state = _brackets_2d(V[None], 40, 1e-12, "lanczos")
    assert state.count_calls <= 2  # the candidates' brackets, perhaps the wide probes
