"""Generalisation to other potential laws: one fresh test set per ``eval.families`` entry.

:func:`family_entries` checks the entries (a family name, or a mapping with parameters
and an optional label); :func:`evaluate_families` scores a counting model on each
entry's test set (:func:`lnet.data.test_sets.family_test_set`) and returns a
:class:`FamilyResult`; :func:`lnet.tracking.results.log_result` logs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnet.config import to_plain
from lnet.data.families import FAMILIES, PotentialLaw, make_law
from lnet.errors import ConfigError

# logged as family_<label>_test_<metric>
FAMILY_METRICS = ("mse", "mae", "mape", "rel_err", "mse_ci_low", "mse_ci_high")


@dataclass(frozen=True)
class FamilyEntry:
    """One checked ``eval.families`` entry."""

    label: str  # metric-name-safe
    law: PotentialLaw  # a single family, every parameter filled in
    key: str  # eval.families[i]

    @property
    def family(self) -> str:
        return self.law.family


def _number(v: float) -> str:
    return f"{v:g}".replace("+", "")


def sanitize_label(text: str) -> str:
    """A label usable inside an MLflow metric name: runs of characters other than
    letters, digits, ``_``, ``.`` and ``-`` become one ``_``."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_")


def default_label(law: PotentialLaw) -> str:
    """The family name plus each parameter that differs from the family's default,
    e.g. ``uniform`` or ``uniform_amplitude20``."""
    params = FAMILIES[law.family].params
    parts = [law.family]
    parts += [f"{k}{_number(v)}" for k, v in law.params.items() if v != params[k].default]
    return sanitize_label("_".join(parts))


def family_entries(value: Any, key: str = "eval.families") -> list[FamilyEntry]:
    """Check ``eval.families``: each entry a family name or a mapping
    ``{family: <name>, <param>: <value>, ..., label: <name>}``; labels must be distinct."""
    value = to_plain(value)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(
            key,
            f"must be a list, e.g. [uniform, {{family: uniform, amplitude: 20}}], got {value!r}",
        )
    out: list[FamilyEntry] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(value):
        k = f"{key}[{i}]"
        label = None
        if isinstance(entry, str):
            cfg: dict[str, Any] = {"family": entry}
        elif isinstance(entry, Mapping):
            cfg = dict(entry)
            label = cfg.pop("label", None)
            ok = isinstance(label, str | int | float) and not isinstance(label, bool)
            if label is not None and not (ok and sanitize_label(str(label))):
                raise ConfigError(f"{k}.label", f"must be a non-empty name, got {label!r}")
        else:
            raise ConfigError(
                k,
                "must be a family name or a mapping {family: <name>, <param>: <value>, "
                f"label: <optional name>}}, got {entry!r}",
            )
        if cfg.get("family") == "mixture":
            raise ConfigError(f"{k}.family", f"must be a single family; allowed: {list(FAMILIES)}")
        if cfg.get("family") not in FAMILIES:
            raise ConfigError(
                f"{k}.family", f"unknown family {cfg.get('family')!r}; allowed: {list(FAMILIES)}"
            )
        law = make_law(cfg, key=k)  # unknown or bad parameters: eval.families[i].<param>
        name = sanitize_label(str(label)) if label is not None else default_label(law)
        if name in seen:
            raise ConfigError(
                k if label is None else f"{k}.label",
                f"label {name!r} is already used by {seen[name]}; give each entry its own label",
            )
        seen[name] = k
        out.append(FamilyEntry(name, law, k))
    return out


def _param_range(value: Any) -> tuple[float, float]:
    """[low, high] of a training parameter: a number, a uniform range (a tuple) or a
    log-uniform range (an object with ``low`` and ``high``)."""
    if isinstance(value, tuple):
        return float(value[0]), float(value[1])
    if hasattr(value, "low") and hasattr(value, "high"):
        return float(value.low), float(value.high)
    return float(value), float(value)


def held_out_reason(law: PotentialLaw, train_law: PotentialLaw) -> str | None:
    """Why a single-family law lies outside the training law, or None if it lies inside.

    Held out: its family is not among the training law's components, or one of its
    parameters lies outside that component's training range (a mixture's uniform or
    log-uniform [low, high], or the single value of a one-family law).
    """
    components = train_law.components or ((train_law.family, train_law.params),)
    trained = dict(components)
    if law.family not in trained:
        return f"family '{law.family}' is not drawn in training ({', '.join(trained)})"
    for name, value in law.params.items():
        lo, hi = _param_range(trained[law.family][name])
        if not lo <= value <= hi:
            where = f"[{_number(lo)}, {_number(hi)}]" if lo != hi else _number(lo)
            return f"{name} = {_number(value)} outside the training value {where}"
    return None


@dataclass
class FamilyResult:
    """A model on the ``eval.families`` test sets.

    ``rows``: per label its family, params, every metric of
    :func:`lnet.models.metrics.generalization_metrics` with the MSE's bootstrap interval,
    ``mse_per_potential`` ``(P,)``, ``held_out`` (1.0/0.0), ``held_out_reason`` and the
    dataset name (the table ``family_generalization.json``). ``metrics``:
    ``family_<label>_test_<metric>`` for :data:`FAMILY_METRICS`.
    """

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def evaluate_families(predictor: Any, dm: Any, entries: list[FamilyEntry]) -> FamilyResult:
    """A counting model (:class:`lnet.predict.Predictor`) on one fresh test set per entry.

    Each set has the training data's (``dm``) lattice, energies, test size and data seed
    and the entry's family and parameters (defaults for the rest); it is cached like any
    other dataset. The interval is the 95 % percentile bootstrap of the MSE over the
    set's test potentials.
    """
    from lnet.data.test_sets import family_test_set
    from lnet.models.metrics import bootstrap_interval, generalization_metrics

    result = FamilyResult()
    for entry in entries:
        test, spec = family_test_set(dm.spec, entry.law.to_config(), dm.data_dir)
        pred = predictor.predict_counts(test["V"], test["E"])
        metrics = generalization_metrics(pred, test["N"], dm.spec.n)
        sq = (np.asarray(pred, dtype=np.float64) - test["N"]) ** 2
        per_potential = sq.reshape(sq.shape[0], -1).mean(axis=1)
        metrics["mse_ci_low"], metrics["mse_ci_high"] = bootstrap_interval(per_potential)
        reason = held_out_reason(entry.law, dm.spec.law)
        result.rows[entry.label] = {
            "family": entry.family,
            "params": dict(entry.law.params),
            **metrics,
            "mse_per_potential": per_potential.tolist(),
            "held_out": float(reason is not None),
            "held_out_reason": reason,
            "dataset": spec.name,
        }
        result.metrics.update(
            {f"family_{entry.label}_test_{k}": metrics[k] for k in FAMILY_METRICS}
        )
    return result
