"""The localization landscape u = H⁻¹1 and the landscape potential W = 1/u, O(n) each."""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from lnet.physics.validation import as_field, as_potential


def _landscape_one(V: np.ndarray, name: str = "V") -> np.ndarray:
    # H = A + z zᵀ with z = e_0 - e_{n-1}: zzᵀ carries the corner bond (-1 at (0, n-1))
    # and adds 1 to both end diagonals, which A takes off.  A = (Neumann path
    # Laplacian) + diag(V) is SPD for V >= 0, V ≢ 0, so LAPACK's dptsv (LDLᵀ of an SPD
    # tridiagonal) applies, and Sherman–Morrison with 1 + zᵀA⁻¹z >= 1 is stable.
    n = V.shape[0]
    d = 2.0 + V
    d[0] -= 1.0
    d[-1] -= 1.0
    rhs = np.zeros((n, 2))
    rhs[:, 0] = 1.0
    rhs[0, 1] = 1.0
    rhs[-1, 1] = -1.0
    _, _, sol, info = lapack.dptsv(d, -np.ones(n - 1), rhs)
    if info != 0:
        # exact arithmetic says SPD, but every 2 + V(x) rounded to 2: V is below round-off
        raise ValueError(
            f"{name} is too small to resolve in float64 (max V = {V.max():.3g}: every "
            "2 + V(x) rounds to 2 and H is numerically singular); scale the potential up"
        )
    x, y = sol[:, 0], sol[:, 1]
    zx = x[0] - x[-1]
    zy = y[0] - y[-1]
    return x - y * (zx / (1.0 + zy))


def landscape(V: np.ndarray) -> np.ndarray:
    """The landscape u solving H u = 1 on the periodic lattice.

    V: ``(n,)`` or ``(B, n)``, V >= 0 and not identically zero.  Returns u of the
    same shape; u > 0 and 1/max V <= u <= 1/min V (maximum principle).  O(n) per
    potential: Sherman–Morrison on an SPD tridiagonal LAPACK solve.
    """
    Va = as_potential(V)
    if Va.ndim == 1:
        return _landscape_one(Va)
    return np.stack([_landscape_one(row, f"V[{b}]") for b, row in enumerate(Va)])


def landscape_potential(V: np.ndarray) -> np.ndarray:
    """W = 1/u, the effective potential of the landscape theory; same shape as V."""
    return 1.0 / landscape(V)


def periodic_derivative(f: np.ndarray) -> np.ndarray:
    """Periodic central difference f'(x) = (f(x+1) - f(x-1)) / 2 along the last axis."""
    fa = as_field(f, "f")
    return 0.5 * (np.roll(fa, -1, axis=-1) - np.roll(fa, 1, axis=-1))
