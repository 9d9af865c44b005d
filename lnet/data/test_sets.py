"""Fresh test sets for generalisation: other lattices and other potential families.

- :func:`lattice_test_set`: the test split of a counting dataset on any lattice, 1-D
  ``(n,)`` or 2-D ``(L1, L2)``, with energies uniform in [0, λ_⌈fraction·sites⌉] and exact
  counts; built in memory (the last :data:`TEST_SET_MEMO` kept, so scoring several
  models builds each set once).
- :func:`family_test_set`: the test split of the training data's dataset with another
  potential law, through the dataset cache like any other dataset.

Both draw exactly the arrays of the dataset spec they name (same potential streams, same
energy uniforms), so a set can be checked against :class:`lnet.data.CountingDataModule`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lnet.data.build import draw_split
from lnet.data.spec import DatasetSpec, make_spec
from lnet.physics import count_eigenvalues, kth_eigenvalue, landscape_potential
from lnet.tasks import COUNTING

SPECTRUM_FRACTION = 0.1  # lattice sets: energies uniform in [0, λ_⌈SPECTRUM_FRACTION · sites⌉]
TEST_SET_MEMO = 4  # generated lattice test sets kept in memory (scoring several models)
_test_sets: dict[str, dict[str, Any]] = {}


def _memo(spec: DatasetSpec) -> dict[str, Any] | None:
    """A test set built earlier in this process for the same spec (its name is a hash
    of every field), as a fresh dict of the same arrays; None if not built yet."""
    hit = _test_sets.get(spec.name)
    return dict(hit) if hit is not None else None


def _remember(out: dict[str, Any]) -> dict[str, Any]:
    _test_sets[out["spec"].name] = out
    while len(_test_sets) > TEST_SET_MEMO:
        _test_sets.pop(next(iter(_test_sets)))
    return dict(out)


def lattice_spec(
    potential: Mapping[str, Any],
    lattice: Sequence[int],
    potentials: int,
    energies: int,
    seed: int,
    fraction: float = SPECTRUM_FRACTION,
) -> DatasetSpec:
    """The counting spec ``lattice, potential, energies={mode: spectrum_fraction, count:
    energies, fraction}, sizes={train: 1, val: 1, test: potentials}, seed`` whose test
    split :func:`lattice_test_set` returns. ``lattice``: ``(n,)`` or ``(L1, L2)``."""
    lattice = tuple(int(side) for side in lattice)
    sites = {"n": lattice[0]} if len(lattice) == 1 else {"n": None, "dim": len(lattice)}
    return make_spec(
        COUNTING,
        **sites,
        shape=list(lattice) if len(lattice) > 1 else None,
        potential=dict(potential),
        energies={"mode": "spectrum_fraction", "count": energies, "fraction": fraction},
        sizes={"train": 1, "val": 1, "test": potentials},
        seed=seed,
    )


def lattice_test_set(
    potential: Mapping[str, Any],
    lattice: Sequence[int],
    potentials: int,
    energies: int,
    seed: int,
    fraction: float = SPECTRUM_FRACTION,
) -> dict[str, Any]:
    """A test set of ``potentials`` potentials on ``lattice`` with ``energies`` energies each.

    ``lattice``: ``(n,)`` for the periodic chain of n sites, ``(L1, L2)`` for the periodic
    L1×L2 lattice. The arrays are those of the test split of :func:`lattice_spec`: the
    same potential streams as that dataset, E = u · λ_⌈fraction·sites⌉ with the same
    uniforms u, and exact counts N = ``count_eigenvalues(V, E, dim)``. λ_top comes from
    :func:`lnet.physics.kth_eigenvalue` (one level): O(n) per count in 1-D, so n = 10⁵
    takes about a second; in 2-D about 45 exact counts per potential for λ_top plus one
    per energy (~0.5 s each at 256×256 on 2 cores).

    Returns V, W ``(P, *lattice)``, E, N ``(P, m)``, ``lambda_top`` ``(P,)``,
    ``component`` ``(P,)`` (the index of the law component each potential was drawn
    from, into ``spec.law.component_names``; 0 for a single family) and ``spec`` (the
    DatasetSpec whose test split this is). The last :data:`TEST_SET_MEMO` sets built
    in the process are kept, so scoring several models builds each set once; the arrays
    are shared, do not modify them.
    """
    spec = lattice_spec(potential, lattice, potentials, energies, seed, fraction)
    if (hit := _memo(spec)) is not None:
        return hit
    drawn = draw_split(spec, "test")
    V, dim = drawn["V"], spec.dim
    top = math.ceil(spec.energies["fraction"] * spec.n)  # as lnet.data.build
    lam = kth_eigenvalue(V, top, dim=dim)
    E = drawn["unit"] * lam[:, None]
    return _remember(
        {
            "V": V,
            "W": landscape_potential(V, dim=dim),
            "E": E,
            "N": count_eigenvalues(V, E, dim=dim),
            "lambda_top": lam,
            "component": drawn["component"],
            "spec": spec,
        }
    )


def family_test_set(
    spec: DatasetSpec, potential: Mapping[str, Any], data_dir: str | Path
) -> tuple[dict[str, np.ndarray], DatasetSpec]:
    """The test split of ``spec``'s dataset with another ``potential`` law (a config such
    as ``{family: uniform, amplitude: 20}``): the same lattice, energies, test size and
    data seed, built or read through the cache in ``data_dir``. Returns the arrays (V, W,
    E, N, ...) and the spec of that dataset."""
    from lnet.data.datamodules import CountingDataModule

    dm = CountingDataModule(
        n=spec.n if spec.dim == 1 else None,
        dim=spec.dim,
        shape=spec.shape,
        potential=dict(potential),
        energies=spec.energies,
        sizes={"train": 1, "val": 1, "test": spec.sizes["test"]},
        seed=spec.seed,
        data_dir=data_dir,
        show_progress=False,
    )
    return dm.load().arrays["test"], dm.spec
