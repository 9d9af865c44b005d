"""The landscape laws as baselines (``eval.laws``), at the data's lattice dimension.

``box``: the box law c1·N^W(c2·E) fitted on the training split exactly as
``model=box_counting`` (``box_counting_2d`` in 2-D) fits it; ``weyl_continuum`` and
``weyl_lattice``: the two parameter-free Weyl laws of W; ``weyl_torus``: the lattice law
with the free staircase of the test lattice itself (parameter-free); ``weyl_shifted``: the lattice
Weyl law of W at E / c, c fitted on the training split
(:class:`lnet.models.WeylShiftedLaw`); ``kpm``: the kernel polynomial method's N(E) from
V (:class:`lnet.models.KpmLaw`, M = 256 moments, R = 8 vectors, seed 0, nothing fitted).
:func:`evaluate_laws` puts them beside the model on its own test set and returns a
:class:`LawsResult`; the fitted laws are then scored on the lattice sets too
(:mod:`lnet.evaluation.lattices`). Laws count from W, except those with
``needs_potential`` (``kpm``), which count from V: :func:`law_counts` takes both.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnet.errors import ConfigError
from lnet.models.metrics import generalization_metrics
from lnet.models.protocol import LnetModel
from lnet.physics import box_count
from lnet.tasks import COUNTING

LAW_METRICS = ("mse", "mae", "mape", "rel_err")  # logged as law_<name>_test_<metric>


def make_law_model(name: str, dim: int) -> LnetModel:
    """The law behind an ``eval.laws`` name at lattice dimension ``dim``, unfitted.

    ``box``: :class:`lnet.models.BoxCountingLaw` (``BoxCountingLaw2D`` in 2-D), fitted as
    ``model=box_counting`` (``box_counting_2d``) fits it; ``weyl_continuum`` and
    ``weyl_lattice``, ``weyl_torus``: :class:`lnet.models.WeylLaw` (``WeylLaw2D``) of that
    kind, no parameters; ``weyl_shifted``: :class:`lnet.models.WeylShiftedLaw` (one constant c,
    least squares on the counts); ``kpm``: :class:`lnet.models.KpmLaw` with its defaults.
    3-D: the same classes with ``dim=3``.
    """
    from lnet.models import (
        BoxCountingLaw,
        BoxCountingLaw2D,
        KpmLaw,
        WeylLaw,
        WeylLaw2D,
        WeylShiftedLaw,
    )

    if name == "box":
        return BoxCountingLaw2D() if dim == 2 else BoxCountingLaw(dim=dim)
    if name == "weyl_shifted":
        return WeylShiftedLaw(dim=dim)
    if name == "kpm":
        return KpmLaw(dim=dim)
    if name not in ("weyl_continuum", "weyl_lattice", "weyl_torus"):
        raise ConfigError("eval.laws", f"unknown law {name!r}")
    kind = name.removeprefix("weyl_")
    return WeylLaw2D(kind=kind) if dim == 2 else WeylLaw(kind=kind, dim=dim)


def fit_laws(
    names: Sequence[str], train: Mapping[str, np.ndarray], dim: int
) -> dict[str, tuple[LnetModel, dict[str, float], float]]:
    """Each law of ``names`` fitted on the training arrays W, E, N (the whole split, as
    a run of that law would); returns name -> (law, fitted parameters, fit seconds)."""
    out: dict[str, tuple[LnetModel, dict[str, float], float]] = {}
    for name in names:
        t0 = time.perf_counter()
        law = make_law_model(name, dim)
        params = law.fit(train["W"], train["E"], train["N"])
        seconds = time.perf_counter() - t0
        out[name] = (law.eval(), {k: float(v) for k, v in params.items()}, seconds)
    return out


def law_counts(
    law: LnetModel, W: np.ndarray, E: np.ndarray, V: np.ndarray | None = None
) -> np.ndarray:
    """A law's counts from landscapes already computed: W ``(P, *lattice)``, E ``(P, m)``
    -> ``(P, m)``, the numbers ``Predictor(law).predict_counts(V, E)`` gives for the V
    whose landscape W is, without solving for W again. A law that counts from the
    potential (``needs_potential``: ``kpm``) gets V ``(P, *lattice)`` instead, which the
    caller must then pass."""
    E = np.asarray(E, dtype=np.float64)
    if getattr(law, "needs_potential", False):
        if V is None:
            raise ValueError(f"{type(law).__name__} counts from the potential V: pass V")
        return law.predict_numpy(np.asarray(V, dtype=np.float64), E)
    return law.predict_numpy(np.asarray(W, dtype=np.float64), E)


@dataclass
class LawsResult:
    """The model against the landscape laws on the model's test set.

    ``table`` (``eval/laws.json``): the number of test potentials, the lattice, the
    model's metrics (every metric of :func:`lnet.models.metrics.generalization_metrics`)
    and per law its ``fit`` output, metrics and fit seconds. ``metrics``:
    ``test_rel_err`` (the model), ``law_<name>_test_<metric>`` for :data:`LAW_METRICS`,
    ``law_box_c1`` and ``law_box_c2``. ``laws``: the fitted laws by name.
    """

    table: dict[str, Any]
    metrics: dict[str, float]
    laws: dict[str, LnetModel] = field(default_factory=dict)


def evaluate_laws(predictor: Any, dm: Any, pred: np.ndarray, names: Sequence[str]) -> LawsResult:
    """The model against the laws ``names`` on the same test set.

    ``pred``: the model's test predictions (:func:`lnet.training.evaluate`, the first
    ``len(pred)`` test potentials, which the laws get too). Each law is fitted on the
    training split of ``dm`` (:func:`fit_laws`) and counts from the test set's own W.
    """
    if predictor.task != COUNTING:
        raise ConfigError(
            "eval.laws", f"needs a counting model; this is a '{predictor.task}' model"
        )
    test = {k: v[: len(pred)] for k, v in dm.arrays["test"].items()}
    n = dm.spec.n
    model_metrics = generalization_metrics(pred, test["N"], n)
    result = LawsResult(
        table={
            "test_potentials": int(len(pred)),
            "lattice": list(dm.spec.lattice),
            "model": model_metrics,
        },
        metrics={"test_rel_err": model_metrics["rel_err"]},
    )
    for name, (law, params, seconds) in fit_laws(names, dm.arrays["train"], dm.spec.dim).items():
        counts = law_counts(law, test["W"], test["E"], V=test["V"])
        metrics = generalization_metrics(counts, test["N"], n)
        result.table[name] = {"fit": params, **metrics, "fit_seconds": seconds}
        result.metrics.update({f"law_{name}_test_{k}": metrics[k] for k in LAW_METRICS})
        if name == "box":
            result.metrics.update(law_box_c1=params["c1"], law_box_c2=params["c2"])
        result.laws[name] = law
    return result


def default_reference_laws(dm: Any) -> dict[str, LnetModel]:
    """Reference curves for 2-D and 3-D plots when ``eval.laws`` is not set: the box count
    with the least-squares c1 at c2 = 1 (as :func:`lnet.tracking.plots.box_scale` in 1-D)
    and the continuum Weyl law."""
    from lnet.models import BoxCountingLaw, BoxCountingLaw2D, WeylLaw, WeylLaw2D

    dim = dm.spec.dim
    train = dm.arrays["train"]
    B = box_count(train["W"], train["E"], dim=dim).astype(np.float64)
    c1 = float(np.sum(train["N"] * B) / max(np.sum(B * B), 1e-300))
    if dim == 2:
        return {"box": BoxCountingLaw2D(c1=c1, fit=False), "weyl_continuum": WeylLaw2D()}
    return {
        "box": BoxCountingLaw(c1=c1, fit=False, dim=dim),
        "weyl_continuum": WeylLaw(dim=dim),
    }
