"""Input checks particular to the 3-D physics functions (dim=3); the checks shared with
the 2-D lattice are in test_validation_lattice.py."""

import numpy as np
import pytest

from lnet.physics import landscape


def test_landscape_beyond_float64():
    """Deflation resolves V far below round-off of 6 + V; only n / Σ V overflowing fails."""
    u = landscape(np.full((3, 4, 2), 1e-300), dim=3)
    np.testing.assert_allclose(u, 1e300, rtol=2e-16)
    with pytest.raises(ValueError, match=r"^V: the 3-D landscape did not converge"):
        landscape(np.full((3, 3, 3), 1e-310), dim=3)
    V = np.ones((2, 3, 3, 3))
    V[1] = 1e-310
    with pytest.raises(ValueError, match=r"^V\[1\]: the 3-D landscape did not converge"):
        landscape(V, dim=3)
