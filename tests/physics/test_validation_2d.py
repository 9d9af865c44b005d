"""Input checks particular to the 2-D physics functions (dim=2); the checks shared with
the 3-D lattice are in test_validation_lattice.py."""

import numpy as np
import pytest

from lnet.physics import landscape


def test_landscape_of_a_potential_below_round_off():
    with pytest.raises(ValueError, match="V is too small to resolve"):
        landscape(np.full((4, 4), 1e-20), dim=2)
    V = np.ones((2, 4, 4))
    V[1] = 1e-19
    with pytest.raises(ValueError, match=r"V\[1\] is too small"):
        landscape(V, dim=2)
