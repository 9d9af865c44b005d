"""The fresh sets a pretrained model is calibrated and measured on.

Every set is the test split of :func:`lnet.data.test_sets.lattice_spec`: P potentials
of a law on one lattice, m energies per potential uniform in [0, λ_⌈f·sites⌉] (f the
spectral fraction of the training data, 0.1 by default), exact counts N_V(E) from
:func:`lnet.physics.count_eigenvalues`. A set is fixed by its :class:`SetSpec` (law,
lattice, P, m, seed, f), which the model's ``calibration.json`` and ``card.json``
record, so anyone can draw it again.

Seeds: the training data use the data seeds of their configs (``data.seed`` = 0,
``extra_train`` seeds such as 2, and the eval sets the same); these sets use their own,

- calibration set j (lattice j): :data:`CALIBRATION_SEED` + j;
- measurement set of law i at lattice j: :data:`TEST_SEED` + 100·i + j;

distinct per set, so that no two sets share potential streams (every family draws from
the stream ``SeedSequence(seed, spawn_key=(split, index))``: sets of one seed would
reuse the same random numbers for other laws or lattices).

Laws:

- calibration: the training law itself (for the universal 1-D model, the mixture of
  ``conf/data/potential/universal.yaml``), at every calibration lattice, equally many
  potentials per lattice; each pair is grouped by the law component it was drawn from;
- measurement: each training component alone (a one-component mixture with its
  parameter ranges), and the held-out laws: by default every family that the training
  law never draws, except ``constant`` (V ≡ c is degenerate) and, in 3-D, the
  correlated families without a 3-D sampler (speckle); they get the training law's
  amplitude (range) and their own default shape parameters. For the universal 1-D law
  the held-out laws are laplace, logistic and rayleigh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnet.data.families import FAMILIES, make_law
from lnet.data.test_sets import SPECTRUM_FRACTION, lattice_test_set
from lnet.evaluation.lattices import lattice_key

CALIBRATION_SEED = 24_001_000
TEST_SEED = 24_002_000
NEVER_TESTED = ("constant",)  # V ≡ c: degenerate spectrum, no disorder
# per lattice dimension: the calibration (and measurement) lattices, calibration
# potentials per lattice, and measurement potentials × energies per (law, lattice)
DEFAULT_LATTICES: dict[int, tuple[tuple[int, ...], ...]] = {
    1: ((1000,), (10000,)),
    2: ((32, 32), (64, 64)),
    3: ((16, 16, 16), (20, 20, 20)),
}
DEFAULT_CAL_POTENTIALS = {1: 1000, 2: 1000, 3: 100}
DEFAULT_TEST_SIZE = {1: (100, 20), 2: (80, 5), 3: (10, 10)}


@dataclass(frozen=True)
class SetSpec:
    """One fresh set: ``label`` (the law's name in tables and metrics), ``potential``
    (its law config, ``data.potential`` form), ``lattice`` ((n,), (L1, L2) or (L1, L2,
    L3)), ``potentials`` P, ``energies`` m per potential, ``seed``, ``fraction`` f
    (E uniform in [0, λ_⌈f·sites⌉]) and ``in_training`` (whether the training law draws
    this law)."""

    label: str
    potential: dict[str, Any]
    lattice: tuple[int, ...]
    potentials: int
    energies: int
    seed: int
    fraction: float = SPECTRUM_FRACTION
    in_training: bool = True

    @property
    def key(self) -> str:
        """``1000`` or ``32x32``: the lattice as in metric names."""
        return lattice_key(self.lattice)

    @property
    def sites(self) -> int:
        return math.prod(self.lattice)

    def draw(self) -> dict[str, Any]:
        """The set's arrays (:func:`lnet.data.test_sets.lattice_test_set`): V, W
        ``(P, *lattice)``, E, N ``(P, m)``, ``component`` ``(P,)`` (index into the law's
        components), ``lambda_top`` ``(P,)`` and the dataset ``spec``."""
        return lattice_test_set(
            self.potential, self.lattice, self.potentials, self.energies, self.seed, self.fraction
        )

    def component_labels(self, component: np.ndarray) -> np.ndarray:
        """The law component of each potential, by name (``(P,)`` strings)."""
        names = make_law(self.potential).component_names
        return np.asarray([names[int(i)] for i in component])

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "potential": self.potential,
            "lattice": list(self.lattice),
            "potentials": self.potentials,
            "energies": self.energies,
            "seed": self.seed,
            "fraction": self.fraction,
            "in_training": self.in_training,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SetSpec:
        return cls(
            label=str(d["label"]),
            potential=dict(d["potential"]),
            lattice=tuple(int(s) for s in d["lattice"]),
            potentials=int(d["potentials"]),
            energies=int(d["energies"]),
            seed=int(d["seed"]),
            fraction=float(d.get("fraction", SPECTRUM_FRACTION)),
            in_training=bool(d.get("in_training", True)),
        )


def law_components(potential: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The training law's components as (family, config of that family alone): a
    mixture's components as one-component mixtures (their parameter ranges kept), a
    single family as itself."""
    law = make_law(potential)
    if not law.components:
        return [(law.family, law.to_config())]
    cfg = law.to_config()
    return [
        (name, {"family": "mixture", "components": {name: params}})
        for name, params in cfg["components"].items()
    ]


def amplitude_of(potential: Mapping[str, Any]) -> Any:
    """The training law's amplitude: a number, ``[low, high]`` (uniform) or
    ``{log_uniform: [low, high]}``; for a mixture whose components differ, the
    log-uniform (uniform if any is uniform) range spanning them all."""
    cfg = make_law(potential).to_config()
    if cfg["family"] != "mixture":
        return cfg["amplitude"]
    values = [params["amplitude"] for params in cfg["components"].values()]
    if all(v == values[0] for v in values):
        return values[0]
    lows, highs, log = [], [], True
    for v in values:
        if isinstance(v, Mapping):
            lo, hi = v["log_uniform"]
        elif isinstance(v, list | tuple):
            (lo, hi), log = v, False
        else:
            lo = hi = v
        lows.append(float(lo))
        highs.append(float(hi))
    span = [min(lows), max(highs)]
    return {"log_uniform": span} if log else span


def held_out_families(potential: Mapping[str, Any], dim: int) -> list[str]:
    """The families the training law never draws (module docstring): all of
    :data:`lnet.data.families.FAMILIES` but the law's own, ``constant`` and, in 3-D,
    the correlated ones (no 3-D sampler)."""
    trained = set(make_law(potential).component_names)
    return [
        name
        for name, family in FAMILIES.items()
        if name not in trained
        and name not in NEVER_TESTED
        and not (dim == 3 and family.sampler_2d is not None)
    ]


def held_out_law(family: str, potential: Mapping[str, Any]) -> dict[str, Any]:
    """``family`` with the training law's amplitude (:func:`amplitude_of`) and its own
    default shape parameters: a one-component mixture when the amplitude is a range."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; allowed: {list(FAMILIES)}")
    amplitude = amplitude_of(potential)
    if isinstance(amplitude, Mapping | list | tuple):
        cfg = {"family": "mixture", "components": {family: {"amplitude": amplitude}}}
    else:
        cfg = {"family": family, "amplitude": amplitude}
    return make_law(cfg).to_config()


def calibration_sets(
    potential: Mapping[str, Any],
    lattices: Sequence[Sequence[int]],
    potentials: int,
    energies: int = 1,
    fraction: float = SPECTRUM_FRACTION,
) -> list[SetSpec]:
    """One calibration set per lattice: the training law, ``potentials`` potentials
    with ``energies`` energies each, seed :data:`CALIBRATION_SEED` + j."""
    cfg = make_law(potential).to_config()
    return [
        SetSpec(
            label="calibration",
            potential=cfg,
            lattice=tuple(int(s) for s in lattice),
            potentials=int(potentials),
            energies=int(energies),
            seed=CALIBRATION_SEED + j,
            fraction=float(fraction),
        )
        for j, lattice in enumerate(lattices)
    ]


def measurement_sets(
    potential: Mapping[str, Any],
    lattices: Sequence[Sequence[int]],
    potentials: int,
    energies: int,
    held_out: Sequence[str],
    fraction: float = SPECTRUM_FRACTION,
    extra: Sequence[tuple[str, Mapping[str, Any], bool]] = (),
) -> list[SetSpec]:
    """One set per law (the training components, then the ``held_out`` families, then
    the ``extra`` (label, law config, in training) ones, e.g. the experts' laws) and
    lattice, seed :data:`TEST_SEED` + 100·i + j (law i, lattice j)."""
    laws = [(label, cfg, True) for label, cfg in law_components(potential)]
    laws += [(family, held_out_law(family, potential), False) for family in held_out]
    laws += [(label, make_law(cfg).to_config(), bool(t)) for label, cfg, t in extra]
    return [
        SetSpec(
            label=label,
            potential=cfg,
            lattice=tuple(int(s) for s in lattice),
            potentials=int(potentials),
            energies=int(energies),
            seed=TEST_SEED + 100 * i + j,
            fraction=float(fraction),
            in_training=in_training,
        )
        for i, (label, cfg, in_training) in enumerate(laws)
        for j, lattice in enumerate(lattices)
    ]
