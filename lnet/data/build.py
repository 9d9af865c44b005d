"""Generate the arrays of one dataset split from its spec.

Potential i of split s is drawn from its own stream
``SeedSequence(seed, spawn_key=(s, i))``: splits are independent, and a split's
first P potentials do not depend on its size, so growing the training set leaves
val/test (and the first training potentials) unchanged.

Energies between eigenvalues (mode ``between_eigenvalues``, count m) are drawn
only in *certified open gaps*; see :func:`energies_between_eigenvalues` for the
rule, which also covers degenerate spectra.

2-D specs (``spec.dim == 2``, lattice ``spec.shape = (L1, L2)``) go through the same
code: potentials are drawn as n = L1·L2 sites reshaped to ``(L1, L2)`` (the same
streams, so potential i of a split has the same sites whatever else changes), and
every physics call gets ``dim=2``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lnet.data.spec import SPLITS, DatasetSpec
from lnet.physics import (
    count_eigenvalues,
    eigenvalue_brackets,
    kth_eigenvalue,
    landscape_potential,
    lowest_eigenvalues,
)

Progress = Callable[[int], None]  # called with the number of potentials just finished
CHUNK = 64  # potentials per physics call (and per progress update)
CHUNK_SITES = 16384  # 2-D: at most this many sites per call, so the progress bar moves
BRACKET_RTOL = 1e-7  # relative width of the eigenvalue brackets behind between-eigenvalue energies
REFINE_RTOL = 1e-12  # re-bracketing width for potentials with a gap unresolved at BRACKET_RTOL


def potential_stream(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), index)))
    )


def _open_unit(rng: np.random.Generator, size: int) -> np.ndarray:
    """Uniform draws in the open interval (0, 1)."""
    return (rng.integers(0, 2**52, size) + 0.5) / 2**52


def chunk_size(spec: DatasetSpec) -> int:
    """Potentials per physics call: ``CHUNK``, fewer for large 2-D lattices."""
    if spec.dim == 1:
        return CHUNK
    return max(1, min(CHUNK, CHUNK_SITES // spec.n))


def draw_split(spec: DatasetSpec, split: str) -> dict[str, np.ndarray]:
    """Potentials V (P, n) (2-D: (P, L1, L2)), component index (P,), and the energy
    uniforms (P, m) if counting."""
    P = spec.sizes[split]
    V = np.empty((P, *spec.lattice))
    component = np.empty(P, dtype=np.int64)
    m = spec.energies["count"] if spec.energies else 0
    unit = np.empty((P, m))
    shape = spec.shape  # None in 1-D: the historical draw
    for i in range(P):
        rng = potential_stream(spec.seed, split, i)
        V[i], component[i] = spec.law.draw(rng, spec.n, shape=shape)
        if m:
            unit[i] = _open_unit(rng, m)
    out = {"V": V, "component": component}
    if m:
        out["unit"] = unit
    return out


def energies_between_eigenvalues(
    V: np.ndarray, unit: np.ndarray, dim: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Energies strictly inside certified spectral gaps, one per slot, and their exact counts.

    V: ``(B, n)`` potentials (``dim=2``: ``(B, L1, L2)``); unit: ``(B, m)`` uniforms in
    the open interval (0, 1).
    Returns E ``(B, m)`` and the target g ``(B, m)`` int64 with N_V(E) = g exactly.

    With eigenvalues λ_1 <= λ_2 <= ... (with multiplicity) and λ_0 := 0, gap j is
    (λ_j, λ_{j+1}), j = 0 .. m-1. :func:`eigenvalue_brackets` gives lo_j < λ_j <= hi_j,
    each end certified by an exact count (N_V(lo_j) < j <= N_V(hi_j)), and hi_0 := 0
    (H is positive definite for V >= 0, V ≢ 0, so N_V(0) = 0).

    - Brackets have relative width ``BRACKET_RTOL`` (1e-7). A potential with a gap
      j < m that is not open at that width is bracketed again, all m levels, at
      ``REFINE_RTOL`` (1e-12, about the counter's round-off), and all its slots use
      the refined brackets; every other potential keeps the 1e-7 brackets.
    - Gap j is *open* when hi_j < lo_{j+1}. Then every E in (hi_j, lo_{j+1}] has
      N_V(E) = j exactly, and λ_j <= hi_j < E <= lo_{j+1} < λ_{j+1}: E is at positive
      distance from every eigenvalue. Otherwise gap j is *closed*: a degenerate level
      λ_j = λ_{j+1}, or two levels closer than the refined brackets can separate.
    - Slot j draws in gap g = g_j, the largest j' <= j whose gap is open (the nearest
      open gap at or below it): E_j = hi_g + u_j (lo_{g+1} - hi_g), moved up to the
      next float if it rounds onto hi_g, so hi_g < E_j <= lo_{g+1}; its target is g_j.
      Gap 0 is open whenever lo_1 > 0 (always, unless λ_1 is below the counter's
      round-off, which raises ValueError), so g_j is defined for every slot.

    A potential whose first m gaps are all open at 1e-7 gets g_j = j and exactly the
    energies of the earlier rule (E_j uniform between the 1e-7 brackets; only a draw
    that rounds onto hi_j moves one float up), so datasets without unresolved gaps are
    bit-identical (checked on the default dataset). For V ≡ c on a lattice of n >= 2m sites
    (multiplicities 1, 2, 2, 2, ...) the targets are 0, 1, 1, 3, 3, 5, 5, ...: slots
    2, 4, 6, ... land in the open gaps just below them.
    """
    m = unit.shape[-1]
    lo, hi = eigenvalue_brackets(V, m, BRACKET_RTOL, dim=dim)
    unresolved = np.flatnonzero(np.any(hi[:, :-1] >= lo[:, 1:], axis=1))
    if unresolved.size:
        lo[unresolved], hi[unresolved] = eigenvalue_brackets(V[unresolved], m, REFINE_RTOL, dim=dim)
    bad = np.flatnonzero(lo[:, 0] <= 0.0)
    if bad.size:
        raise ValueError(
            f"V[{bad[0]}]: the lowest eigenvalue is below the counter's round-off "
            f"(certified lower bound {lo[bad[0], 0]:.3g} <= 0), so no energy in (0, λ_1) can "
            "be certified; scale the potential up"
        )
    left = np.concatenate([np.zeros((V.shape[0], 1)), hi[:, :-1]], axis=1)  # hi_j, hi_0 = 0
    slot = np.arange(m)
    is_open = left < lo  # gap j: hi_j < lo_{j+1}
    target = np.maximum.accumulate(np.where(is_open, slot, -1), axis=1)
    a = np.take_along_axis(left, target, axis=1)
    b = np.take_along_axis(lo, target, axis=1)
    E = a + unit * (b - a)
    return np.where(E > a, E, np.nextafter(a, b)), target


def _energies(
    spec: DatasetSpec, V: np.ndarray, unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Energies (B, m) and, where the mode fixes them, the targets they must have."""
    e = spec.energies
    assert e is not None
    mode = e["mode"]
    if mode == "uniform":
        return e["e_min"] + unit * (e["e_max"] - e["e_min"]), None
    if mode == "between_eigenvalues":
        return energies_between_eigenvalues(V, unit, dim=spec.dim)
    if mode == "spectrum_fraction":
        top = int(np.ceil(e["fraction"] * spec.n))
        lam_top = kth_eigenvalue(V, top, dim=spec.dim)[:, None]
        return unit * lam_top, None
    raise AssertionError(mode)  # pragma: no cover


def build_split(
    spec: DatasetSpec, split: str, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """All arrays of one split.

    counting:    V (P, n), W (P, n), E (P, m), N (P, m) int64, component (P,)
    eigenvalues: V (P, n), W (P, n), eigenvalues (P, k), component (P,)
    2-D: V and W are (P, L1, L2), the rest as above.
    Targets come from the exact routines in :mod:`lnet.physics`.
    """
    drawn = draw_split(spec, split)
    V = drawn["V"]
    P = V.shape[0]
    out: dict[str, np.ndarray] = {"V": V, "W": np.empty_like(V), "component": drawn["component"]}
    if spec.task == "counting":
        out["E"] = np.empty_like(drawn["unit"])
        out["N"] = np.empty(drawn["unit"].shape, dtype=np.int64)
    else:
        out["eigenvalues"] = np.empty((P, spec.k))
    dim = spec.dim
    chunk = chunk_size(spec)
    for start in range(0, P, chunk):
        sl = slice(start, min(P, start + chunk))
        out["W"][sl] = landscape_potential(V[sl], dim=dim)
        if spec.task == "counting":
            E, expected = _energies(spec, V[sl], drawn["unit"][sl])
            out["E"][sl] = E
            out["N"][sl] = count_eigenvalues(V[sl], E, dim=dim)
            if expected is not None and not np.array_equal(out["N"][sl], expected):
                p, j = np.argwhere(out["N"][sl] != expected)[0]
                raise RuntimeError(  # the brackets certify the count; this is a bug
                    f"{split} potential {start + p}, energy {j}: N_V(E) = {out['N'][sl][p, j]} "
                    f"but the certified gap says {expected[p, j]}"
                )
        else:
            out["eigenvalues"][sl] = lowest_eigenvalues(V[sl], spec.k, dim=dim)
        if progress is not None:
            progress(sl.stop - sl.start)
    return out
