"""Generalisation to other lattices, one function for every dimension.

A lattice is the shape of one potential: ``(n,)`` for the periodic chain, ``(L1, L2)``
for the periodic L1×L2 lattice, and so on. :func:`evaluate_lattices` scores a counting
model, and the fitted laws, on a fresh test set per lattice
(:func:`lnet.data.test_sets.lattice_test_set`: the training law and data seed, E uniform
in [0, λ_⌈0.1·sites⌉], exact counts). Each set is predicted once; the metrics and the
figure data of the returned :class:`LatticeResult` share those predictions.

Names follow the lattice's dimension, so that 1-D runs read as they always have:
1-D lattices are *sizes* (``eval.sizes``, metrics ``size_<n>_test_*``, table
``generalization/sizes.json``), the others *shapes* (``eval.shapes``, metrics
``shape_<L1>x<L2>_test_*``, table ``generalization/shapes.json``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnet.data.test_sets import SPECTRUM_FRACTION, lattice_test_set
from lnet.errors import ConfigError
from lnet.evaluation.laws import law_counts
from lnet.models.metrics import generalization_metrics
from lnet.models.protocol import LnetModel
from lnet.physics import count_eigenvalues
from lnet.tasks import COUNTING

log = logging.getLogger(__name__)

SET_METRICS = ("rel_err", "mse_per_1000", "mse", "mae")  # <size|shape>_<lattice>_test_<metric>
SET_LAW_METRICS = ("rel_err",)  # logged as <size|shape>_<lattice>_law_<name>_<metric>
NOT_APPLICABLE = "not applicable"
CURVE_POINTS = 300  # energies of the counting curve of the largest lattice


def kind(dim: int) -> str:
    """``size`` for 1-D lattices (lengths n), ``shape`` for the others: the word in the
    metric names, the config key (``eval.sizes``, ``eval.shapes``) and the table."""
    return "size" if dim == 1 else "shape"


def lattice_key(lattice: Sequence[int]) -> str:
    """``1000`` or ``64x64``: the lattice as it appears in metric names and tables."""
    return "x".join(str(side) for side in lattice)


def lattice_text(lattice: Sequence[int]) -> str:
    """``n = 1000`` or ``64×64``: the lattice in figure titles and legends."""
    return f"n = {lattice[0]}" if len(lattice) == 1 else lattice_key(lattice).replace("x", "×")


def metric_prefix(lattice: Sequence[int]) -> str:
    """``size_1000`` or ``shape_64x64``: the prefix of a lattice set's metrics."""
    return f"{kind(len(lattice))}_{lattice_key(lattice)}"


def training_lattices(dm: Any) -> list[tuple[int, ...]]:
    """The lattices a model was trained on: the data's, then each ``data.extra_train``
    item's (``(n,)`` in 1-D, ``(L1, L2)`` in 2-D)."""
    return [tuple(d.spec.lattice) for d in (dm, *getattr(dm, "extra", []))]


def trained_on(dm: Any) -> str:
    """``32×32 + 64×64`` or ``n = 1000 + 4000``: the training lattices, for figure titles."""
    lattices = training_lattices(dm)
    if len(lattices[0]) == 1:
        return "n = " + " + ".join(str(t[0]) for t in lattices)
    return " + ".join(lattice_text(t) for t in lattices)


def not_taken(predictor: Any, lattice: Sequence[int]) -> str | None:
    """Why the model cannot take potentials on ``lattice`` (its fixed length or shape),
    or None when it can."""
    if len(lattice) == 1 and not predictor.accepts(lattice[0]):
        return f"the model takes n = {predictor.n} only"
    shape = getattr(predictor, "shape", None) if len(lattice) > 1 else None
    if shape is not None and tuple(shape) != tuple(lattice):
        return f"the model takes {lattice_text(shape)} only"
    return None


@dataclass
class LatticeCurve:
    """Test potential 0 of the largest lattice's set, for its figure: the model's N̂(E)
    (``pred``) and each law's counts (``laws``: name -> (law, counts)) on ``E``
    ``(CURVE_POINTS,)`` in [0, λ_top], the exact staircase there (``exact``; 1-D only,
    where an exact count is O(n); None in 2-D, where each costs O(n^{3/2})), the set's
    energies and exact counts of potential 0 (``samples``), and the whole set's exact
    ``N`` and predicted ``N_hat`` ``(P, m)`` (the predictions of the metrics)."""

    lattice: tuple[int, ...]
    E: np.ndarray
    pred: np.ndarray
    exact: np.ndarray | None
    laws: dict[str, tuple[LnetModel, np.ndarray]]
    samples: tuple[np.ndarray, np.ndarray]
    N: np.ndarray
    N_hat: np.ndarray
    top_level: int  # the index k of λ_top = λ_k


@dataclass
class LatticeResult:
    """A model on the lattice sets of one dimension.

    ``rows``: per lattice key (``1000``, ``64x64``) the lattice, its number of sites,
    status (``ok`` or :data:`NOT_APPLICABLE` with a note), every metric of
    :func:`lnet.models.metrics.generalization_metrics`, the laws' metrics, build and
    predict seconds and the set's dataset name. ``metrics``:
    ``<size|shape>_<lattice>_test_<metric>`` for :data:`SET_METRICS` and
    ``<size|shape>_<lattice>_law_<name>_rel_err``. ``skipped``: the lattices the model
    cannot take. ``curve``: the figure data of the largest lattice taken (None if none,
    or not asked for).
    """

    dim: int
    label: str
    train_lattices: list[tuple[int, ...]]
    trained_on: str
    settings: dict[str, Any]
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: list[tuple[int, ...]] = field(default_factory=list)
    curve: LatticeCurve | None = None

    @property
    def kind(self) -> str:
        return kind(self.dim)

    def table(self) -> dict[str, Any]:
        """The table ``generalization/sizes.json`` (1-D: ``train_n``, ``sizes``) or
        ``generalization/shapes.json`` (``train_shape``, ``extra_train_shapes``,
        ``shapes``), with the potential law, data seed, potentials and energies."""
        if self.dim == 1:
            head: dict[str, Any] = {"train_n": self.train_lattices[0][0]}
        else:
            head = {
                "train_shape": list(self.train_lattices[0]),
                "extra_train_shapes": [list(t) for t in self.train_lattices[1:]],
            }
        return {**head, **self.settings, f"{self.kind}s": self.rows}


def evaluate_lattices(
    predictor: Any,
    dm: Any,
    lattices: Sequence[Sequence[int]],
    potentials: int,
    energies: int,
    label: str,
    laws: Mapping[str, LnetModel] | None = None,
    curve: bool = True,
) -> LatticeResult:
    """A counting model (:class:`lnet.predict.Predictor`) and the fitted ``laws`` on a
    fresh test set at every lattice of ``lattices`` (all of the data's dimension).

    Sets: :func:`lnet.data.test_sets.lattice_test_set` from the training data's (``dm``)
    potential config and data seed, ``potentials`` × ``energies``. A lattice the model
    cannot take (a fixed length) is skipped and marked "not applicable". The model
    predicts each set once (the laws count from the set's W); ``curve``: also the figure
    data of the largest lattice (:class:`LatticeCurve`). ``label``: the model's name in
    the figures. The lattices are taken in order of their number of sites.
    """
    dim = dm.spec.dim
    key = f"eval.{kind(dim)}s"
    if predictor.task != COUNTING:
        raise ConfigError(key, f"needs a counting model; this is a '{predictor.task}' model")
    wrong = [list(t) for t in lattices if len(t) != dim or predictor.dim != dim]
    if wrong:
        raise ConfigError(
            key,
            f"{wrong[0]} needs {len(wrong[0])}-D data and a {len(wrong[0])}-D model; "
            f"the data is {dim}-D and the model {predictor.dim}-D",
        )
    laws = dict(laws or {})
    result = LatticeResult(
        dim=dim,
        label=label,
        train_lattices=training_lattices(dm),
        trained_on=trained_on(dm),
        settings={
            "potential": dm.spec.potential,
            "seed": dm.spec.seed,
            "potentials": potentials,
            "energies": {
                "mode": "spectrum_fraction",
                "count": energies,
                "fraction": SPECTRUM_FRACTION,
            },
        },
    )
    largest = None
    distinct = {tuple(int(side) for side in t) for t in lattices}
    for lattice in sorted(distinct, key=lambda t: (math.prod(t), t)):
        name, sites = lattice_key(lattice), math.prod(lattice)
        head = {"shape": list(lattice)} if dim > 1 else {}
        if (note := not_taken(predictor, lattice)) is not None:
            result.rows[name] = {**head, "n": sites, "status": NOT_APPLICABLE, "note": note}
            result.skipped.append(lattice)
            log.info("%s: %s skipped (%s)", key, lattice_text(lattice), note)
            continue
        t0 = time.perf_counter()
        test = lattice_test_set(dm.spec.potential, lattice, potentials, energies, dm.spec.seed)
        t1 = time.perf_counter()
        pred = predictor.predict_counts(test["V"], test["E"])
        t2 = time.perf_counter()
        metrics = generalization_metrics(pred, test["N"], sites)
        prefix = metric_prefix(lattice)
        law_rows = {}
        for law_name, law in laws.items():
            law_rows[law_name] = generalization_metrics(
                law_counts(law, test["W"], test["E"], V=test["V"]), test["N"], sites
            )
            result.metrics.update(
                {f"{prefix}_law_{law_name}_{k}": law_rows[law_name][k] for k in SET_LAW_METRICS}
            )
        result.rows[name] = {
            **head,
            "n": sites,
            "status": "ok",
            **metrics,
            "laws": law_rows,
            "build_seconds": t1 - t0,
            "predict_seconds": t2 - t1,
            "dataset": test["spec"].name,
        }
        result.metrics.update({f"{prefix}_test_{k}": metrics[k] for k in SET_METRICS})
        largest = (lattice, test, pred)
    if curve and largest is not None:
        result.curve = lattice_curve(predictor, *largest, laws)
    return result


def lattice_curve(
    predictor: Any,
    lattice: tuple[int, ...],
    test: Mapping[str, Any],
    pred: np.ndarray,
    laws: Mapping[str, LnetModel],
    points: int = CURVE_POINTS,
) -> LatticeCurve:
    """The figure data of one lattice set (:class:`LatticeCurve`); ``pred``: the model's
    predictions on the whole set, already computed for the metrics."""
    V0, W0 = test["V"][0], test["W"][0]
    E = np.linspace(0.0, float(test["lambda_top"][0]), points)
    return LatticeCurve(
        lattice=lattice,
        E=E,
        pred=predictor.predict_counts(V0, E),
        exact=count_eigenvalues(V0, E) if len(lattice) == 1 else None,
        laws={
            name: (law, law_counts(law, W0[None], E[None], V=V0[None])[0])
            for name, law in laws.items()
        },
        samples=(test["E"][0], test["N"][0]),
        N=test["N"],
        N_hat=pred,
        top_level=math.ceil(SPECTRUM_FRACTION * math.prod(lattice)),
    )
