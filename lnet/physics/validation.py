"""Input checks shared by the physics functions.

Every check raises :class:`ValueError` with a message that names the argument and,
where it applies, the first offending index, so that a bad potential never turns
into a silent NaN or a wrong count.
"""

from __future__ import annotations

import numpy as np

MIN_SITES = 3


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def as_field(x: object, name: str, *, min_sites: int = MIN_SITES) -> np.ndarray:
    """Return ``x`` as a float64 array of shape ``(n,)`` or ``(B, n)``, checked finite.

    Raises ValueError for a wrong number of dimensions, an empty array, fewer than
    ``min_sites`` sites, or a non-finite entry (naming its index).
    """
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array of shape (n,) or (B, n): {exc}") from None
    if a.ndim not in (1, 2):
        raise ValueError(
            f"{name} must have shape (n,) or (B, n), got {a.ndim} dimensions {a.shape}"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    n = a.shape[-1]
    if n < min_sites:
        raise ValueError(f"{name} has n = {n} sites; the periodic lattice needs n >= {min_sites}")
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise ValueError(f"{name}{_index(idx)} = {a[idx]} is not finite")
    return a


def as_potential(V: object, name: str = "V") -> np.ndarray:
    """Check a potential: finite, non-negative, not identically zero, ``(n,)`` or ``(B, n)``.

    V identically zero is rejected because H = -Δ is then singular (the constant
    vector is in its kernel) and the landscape u = H⁻¹1 does not exist.
    """
    a = as_field(V, name)
    neg = a < 0
    if neg.any():
        idx = tuple(np.argwhere(neg)[0])
        raise ValueError(f"{name}{_index(idx)} = {a[idx]:.6g} is negative; potentials must be >= 0")
    zero_rows = ~np.any(a > 0, axis=-1)
    if np.any(zero_rows):
        where = "" if a.ndim == 1 else _index((np.flatnonzero(zero_rows)[0],))
        raise ValueError(
            f"{name}{where} is identically zero: H = -Δ is singular (constants are in its kernel)"
        )
    return a


def as_energies(E: object, field: np.ndarray, name: str = "E") -> np.ndarray:
    """Check energies against a field of shape ``(n,)`` or ``(B, n)``.

    Shapes: ``(n,)`` needs E of shape ``(m,)``; ``(B, n)`` needs E of shape ``(B, m)``.
    A 0-d E is accepted for a single field and treated as ``(1,)``.
    """
    try:
        e = np.asarray(E, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array: {exc}") from None
    if field.ndim == 1:
        if e.ndim == 0:
            e = e.reshape(1)
        if e.ndim != 1:
            raise ValueError(
                f"{name} must have shape (m,) for a single potential of shape {field.shape}, "
                f"got {e.shape}"
            )
    else:
        if e.ndim != 2 or e.shape[0] != field.shape[0]:
            raise ValueError(
                f"{name} must have shape (B, m) = ({field.shape[0]}, m) to match a batch of "
                f"shape {field.shape}, got {e.shape}"
            )
    if e.size == 0:
        raise ValueError(f"{name} is empty (shape {e.shape})")
    bad = ~np.isfinite(e)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise ValueError(f"{name}{_index(idx)} = {e[idx]} is not finite")
    return e


def as_single(V: np.ndarray, name: str = "V") -> np.ndarray:
    if V.ndim != 1:
        raise ValueError(f"{name} must be one potential of shape (n,), got shape {V.shape}")
    return V
