"""Input checks shared by the physics functions.

Every check raises :class:`ValueError` with a message that names the argument and,
where it applies, the first offending index, so that a bad potential never turns
into a silent NaN or a wrong count.

Lattice dimension ``dim``: 1 (the periodic chain of n sites, a field ``(n,)`` or a
batch ``(B, n)``), 2 (the periodic L1×L2 lattice, a field ``(L1, L2)`` or a batch
``(B, L1, L2)``) or 3 (the periodic L1×L2×L3 lattice, a field ``(L1, L2, L3)`` or a
batch ``(B, L1, L2, L3)``); the last ``dim`` axes are the lattice.
"""

from __future__ import annotations

import numpy as np

MIN_SITES = 3  # 1-D: the periodic chain needs n >= 3 (n = 2 would double the bond)
MIN_SIDE_2D = 2  # 2-D and 3-D: each side L >= 2 (L = 2: the two bonds along it coincide)
MIN_SIDE = MIN_SIDE_2D
DIMS = (1, 2, 3)


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def check_dim(dim: object, dims: tuple[int, ...] = DIMS) -> int:
    """Return the lattice dimension ``dim`` as an int; ValueError unless it is in ``dims``
    (1, 2 or 3 by default)."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or int(dim) not in dims:
        names = [str(d) for d in dims]
        allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ValueError(f"dim must be {allowed} (the lattice dimension), got {dim!r}")
    return int(dim)


def _sides(dim: int) -> str:
    return ", ".join(f"L{i + 1}" for i in range(dim))


def _shapes(dim: int) -> str:
    return "(n,) or (B, n)" if dim == 1 else f"({_sides(dim)}) or (B, {_sides(dim)})"


def as_field(
    x: object,
    name: str,
    *,
    min_sites: int | None = None,
    dim: int = 1,
    dims: tuple[int, ...] = DIMS,
) -> np.ndarray:
    """Return ``x`` as a float64 array of a field or a batch of fields, checked finite.

    dim = 1: shape ``(n,)`` or ``(B, n)`` with n >= ``min_sites`` (default 3).
    dim >= 2: shape ``(L1, ..., L_dim)`` or ``(B, L1, ..., L_dim)`` with every side >=
    ``min_sites`` (default 2: the side-2 torus is a valid lattice). ``dims``: the
    dimensions the caller supports.

    Raises ValueError for a bad ``dim``, a wrong number of dimensions, an empty array,
    too few sites, or a non-finite entry (naming its index).
    """
    dim = check_dim(dim, dims)
    if min_sites is None:
        min_sites = MIN_SITES if dim == 1 else MIN_SIDE_2D
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array of shape {_shapes(dim)}: {exc}") from None
    if a.ndim not in (dim, dim + 1):
        if dim == 1:
            raise ValueError(
                f"{name} must have shape (n,) or (B, n), got {a.ndim} dimensions {a.shape}"
            )
        raise ValueError(
            f"{name} must have shape {_shapes(dim)} for dim={dim}, "
            f"got {a.ndim} dimensions {a.shape}"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if dim == 1:
        n = a.shape[-1]
        if n < min_sites:
            raise ValueError(
                f"{name} has n = {n} sites; the periodic lattice needs n >= {min_sites}"
            )
    elif min(a.shape[-dim:]) < min_sites:
        sides = " × ".join(str(L) for L in a.shape[-dim:])
        raise ValueError(
            f"{name} has {_sides(dim).replace(', ', ' × ')} = {sides} sites; the periodic "
            f"{dim}-D lattice needs {_sides(dim)} >= {min_sites}"
        )
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise ValueError(f"{name}{_index(idx)} = {a[idx]} is not finite")
    return a


def as_potential(
    V: object, name: str = "V", dim: int = 1, dims: tuple[int, ...] = DIMS
) -> np.ndarray:
    """Check a potential: finite, non-negative, not identically zero.

    Shapes: dim = 1 ``(n,)`` or ``(B, n)``; dim = 2 ``(L1, L2)`` or ``(B, L1, L2)``; dim = 3
    ``(L1, L2, L3)`` or ``(B, L1, L2, L3)``.
    V identically zero (any one potential of a batch) is rejected because H = -Δ is
    then singular (the constant vector is in its kernel) and the landscape u = H⁻¹1
    does not exist.
    """
    dim = check_dim(dim, dims)
    a = as_field(V, name, dim=dim, dims=dims)
    neg = a < 0
    if neg.any():
        idx = tuple(np.argwhere(neg)[0])
        raise ValueError(f"{name}{_index(idx)} = {a[idx]:.6g} is negative; potentials must be >= 0")
    lattice_axes = tuple(range(a.ndim - dim, a.ndim))
    zero_rows = ~np.any(a > 0, axis=lattice_axes)
    if np.any(zero_rows):
        where = "" if a.ndim == dim else _index((np.flatnonzero(zero_rows)[0],))
        raise ValueError(
            f"{name}{where} is identically zero: H = -Δ is singular (constants are in its kernel)"
        )
    return a


def as_energies(
    E: object, field: np.ndarray, name: str = "E", dim: int = 1, shared: bool = False
) -> np.ndarray:
    """Check energies against a validated field (see :func:`as_field`).

    Shapes: a single field (``(n,)``, ``(L1, L2)`` for dim = 2, ``(L1, L2, L3)`` for
    dim = 3) needs E of shape ``(m,)``; a batch (``(B, n)``, ``(B, L1, L2)`` or
    ``(B, L1, L2, L3)``) needs E of shape ``(B, m)``.
    A 0-d E is accepted for a single field and treated as ``(1,)``.
    ``shared=True``: a batch also takes E ``(m,)``, the same energies for every field
    (returned as given, ``(m,)``: the caller broadcasts, as :func:`lnet.physics.kpm_counts`).
    """
    dim = check_dim(dim)
    try:
        e = np.asarray(E, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array: {exc}") from None
    if field.ndim == dim:
        if e.ndim == 0:
            e = e.reshape(1)
        if e.ndim != 1:
            raise ValueError(
                f"{name} must have shape (m,) for a single potential of shape {field.shape}, "
                f"got {e.shape}"
            )
    elif not ((e.ndim == 2 and e.shape[0] == field.shape[0]) or (shared and e.ndim == 1)):
        shapes = "(m,) or (B, m)" if shared else "(B, m)"
        raise ValueError(
            f"{name} must have shape {shapes} = ({field.shape[0]}, m) to match a batch of "
            f"shape {field.shape}, got {e.shape}"
        )
    if e.size == 0:
        raise ValueError(f"{name} is empty (shape {e.shape})")
    bad = ~np.isfinite(e)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise ValueError(f"{name}{_index(idx)} = {e[idx]} is not finite")
    return e


def as_single(V: np.ndarray, name: str = "V", dim: int = 1) -> np.ndarray:
    """Check that a validated field is one potential, not a batch."""
    dim = check_dim(dim)
    if V.ndim != dim:
        shape = "(n,)" if dim == 1 else f"({_sides(dim)})"
        raise ValueError(f"{name} must be one potential of shape {shape}, got shape {V.shape}")
    return V


def as_batch(a: np.ndarray, dim: int = 1) -> np.ndarray:
    """A validated field as a C-contiguous batch: ``(B, n)``, ``(B, L1, L2)`` or
    ``(B, L1, L2, L3)``."""
    return np.ascontiguousarray(a[None] if a.ndim == check_dim(dim) else a)
