"""Exact numerics for H = -Δ + V on the periodic lattice Z ∩ [0, n).

(Hψ)(x) = 2ψ(x) - ψ(x-1) - ψ(x+1) + V(x)ψ(x), indices mod n, n >= 3, V >= 0.
Every function accepts one potential ``(n,)`` or a batch ``(B, n)``.
"""

from lnet.physics.box_counting import box_count, box_tiling, weyl_count
from lnet.physics.counting import count_eigenvalues
from lnet.physics.hamiltonian import hamiltonian
from lnet.physics.landscape import landscape, landscape_potential, periodic_derivative
from lnet.physics.spectrum import eigenvalue_brackets, kth_eigenvalue, lowest_eigenvalues

__all__ = [
    "box_count",
    "box_tiling",
    "count_eigenvalues",
    "eigenvalue_brackets",
    "hamiltonian",
    "landscape",
    "landscape_potential",
    "kth_eigenvalue",
    "lowest_eigenvalues",
    "periodic_derivative",
    "weyl_count",
]
