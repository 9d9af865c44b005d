"""Generalisation tests at the end of training: other lattice lengths, other potentials.

Two optional evaluations of a trained counting model, run by
:func:`lnet.training.evaluate_and_log` after the train/val/test metrics:

- ``eval_sizes=[n1, n2, ...]`` (:func:`evaluate_sizes`): a fresh test set at each
  lattice length n, drawn from the training law (same potential config and data seed)
  with ``eval_size_potentials`` potentials and ``eval_size_energies`` energies each,
  E uniform in [0, λ_⌈0.1 n⌉] (the energy mode ``spectrum_fraction``, fraction 0.1)
  and exact targets N_V(E) from :func:`lnet.physics.count_eigenvalues`. Logs
  ``size_<n>_test_{rel_err,mse_per_1000,mse,mae}``, ``generalization/sizes.json`` and
  the plots ``plots/rel_error_vs_n.png`` and ``plots/counting_curve_n<largest>.png``.
  A model fixed to one lattice length skips the other lengths ("not applicable" in
  the table, tag ``eval_sizes.not_applicable``).
- ``eval_families=[...]`` (:func:`evaluate_families`): a fresh test set per entry, a
  family name (default parameters) or a mapping ``{family: uniform, amplitude: 20,
  label: ...}``, at the training lattice, energies, test size and data seed. Logs
  ``family_<label>_test_{mse,mae,mape,rel_err}``, ``family_generalization.json`` (with a
  ``held_out`` flag) and ``plots/family_generalization.png``.

Bad entries raise :class:`lnet.errors.ConfigError` naming the key, e.g.
``eval_families[1].amplitude: must be > 0, got -3``; :func:`check_config` checks them
all before any set is built.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np

from lnet.config import to_plain
from lnet.data import CountingDataModule
from lnet.data.build import draw_split
from lnet.data.families import FAMILIES, PotentialLaw, make_law
from lnet.data.spec import make_spec
from lnet.errors import ConfigError
from lnet.models.metrics import generalization_metrics
from lnet.physics import count_eigenvalues, kth_eigenvalue, landscape_potential
from lnet.physics.validation import MIN_SITES
from lnet.predict import Predictor
from lnet.tasks import COUNTING
from lnet.tracking import plots as figures

log = logging.getLogger(__name__)

SIZE_FRACTION = 0.1  # eval_sizes energies: uniform in [0, λ_⌈SIZE_FRACTION · n⌉]
SIZE_METRICS = ("rel_err", "mse_per_1000", "mse", "mae")  # logged as size_<n>_test_<metric>
FAMILY_METRICS = ("mse", "mae", "mape", "rel_err")  # logged as family_<label>_test_<metric>
NOT_APPLICABLE = "not applicable"


# -- config ------------------------------------------------------------------------------
def _count(value: Any, key: str, lo: int) -> int:
    """An integer >= lo; floats with an integer value (``1e5`` from the command line) too."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ConfigError(key, f"must be an integer >= {lo}, got {value!r}")
    return int(value)


def check_sizes(value: Any, key: str = "eval_sizes") -> list[int]:
    """``eval_sizes`` as sorted distinct lattice lengths (each an integer >= 3)."""
    value = to_plain(value)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(
            key, f"must be a list of lattice lengths, e.g. [1000,10000], got {value!r}"
        )
    return sorted({_count(v, f"{key}[{i}]", MIN_SITES) for i, v in enumerate(value)})


@dataclass(frozen=True)
class FamilyEntry:
    """One validated ``eval_families`` entry."""

    label: str  # metric-name-safe
    law: PotentialLaw  # a single family, every parameter filled in
    key: str  # eval_families[i]

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


def family_entries(value: Any, key: str = "eval_families") -> list[FamilyEntry]:
    """Validate ``eval_families``: each entry a family name or a mapping
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
        law = make_law(cfg, key=k)  # unknown or bad parameters: eval_families[i].<param>
        name = sanitize_label(str(label)) if label is not None else default_label(law)
        if name in seen:
            raise ConfigError(
                k if label is None else f"{k}.label",
                f"label {name!r} is already used by {seen[name]}; give each entry its own label",
            )
        seen[name] = k
        out.append(FamilyEntry(name, law, k))
    return out


def check_config(cfg: Any, task: str) -> None:
    """Check ``eval_sizes``, ``eval_size_potentials``, ``eval_size_energies`` and
    ``eval_families`` (ConfigError naming the key) before any set is built."""
    sizes = check_sizes(cfg.get("eval_sizes"))
    families = family_entries(cfg.get("eval_families"))
    if sizes:
        _count(cfg.get("eval_size_potentials", 10), "eval_size_potentials", 1)
        _count(cfg.get("eval_size_energies", 100), "eval_size_energies", 1)
    for key, given in (("eval_sizes", sizes), ("eval_families", families)):
        if given and task != COUNTING:
            raise ConfigError(key, f"needs a counting model; this is a '{task}' model")


# -- lattice lengths ---------------------------------------------------------------------
def size_test_set(
    potential: Mapping[str, Any],
    n: int,
    potentials: int,
    energies: int,
    seed: int,
    fraction: float = SIZE_FRACTION,
) -> dict[str, Any]:
    """A test set of ``potentials`` potentials of ``n`` sites with ``energies`` energies each.

    The arrays are those of the test split of the counting dataset
    ``n, potential, energies={mode: spectrum_fraction, count: energies, fraction},
    sizes={train: 1, val: 1, test: potentials}, seed`` (``lnet.data.CountingDataModule``):
    the same potential streams, E = u · λ_⌈fraction·n⌉ with the same uniforms u, and exact
    counts N = count_eigenvalues(V, E). λ_top comes from :func:`lnet.physics.kth_eigenvalue`
    (one level, O(n) per count), as in the dataset builder, so that n = 1e5 takes about
    a second.

    Returns V, W ``(P, n)``, E, N ``(P, m)``, ``lambda_top`` ``(P,)`` and ``spec`` (the
    DatasetSpec whose test split this is).
    """
    spec = make_spec(
        COUNTING,
        n=n,
        potential=dict(potential),
        energies={"mode": "spectrum_fraction", "count": energies, "fraction": fraction},
        sizes={"train": 1, "val": 1, "test": potentials},
        seed=seed,
    )
    drawn = draw_split(spec, "test")
    V = drawn["V"]
    top = int(np.ceil(spec.energies["fraction"] * spec.n))  # as lnet.data.build
    lam = kth_eigenvalue(V, top)
    E = drawn["unit"] * lam[:, None]
    return {
        "V": V,
        "W": landscape_potential(V),
        "E": E,
        "N": count_eigenvalues(V, E),
        "lambda_top": lam,
        "spec": spec,
    }


def evaluate_sizes(
    cfg: Any, predictor: Predictor, dm: Any, label: str, plots: bool = True
) -> dict[str, float]:
    """Test metrics on a fresh test set at every lattice length in ``cfg.eval_sizes``.

    Sets: :func:`size_test_set` from the training data's potential config and data seed,
    ``eval_size_potentials`` potentials x ``eval_size_energies`` energies. Returns (and
    the caller logs) ``size_<n>_test_{rel_err,mse_per_1000,mse,mae}``; logs the table
    ``generalization/sizes.json`` (one row per n: every metric, build and predict
    seconds, or ``status: "not applicable"`` with a note for a length the model does
    not take), the tag ``eval_sizes.not_applicable`` and, with ``plots``,
    ``plots/rel_error_vs_n.png`` and ``plots/counting_curve_n<largest>.png`` (potential 0
    at the largest length the model takes).
    """
    sizes = check_sizes(cfg.get("eval_sizes"))
    P = _count(cfg.get("eval_size_potentials", 10), "eval_size_potentials", 1)
    m = _count(cfg.get("eval_size_energies", 100), "eval_size_energies", 1)
    if predictor.task != COUNTING:
        raise ConfigError(
            "eval_sizes", f"needs a counting model; this is a '{predictor.task}' model"
        )
    rows: dict[int, dict[str, Any]] = {}
    out: dict[str, float] = {}
    skipped: list[int] = []
    largest: tuple[int, dict[str, Any]] | None = None
    for n in sizes:
        if not predictor.accepts(n):
            note = f"the model takes n = {predictor.n} only"
            rows[n] = {"n": n, "status": NOT_APPLICABLE, "note": note}
            skipped.append(n)
            log.info("eval_sizes: n = %d skipped (%s)", n, note)
            continue
        t0 = time.perf_counter()
        test = size_test_set(dm.spec.potential, n, P, m, dm.spec.seed)
        t1 = time.perf_counter()
        pred = predictor.predict_counts(test["V"], test["E"])
        t2 = time.perf_counter()
        metrics = generalization_metrics(pred, test["N"], n)
        rows[n] = {
            "n": n,
            "status": "ok",
            **metrics,
            "build_seconds": t1 - t0,
            "predict_seconds": t2 - t1,
            "dataset": test["spec"].name,
        }
        out.update({f"size_{n}_test_{k}": metrics[k] for k in SIZE_METRICS})
        largest = (n, test)
    table = {
        "train_n": dm.spec.n,
        "potential": dm.spec.potential,
        "seed": dm.spec.seed,
        "potentials": P,
        "energies": {"mode": "spectrum_fraction", "count": m, "fraction": SIZE_FRACTION},
        "sizes": {str(n): row for n, row in rows.items()},
    }
    mlflow.log_dict(table, "generalization/sizes.json")
    if skipped:
        mlflow.set_tag("eval_sizes.not_applicable", ",".join(str(n) for n in skipped))
    if plots and largest is not None:
        done = {n: r for n, r in rows.items() if r["status"] == "ok"}
        fig = figures.rel_error_vs_size(done, label, dm.spec.n, tuple(skipped))
        mlflow.log_figure(fig, "plots/rel_error_vs_n.png")
        figures.plt.close(fig)
        n, test = largest
        V0 = test["V"][0]
        E = np.linspace(0.0, float(test["lambda_top"][0]), 300)
        fig = figures.counting_curve(
            E,
            count_eigenvalues(V0, E),
            predictor.predict_counts(V0, E),
            label,
            f"{label}: test potential 0 at n = {n} (trained at n = {dm.spec.n}), "
            f"E in [0, λ_{math.ceil(SIZE_FRACTION * n)}]",
            samples=(test["E"][0], test["N"][0]),
        )
        mlflow.log_figure(fig, f"plots/counting_curve_n{n}.png")
        figures.plt.close(fig)
    return out


# -- potential families --------------------------------------------------------------------
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


def evaluate_families(
    cfg: Any, predictor: Predictor, dm: Any, plots: bool = True
) -> dict[str, float]:
    """Test metrics on one fresh test set per ``cfg.eval_families`` entry.

    Each set has the training data's lattice, energies, test size and data seed and the
    entry's family and parameters (defaults for the rest); it is cached like any other
    dataset. Returns ``family_<label>_test_{mse,mae,mape,rel_err}``; logs the table
    ``family_generalization.json`` (per label: family, params, every metric,
    ``held_out`` 1.0/0.0 and ``held_out_reason``) and ``plots/family_generalization.png``.
    """
    entries = family_entries(cfg.get("eval_families"))
    if predictor.task != COUNTING:
        raise ConfigError(
            "eval_families", f"needs a counting model; this is a '{predictor.task}' model"
        )
    out: dict[str, float] = {}
    table: dict[str, dict[str, Any]] = {}
    for entry in entries:
        fdm = CountingDataModule(
            n=dm.spec.n,
            potential=entry.law.to_config(),
            energies=dm.spec.energies,
            sizes={"train": 1, "val": 1, "test": dm.spec.sizes["test"]},
            seed=dm.spec.seed,
            data_dir=dm.data_dir,
            show_progress=False,
        )
        test = fdm.load().arrays["test"]
        pred = predictor.predict_counts(test["V"], test["E"])
        metrics = generalization_metrics(pred, test["N"], dm.spec.n)
        reason = held_out_reason(entry.law, dm.spec.law)
        table[entry.label] = {
            "family": entry.family,
            "params": dict(entry.law.params),
            **metrics,
            "held_out": float(reason is not None),
            "held_out_reason": reason,
            "dataset": fdm.spec.name,
        }
        out.update({f"family_{entry.label}_test_{k}": metrics[k] for k in FAMILY_METRICS})
    mlflow.log_dict(table, "family_generalization.json")
    if plots:
        fig = figures.family_bars(table)
        mlflow.log_figure(fig, "plots/family_generalization.png")
        figures.plt.close(fig)
    return out
