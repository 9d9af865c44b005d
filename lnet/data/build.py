"""Generate the arrays of one dataset split from its spec.

Potential i of split s is drawn from its own stream
``SeedSequence(seed, spawn_key=(s, i))``: splits are independent, and a split's
first P potentials do not depend on its size, so growing the training set leaves
val/test (and the first training potentials) unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lnet.data.spec import SPLITS, DatasetSpec
from lnet.physics import (
    count_eigenvalues,
    eigenvalue_brackets,
    landscape_potential,
    lowest_eigenvalues,
)

Progress = Callable[[int], None]  # called with the number of potentials just finished
CHUNK = 64
BRACKET_RTOL = 1e-7


def potential_stream(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), index)))
    )


def _open_unit(rng: np.random.Generator, size: int) -> np.ndarray:
    """Uniform draws in the open interval (0, 1)."""
    return (rng.integers(0, 2**52, size) + 0.5) / 2**52


def draw_split(spec: DatasetSpec, split: str) -> dict[str, np.ndarray]:
    """Potentials V (P, n), component index (P,), and the energy uniforms (P, m) if counting."""
    P = spec.sizes[split]
    V = np.empty((P, spec.n))
    component = np.empty(P, dtype=np.int64)
    m = spec.energies["count"] if spec.energies else 0
    unit = np.empty((P, m))
    for i in range(P):
        rng = potential_stream(spec.seed, split, i)
        V[i], component[i] = spec.law.draw(rng, spec.n)
        if m:
            unit[i] = _open_unit(rng, m)
    out = {"V": V, "component": component}
    if m:
        out["unit"] = unit
    return out


def _energies(spec: DatasetSpec, V: np.ndarray, unit: np.ndarray) -> np.ndarray:
    e = spec.energies
    assert e is not None
    mode = e["mode"]
    if mode == "uniform":
        return e["e_min"] + unit * (e["e_max"] - e["e_min"])
    if mode == "between_eigenvalues":
        # E_j uniform between certified brackets: above hi(λ_j), at or below lo(λ_{j+1}),
        # so N_V(E_j) = j exactly (λ_0 := 0); the bracket width is 1e-7 relative.
        lo, hi = eigenvalue_brackets(V, e["count"], BRACKET_RTOL)
        zero = np.zeros((V.shape[0], 1))
        left = np.concatenate([zero, hi[:, :-1]], axis=1)
        return left + unit * (lo - left)
    if mode == "spectrum_fraction":
        top = int(np.ceil(e["fraction"] * spec.n))
        lam_top = lowest_eigenvalues(V, top)[:, -1:]
        return unit * lam_top
    raise AssertionError(mode)  # pragma: no cover


def build_split(
    spec: DatasetSpec, split: str, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """All arrays of one split.

    counting:    V (P, n), W (P, n), E (P, m), N (P, m) int64, component (P,)
    eigenvalues: V (P, n), W (P, n), eigenvalues (P, k), component (P,)
    Targets come from the exact O(n) routines in :mod:`lnet.physics`.
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
    for start in range(0, P, CHUNK):
        sl = slice(start, min(P, start + CHUNK))
        out["W"][sl] = landscape_potential(V[sl])
        if spec.task == "counting":
            E = _energies(spec, V[sl], drawn["unit"][sl])
            out["E"][sl] = E
            out["N"][sl] = count_eigenvalues(V[sl], E)
        else:
            out["eigenvalues"][sl] = lowest_eigenvalues(V[sl], spec.k)
        if progress is not None:
            progress(sl.stop - sl.start)
    return out
