"""Predict a pretrained ensemble on the fresh sets of :mod:`lnet.pretrained.sets`,
calibrate its interval and measure it.

Calibration pairs: every calibration set (the training law at one lattice), its
potentials split by index: even-indexed potentials (all their energies) form the
*selection* half, which picks (κ, γ, δ); odd-indexed ones the *quantile* half, which gives
q, one q per calibration lattice from that lattice's pairs and, with ``zero_cells``, one
per lattice and zero-site class (:func:`lnet.conformal.calibrate`). With one energy per
potential (the default) the pairs of the quantile half are i.i.d. draws of the
calibration distribution, which is what the conformal guarantee assumes.

Measurement, per set of P potentials × m energies with exact counts N ``(P, m)``:

- ``coverage`` = mean of 1[low <= N <= high] over the P·m pairs, with the 95 %
  percentile bootstrap over potentials (``coverage_ci``);
- ``mse``, ``mae``, ``mape``, ``rel_err`` = mean |N̂ − N| / max(N, 1), ``mse_per_1000``
  (:func:`lnet.models.metrics.generalization_metrics`) of the count N̂ that
  ``predict_counts`` returns (the mean μ, rounded where μ < the ensemble's
  ``integer_below``, :mod:`lnet.ensemble`), with bootstrap intervals of the MSE and of
  rel_err over potentials; the interval is the one ``predict_counts`` returns too;
- ``width`` = mean (high − low) in counts, ``rel_width`` = mean (high − low) / max(N, 1);
- ``in_domain``: the fraction of the set's potentials inside the model's accepted
  input domain (:mod:`lnet.domain`; None without a domain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnet.conformal import LEVEL, Calibrated, calibrate, min_scores
from lnet.domain import InputDomain, has_zero_site, potential_amplitude
from lnet.ensemble import EnsemblePredictor
from lnet.models.metrics import bootstrap_interval, generalization_metrics
from lnet.pretrained.cards import lattice_text
from lnet.pretrained.sets import SetSpec
from lnet.routing import GENERALIST, RoutedPredictor
from lnet.tracking import stop

Progress = Callable[[Sequence[Any], str], Any]  # (items, description) -> an iterable


def no_progress(items: Sequence[Any], description: str) -> Sequence[Any]:
    """The items as they are: no progress shown."""
    return items


@dataclass
class SetPrediction:
    """A drawn set and the members' counts on it: ``data`` (V, W, E, N, component, ...
    of :meth:`SetSpec.draw`) and ``counts`` ``(K, P, m)``."""

    spec: SetSpec
    data: dict[str, Any]
    counts: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """μ ``(P, m)``: the members' mean count, clipped at 0."""
        return np.maximum(self.counts.mean(axis=0), 0.0)

    @property
    def std(self) -> np.ndarray:
        """s ``(P, m)``: the members' standard deviation (ddof 0)."""
        return self.counts.std(axis=0)


def predict_set(
    ensemble: EnsemblePredictor, spec: SetSpec, progress: Progress = no_progress, chunk: int = 50
) -> SetPrediction:
    """Draw the set and predict it with every member, ``chunk`` potentials at a time
    (``progress`` shows them; a stop request, Ctrl-C or SIGTERM under
    :func:`lnet.tracking.run.tracked_run`, ends it between chunks with
    :class:`lnet.tracking.stop.StopRequested`). No domain warnings: held-out laws and other lattices
    leave the domain on purpose (:func:`in_domain_fraction` measures it)."""
    stop.check(f"drawing the set {spec.label} {spec.key}")
    data = spec.draw()
    P = len(data["V"])
    starts = list(range(0, P, chunk))
    what = f"{spec.label}, {lattice_text(list(spec.lattice))}: {P} potentials"
    domain, ensemble.domain = ensemble.domain, None
    try:
        parts = []
        for i in progress(starts, what):
            stop.check(f"potentials {i}-{i + chunk - 1} of {what}")  # Ctrl-C / SIGTERM
            parts.append(ensemble.member_counts(data["V"][i : i + chunk], data["E"][i : i + chunk]))
    finally:
        ensemble.domain = domain
    return SetPrediction(spec, data, np.concatenate(parts, axis=1))


def calibrate_on(
    predictions: Sequence[SetPrediction],
    level: float = LEVEL,
    integer_below: float = 0.0,
    zero_cells: bool = False,
) -> tuple[Calibrated, dict[str, Any]]:
    """Split-conformal calibration on the calibration sets (module docstring), for an
    ensemble with the whole-states rule ``integer_below`` (:mod:`lnet.conformal`), with
    one quantile per (lattice, zero-site class) cell when ``zero_cells``.
    Returns the result and a JSON description: the pairs of each half, groups and
    selection."""
    N, mu, s, groups, select, sites, amplitude, zero = [], [], [], [], [], [], [], []
    for p in predictions:
        P, m = p.data["N"].shape
        dim = len(p.spec.lattice)
        labels = p.spec.component_labels(p.data["component"])
        sites.append(np.full(P * m, p.spec.sites))
        amplitude.append(np.repeat(potential_amplitude(p.data["V"], dim), m))
        zero.append(np.repeat(has_zero_site(p.data["V"], dim), m))
        N.append(p.data["N"].ravel())
        mu.append(p.mean.ravel())
        s.append(p.std.ravel())
        groups.append(np.repeat([f"{c}/{p.spec.key}" for c in labels], m))
        select.append(np.repeat(np.arange(P) % 2 == 0, m))
    result = calibrate(
        np.concatenate(N),
        np.concatenate(mu),
        np.concatenate(s),
        np.concatenate(groups),
        np.concatenate(select),
        level,
        sites=np.concatenate(sites),
        amplitude=np.concatenate(amplitude),
        integer_below=integer_below,
        zero_sites=np.concatenate(zero) if zero_cells else None,
    )
    description = {
        "split": (
            "in each calibration set, the even-indexed potentials (all their energies) "
            "select (kappa, gamma, delta); the odd-indexed ones give q, and those of each "
            "lattice alone that lattice's q"
            + (
                "; those of each lattice with a zero site (some V = 0), and those without, "
                "the q of that cell (a cell under "
                f"{min_scores(level)} pairs takes its lattice's q)"
                if zero_cells
                else ""
            )
        ),
        "zero_cells": zero_cells,
        "n_select": result.n_select,
        "n_quantile": result.calibration.n_cal,
        "selection": {
            "objective": "D = sum_g n_g (coverage_g - level)^2 / sum_g n_g over law x lattice "
            "groups; every candidate within G*level*(1-level)/n of the smallest D (sampling "
            "noise) ties, then the smallest mean share of the floor in sigma (the most "
            "weight on the members' spread), then the narrower mean of q*sigma/(mu+1)",
            "objective_value": result.choice.objective,
            "floor_share": result.choice.floor_share,
            "relative_width": result.choice.width,
            "group_coverage": {
                g: {"coverage": c, "pairs": k} for g, (c, k) in result.choice.group_coverage.items()
            },
        },
    }
    return result, description


def in_domain_fraction(domain: InputDomain | None, V: np.ndarray, W: np.ndarray) -> float | None:
    """The fraction of the potentials V ``(P, *lattice)`` (landscapes W) whose every
    statistic lies in the domain's accepted range; None without a domain."""
    if domain is None:
        return None
    return float(domain.inside(V, W).mean())


def measure(ensemble: EnsemblePredictor, prediction: SetPrediction) -> dict[str, Any]:
    """The metrics of one measurement set (module docstring), as plain floats."""
    if ensemble.calibration is None:
        raise ValueError("measure needs a calibrated ensemble")
    data = prediction.data
    dim = len(prediction.spec.lattice)
    amplitude = potential_amplitude(data["V"], dim)[:, None]
    zero = has_zero_site(data["V"], dim)[:, None]
    # the count and interval predict_counts(V, E, return_interval=True) returns
    answers = ensemble.point_and_interval(
        prediction.counts, prediction.spec.sites, amplitude, zero_sites=zero
    )
    return _metrics(prediction, *answers, ensemble.domain)


def measure_routed(routed: RoutedPredictor, prediction: SetPrediction) -> dict[str, Any]:
    """:func:`measure` of what a :class:`lnet.routing.RoutedPredictor` answers: each
    potential by the ensemble its route picks (``prediction`` holds the generalist's
    member counts), plus ``expert_share`` (the fraction of potentials an expert answered)
    and, when that is above 0, ``generalist``: the coverage, rel_err and mse of the
    generalist alone on the same pairs."""
    data = prediction.data
    dim = len(prediction.spec.lattice)
    amplitude = potential_amplitude(data["V"], dim)[:, None]
    zero = has_zero_site(data["V"], dim)[:, None]
    answers = [
        np.array(a)
        for a in routed.point_and_interval(
            prediction.counts, prediction.spec.sites, amplitude, zero_sites=zero
        )
    ]
    alone = _metrics(prediction, *answers, routed.domain)
    who = routed._route(np.asarray(data["V"]), np.asarray(data["W"]))
    if np.all(who == GENERALIST):  # nothing routed: the members' numbers are the model's
        return {**alone, "expert_share": 0.0}
    for k in np.unique(who[who != GENERALIST]):
        rows = np.flatnonzero(who == k)
        expert = routed.experts[k].model
        domain, expert.domain = expert.domain, None  # measured (in_domain), not warned
        try:
            counts = expert.member_counts(data["V"][rows], data["E"][rows])
        finally:
            expert.domain = domain
        part = expert.point_and_interval(
            counts, prediction.spec.sites, amplitude[rows], zero_sites=zero[rows]
        )
        for a, b in zip(answers, part, strict=True):
            a[rows] = b
    out = _metrics(prediction, *answers, routed.domain)
    out["expert_share"] = float(np.mean(who != GENERALIST))
    out["generalist"] = {k: alone[k] for k in ("coverage", "rel_err", "mse")}
    return out


def _metrics(
    prediction: SetPrediction,
    count: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    domain: InputDomain | None,
) -> dict[str, Any]:
    data = prediction.data
    N = np.asarray(data["N"], dtype=np.float64)
    covered = ((low <= N) & (N <= high)).astype(np.float64)
    metrics = generalization_metrics(count, N, prediction.spec.sites)
    rel = np.abs(count - N) / np.maximum(N, 1.0)
    out: dict[str, Any] = {
        "coverage": float(covered.mean()),
        "coverage_ci": list(bootstrap_interval(covered.mean(axis=1))),
        **{k: float(v) for k, v in metrics.items()},
        "mse_ci": list(bootstrap_interval(((count - N) ** 2).mean(axis=1))),
        "rel_err_ci": list(bootstrap_interval(rel.mean(axis=1))),
        "width": float((high - low).mean()),
        "rel_width": float(((high - low) / np.maximum(N, 1.0)).mean()),
        "in_domain": in_domain_fraction(domain, data["V"], data["W"]),
        "pairs": int(N.size),
        "dataset": data["spec"].name,
    }
    return out
