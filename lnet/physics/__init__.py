"""Exact numerics for H = -Δ + V on periodic lattices, V >= 0 (V ≢ 0).

dim = 1 (the default): the periodic chain Z ∩ [0, n), n >= 3,
(Hψ)(x) = 2ψ(x) - ψ(x-1) - ψ(x+1) + V(x)ψ(x), indices mod n; every function accepts
one potential ``(n,)`` or a batch ``(B, n)``.

dim = 2 (``dim=2`` keyword): the periodic L1×L2 square lattice, L1, L2 >= 2,
(Hψ)(x, y) = 4ψ(x, y) - ψ(x±1, y) - ψ(x, y±1) + V(x, y)ψ(x, y), indices mod (L1, L2),
site (x, y) at flat index x·L2 + y; one potential ``(L1, L2)`` or a batch ``(B, L1, L2)``.

dim = 3 (``dim=3`` keyword): the periodic L1×L2×L3 cubic lattice, every side >= 2,
(Hψ)(x, y, z) = 6ψ - ψ(x±1, y, z) - ψ(x, y±1, z) - ψ(x, y, z±1) + Vψ, indices mod
(L1, L2, L3), site (x, y, z) at flat index (x·L2 + y)·L3 + z; one potential
``(L1, L2, L3)`` or a batch ``(B, L1, L2, L3)``.  On a side of 2 the two bonds along
that axis reach the same site and add up (entry -2), as in 2-D.  The landscape is
solved by deflated conjugate gradients, the lowest eigenvalues by shift-invert Lanczos
checked complete by an exact count, the laws use the 3-D densities of states.
"""

from lnet.physics.box_counting import box_count, box_tiling
from lnet.physics.counting import count_eigenvalues
from lnet.physics.hamiltonian import hamiltonian
from lnet.physics.kpm import kpm_counts
from lnet.physics.landscape import (
    landscape,
    landscape_potential,
    periodic_derivative,
    periodic_gradient,
)
from lnet.physics.spectrum import eigenvalue_brackets, kth_eigenvalue, lowest_eigenvalues
from lnet.physics.valleys import cut_count, landscape_peaks, valley_count
from lnet.physics.weyl import weyl_count

__all__ = [
    "kpm_counts",
    "box_count",
    "box_tiling",
    "count_eigenvalues",
    "cut_count",
    "eigenvalue_brackets",
    "hamiltonian",
    "landscape",
    "landscape_peaks",
    "landscape_potential",
    "kth_eigenvalue",
    "lowest_eigenvalues",
    "periodic_derivative",
    "periodic_gradient",
    "valley_count",
    "weyl_count",
]
