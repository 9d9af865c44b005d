"""Generalisation tests and baselines at the end of training: other lattice lengths and
shapes, other potentials, the landscape laws on the same test set.

Optional evaluations of a trained counting model, run by
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

- ``eval_laws=[box, weyl_continuum, weyl_lattice]`` (:func:`evaluate_laws`): the
  landscape laws as baselines on the same test set, at the data's lattice dimension:
  the box law c1·N^W(c2·E) fitted on the training split exactly as ``model=box_counting``
  (``box_counting_2d`` in 2-D) fits it, and the two parameter-free Weyl laws of W.
  Logs ``test_rel_err`` (the model), ``law_<name>_test_{mse,mae,mape,rel_err}``,
  ``law_box_c1``, ``law_box_c2`` and the table ``eval/laws.json``.
- ``eval_shapes=[[L1, L2], ...]`` (:func:`evaluate_shapes`, 2-D data only): a fresh
  test set per lattice shape, as ``eval_sizes`` in 1-D (training law and data seed,
  ``eval_shape_potentials`` potentials × ``eval_shape_energies`` energies, E uniform in
  [0, λ_⌈0.1 L1 L2⌉], exact counts). Logs ``shape_<L1>x<L2>_test_{rel_err,
  mse_per_1000,mse,mae}`` (and ``shape_<L1>x<L2>_law_<name>_rel_err`` for the laws of
  ``eval_laws``), ``generalization/shapes.json``, ``plots/rel_error_vs_shape.png`` and
  ``plots/counting_curve_<L1>x<L2>.png`` (the largest shape).

``eval_sizes`` is for 1-D data and ``eval_shapes`` for 2-D data (``data.dim=2``).
Bad entries raise :class:`lnet.errors.ConfigError` naming the key, e.g.
``eval_families[1].amplitude: must be > 0, got -3``; :func:`check_config` checks them
all before any set is built.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
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
from lnet.models.metrics import bootstrap_interval, generalization_metrics
from lnet.models.protocol import LnetModel
from lnet.physics import box_count, count_eigenvalues, kth_eigenvalue, landscape_potential
from lnet.physics.validation import MIN_SIDE_2D, MIN_SITES
from lnet.predict import Predictor
from lnet.tasks import COUNTING
from lnet.tracking import plots as figures

log = logging.getLogger(__name__)

SIZE_FRACTION = 0.1  # eval_sizes energies: uniform in [0, λ_⌈SIZE_FRACTION · n⌉]
SIZE_METRICS = ("rel_err", "mse_per_1000", "mse", "mae")  # logged as size_<n>_test_<metric>
# logged as family_<label>_test_<metric>
FAMILY_METRICS = ("mse", "mae", "mape", "rel_err", "mse_ci_low", "mse_ci_high")
NOT_APPLICABLE = "not applicable"
LAW_NAMES = ("box", "weyl_continuum", "weyl_lattice")  # eval_laws entries
LAW_METRICS = ("mse", "mae", "mape", "rel_err")  # logged as law_<name>_test_<metric>
SHAPE_LAW_METRICS = ("rel_err",)  # logged as shape_<L1>x<L2>_law_<name>_<metric>
TEST_SET_MEMO = 4  # generated size/shape test sets kept in memory (scoring several models)
_test_sets: dict[str, dict[str, Any]] = {}


def _memo(spec: Any) -> dict[str, Any] | None:
    """A test set built earlier in this process for the same spec (its name is a hash
    of every field), as a fresh dict of the same arrays; None if not built yet."""
    hit = _test_sets.get(spec.name)
    return dict(hit) if hit is not None else None


def _remember(out: dict[str, Any]) -> dict[str, Any]:
    _test_sets[out["spec"].name] = out
    while len(_test_sets) > TEST_SET_MEMO:
        _test_sets.pop(next(iter(_test_sets)))
    return dict(out)


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


def check_shapes(value: Any, key: str = "eval_shapes") -> list[tuple[int, int]]:
    """``eval_shapes`` as distinct 2-D lattice shapes [L1, L2] (each side an integer >= 2),
    ordered by number of sites."""
    value = to_plain(value)
    if value is None:
        return []
    example = "e.g. [[64,64],[128,128]]"
    if not isinstance(value, list):
        raise ConfigError(
            key, f"must be a list of lattice shapes [L1, L2], {example}, got {value!r}"
        )
    shapes: set[tuple[int, int]] = set()
    for i, entry in enumerate(value):
        if not isinstance(entry, list) or len(entry) != 2:
            raise ConfigError(f"{key}[{i}]", f"must be a shape [L1, L2], {example}, got {entry!r}")
        shapes.add(
            (
                _count(entry[0], f"{key}[{i}][0]", MIN_SIDE_2D),
                _count(entry[1], f"{key}[{i}][1]", MIN_SIDE_2D),
            )
        )
    return sorted(shapes, key=lambda s: (s[0] * s[1], s))


def check_laws(value: Any, key: str = "eval_laws") -> list[str]:
    """``eval_laws`` as distinct names of :data:`LAW_NAMES`, in the given order."""
    value = to_plain(value)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list of law names from {list(LAW_NAMES)}, got {value!r}")
    out: list[str] = []
    for i, name in enumerate(value):
        if name not in LAW_NAMES:
            raise ConfigError(f"{key}[{i}]", f"unknown law {name!r}; allowed: {list(LAW_NAMES)}")
        if name not in out:
            out.append(name)
    return out


def data_dim(cfg: Any) -> int | None:
    """The lattice dimension of the run's data (``data.dim``, 1 when not set), or None
    for a value other than 1 or 2 (the data module reports a bad ``data.dim``)."""
    dim = (cfg.get("data") or {}).get("dim", 1)
    return dim if dim in (1, 2) and not isinstance(dim, bool) else None


def check_config(cfg: Any, task: str) -> None:
    """Check ``eval_sizes``, ``eval_size_potentials``, ``eval_size_energies``,
    ``eval_families``, ``eval_shapes``, ``eval_shape_potentials``,
    ``eval_shape_energies`` and ``eval_laws`` (ConfigError naming the key) before any set
    is built. ``eval_sizes`` needs 1-D data and ``eval_shapes`` 2-D data (``data.dim``)."""
    sizes = check_sizes(cfg.get("eval_sizes"))
    families = family_entries(cfg.get("eval_families"))
    shapes = check_shapes(cfg.get("eval_shapes"))
    laws = check_laws(cfg.get("eval_laws"))
    if sizes:
        _count(cfg.get("eval_size_potentials", 10), "eval_size_potentials", 1)
        _count(cfg.get("eval_size_energies", 100), "eval_size_energies", 1)
    if shapes:
        _count(cfg.get("eval_shape_potentials", 5), "eval_shape_potentials", 1)
        _count(cfg.get("eval_shape_energies", 20), "eval_shape_energies", 1)
    given_sets = {"eval_sizes": sizes, "eval_families": families, "eval_shapes": shapes}
    for key, given in {**given_sets, "eval_laws": laws}.items():
        if given and task != COUNTING:
            raise ConfigError(key, f"needs a counting model; this is a '{task}' model")
    dim = data_dim(cfg)
    if sizes and dim == 2:
        raise ConfigError(
            "eval_sizes",
            "are lengths of the 1-D chain but data.dim=2: use eval_shapes=[[L1,L2],...] "
            "for 2-D lattices, e.g. [[64,64],[128,128]]",
        )
    if shapes and dim == 1:
        raise ConfigError(
            "eval_shapes",
            "are 2-D lattice shapes but the data is 1-D: use them with 2-D data "
            "(data=counting_2d), or eval_sizes=[n1,n2,...] for 1-D lattice lengths",
        )


# -- lattice lengths ---------------------------------------------------------------------
def _spectrum_fraction_test_set(spec: Any) -> dict[str, Any]:
    """The test split of a ``spectrum_fraction`` counting spec (1-D or 2-D), with W,
    exact counts and λ_top, or the same set built earlier in this process."""
    if (hit := _memo(spec)) is not None:
        return hit
    drawn = draw_split(spec, "test")
    V, dim = drawn["V"], spec.dim
    top = int(np.ceil(spec.energies["fraction"] * spec.n))  # as lnet.data.build
    lam = kth_eigenvalue(V, top, dim=dim)
    E = drawn["unit"] * lam[:, None]
    return _remember(
        {
            "V": V,
            "W": landscape_potential(V, dim=dim),
            "E": E,
            "N": count_eigenvalues(V, E, dim=dim),
            "lambda_top": lam,
            "spec": spec,
        }
    )


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
    DatasetSpec whose test split this is). The last :data:`TEST_SET_MEMO` sets built in
    the process are kept, so scoring several models builds each set once; the arrays
    are shared, do not modify them.
    """
    spec = make_spec(
        COUNTING,
        n=n,
        potential=dict(potential),
        energies={"mode": "spectrum_fraction", "count": energies, "fraction": fraction},
        sizes={"train": 1, "val": 1, "test": potentials},
        seed=seed,
    )
    return _spectrum_fraction_test_set(spec)


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
            f"{label}: test potential 0 at n = {n} (trained at {trained_on(dm)}), "
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
    dataset. Returns ``family_<label>_test_{mse,mae,mape,rel_err,mse_ci_low,mse_ci_high}``
    (the interval: 95 % percentile bootstrap of the MSE over the set's test potentials);
    logs the table ``family_generalization.json`` (per label: family, params, every
    metric, ``mse_per_potential`` ``(P,)``, ``held_out`` 1.0/0.0 and ``held_out_reason``)
    and ``plots/family_generalization.png``.
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
            n=dm.spec.n if dm.spec.dim == 1 else None,
            dim=dm.spec.dim,
            shape=dm.spec.shape,
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
        sq = (np.asarray(pred, dtype=np.float64) - test["N"]) ** 2
        per_potential = sq.reshape(sq.shape[0], -1).mean(axis=1)
        metrics["mse_ci_low"], metrics["mse_ci_high"] = bootstrap_interval(per_potential)
        reason = held_out_reason(entry.law, dm.spec.law)
        table[entry.label] = {
            "family": entry.family,
            "params": dict(entry.law.params),
            **metrics,
            "mse_per_potential": per_potential.tolist(),
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


# -- the landscape laws as baselines -------------------------------------------------------
def make_law_model(name: str, dim: int) -> LnetModel:
    """The law behind an ``eval_laws`` name at lattice dimension ``dim``, unfitted.

    ``box``: :class:`lnet.models.BoxCountingLaw` (``BoxCountingLaw2D`` in 2-D), fitted as
    ``model=box_counting`` (``box_counting_2d``) fits it; ``weyl_continuum`` and
    ``weyl_lattice``: :class:`lnet.models.WeylLaw` (``WeylLaw2D``) of that kind, no
    parameters.
    """
    from lnet.models import BoxCountingLaw, BoxCountingLaw2D, WeylLaw, WeylLaw2D

    if name == "box":
        return BoxCountingLaw2D() if dim == 2 else BoxCountingLaw()
    kind = name.removeprefix("weyl_")
    return WeylLaw2D(kind=kind) if dim == 2 else WeylLaw(kind=kind)


def fit_laws(
    names: list[str], train: Mapping[str, np.ndarray], dim: int
) -> dict[str, tuple[LnetModel, dict[str, float]]]:
    """Each law of ``names`` fitted on the training arrays W, E, N (the whole split, as
    a run of that law would); returns name -> (law, fitted parameters)."""
    out: dict[str, tuple[LnetModel, dict[str, float]]] = {}
    for name in names:
        law = make_law_model(name, dim)
        params = law.fit(train["W"], train["E"], train["N"])
        out[name] = (law.eval(), {k: float(v) for k, v in params.items()})
    return out


def evaluate_laws(
    cfg: Any, predictor: Predictor, dm: Any, pred: np.ndarray
) -> tuple[dict[str, float], dict[str, LnetModel]]:
    """The model against the landscape laws of ``cfg.eval_laws`` on the same test set.

    ``pred``: the model's test predictions (:func:`lnet.training.evaluate`, the first
    ``len(pred)`` test potentials, which the laws get too). Each law is fitted on the
    training split (:func:`fit_laws`) and predicts through the same
    :class:`lnet.predict.Predictor` as the model. Returns the metrics ``test_rel_err``
    (the model), ``law_<name>_test_{mse,mae,mape,rel_err}`` and the box law's
    ``law_box_c1``, ``law_box_c2``, and the fitted laws by name (for the plots and
    :func:`evaluate_shapes`); logs ``eval/laws.json`` (per predictor every metric of
    :func:`lnet.models.metrics.generalization_metrics`; per law its ``fit`` output and
    fit seconds).
    """
    names = check_laws(cfg.get("eval_laws"))
    if predictor.task != COUNTING:
        raise ConfigError(
            "eval_laws", f"needs a counting model; this is a '{predictor.task}' model"
        )
    test = {k: v[: len(pred)] for k, v in dm.arrays["test"].items()}
    n = dm.spec.n
    model_metrics = generalization_metrics(pred, test["N"], n)
    out: dict[str, float] = {"test_rel_err": model_metrics["rel_err"]}
    table: dict[str, Any] = {
        "test_potentials": int(len(pred)),
        "lattice": list(dm.spec.lattice),
        "model": model_metrics,
    }
    laws: dict[str, LnetModel] = {}
    for name in names:
        t0 = time.perf_counter()
        law, params = fit_laws([name], dm.arrays["train"], dm.spec.dim)[name]
        t1 = time.perf_counter()
        law_pred = Predictor(law).predict_counts(test["V"], test["E"])
        metrics = generalization_metrics(law_pred, test["N"], n)
        table[name] = {"fit": params, **metrics, "fit_seconds": t1 - t0}
        out.update({f"law_{name}_test_{k}": metrics[k] for k in LAW_METRICS})
        if name == "box":
            out.update(law_box_c1=params["c1"], law_box_c2=params["c2"])
        laws[name] = law
    mlflow.log_dict(table, "eval/laws.json")
    return out, laws


def law_label(name: str, law: LnetModel) -> str:
    """A legend label: ``1.02 N^W(0.87 E)``, ``Weyl (continuum)``."""
    if name == "box":
        return f"{float(law.c1):.3g} $N^W$({float(law.c2):.3g} E)"
    return f"Weyl ({name.removeprefix('weyl_')})"


def default_reference_laws(dm: Any) -> dict[str, LnetModel]:
    """Reference curves for 2-D plots when ``eval_laws`` is not set: the box count with
    the least-squares c1 at c2 = 1 (as :func:`lnet.tracking.plots.box_scale` in 1-D) and
    the continuum Weyl law."""
    from lnet.models import BoxCountingLaw2D, WeylLaw2D

    train = dm.arrays["train"]
    B = box_count(train["W"], train["E"], dim=2).astype(np.float64)
    c1 = float(np.sum(train["N"] * B) / max(np.sum(B * B), 1e-300))
    return {"box": BoxCountingLaw2D(c1=c1, fit=False), "weyl_continuum": WeylLaw2D()}


def plot_laws(
    ax: Any, laws: Mapping[str, LnetModel], V: np.ndarray, E: np.ndarray, alpha: float = 1.0
) -> None:
    """Each law's N(E) for one 2-D potential V ``(L1, L2)`` on the energies E ``(m,)``
    (Weyl laws dashed), in the colours the 2-D figures share."""
    for i, (name, law) in enumerate(laws.items()):
        ax.plot(
            E,
            Predictor(law).predict_counts(V, E),
            color=f"C{i % 3}",
            lw=0.9,
            ls="--" if name.startswith("weyl") else "-",
            alpha=alpha,
            label=law_label(name, law),
        )


def counting_curves_2d(
    predictor: Predictor,
    test: Mapping[str, np.ndarray],
    label: str,
    laws: Mapping[str, LnetModel],
    potentials: int = 4,
    points: int = 300,
) -> Any:
    """2-D analogue of :func:`lnet.tracking.plots.counting_curves`: the exact staircase
    N_V(E) (``count_eigenvalues(..., dim=2)`` on ``points`` energies) against the model and
    the given laws, for several test potentials ``(L1, L2)``, one panel each."""
    plt = figures.plt
    P = test["V"].shape[0]
    chosen = np.linspace(0, P - 1, min(potentials, P)).round().astype(int)
    rows = int(np.ceil(len(chosen) / 2))
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3.6 * rows), squeeze=False)
    for ax, p in zip(axes.ravel(), chosen, strict=False):
        V = test["V"][p]
        E = np.linspace(0.0, float(test["E"][p].max()) * 1.05, points)
        ax.step(
            E,
            count_eigenvalues(V, E, dim=2),
            where="post",
            color="k",
            lw=1.6,
            label="exact $N_V(E)$",
        )
        ax.plot(E, predictor.predict_counts(V, E), color="C3", lw=1.4, label=label)
        plot_laws(ax, laws, V, E, alpha=0.85)
        ax.plot(test["E"][p], test["N"][p], ".", color="0.5", ms=3, label="test samples")
        ax.set_title(f"test potential {p} ({V.shape[0]}×{V.shape[1]})")
        ax.set_xlabel("E")
        ax.set_ylabel("N(E)")
    for ax in axes.ravel()[len(chosen) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def landscape_figure_2d(
    predictor: Predictor,
    V: np.ndarray,
    label: str,
    laws: Mapping[str, LnetModel],
    e_max: float,
    points: int = 300,
) -> Any:
    """One 2-D potential ``(L1, L2)``: its landscape potential W = 1/u as a map (left,
    log colour scale; the low valleys of W are where low-energy states live), and the
    exact staircase N_V(E) on ``points`` energies in [0, e_max] against the model's
    N̂(E) and the laws (right)."""
    plt = figures.plt
    from matplotlib.colors import LogNorm

    W = landscape_potential(V, dim=2)
    E = np.linspace(0.0, e_max, points)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    im = left.imshow(W, norm=LogNorm(vmin=W.min(), vmax=W.max()), cmap="viridis")
    fig.colorbar(im, ax=left, label="W = 1/u")
    left.set_title(f"landscape potential W on the {V.shape[0]}×{V.shape[1]} torus")
    left.set_xlabel("y")
    left.set_ylabel("x")
    right.step(
        E, count_eigenvalues(V, E, dim=2), where="post", color="k", lw=1.6, label="exact $N_V(E)$"
    )
    right.plot(E, predictor.predict_counts(V, E), color="C3", lw=1.4, label=label)
    plot_laws(right, laws, V, E)
    right.set_xlabel("E")
    right.set_ylabel("N(E)")
    right.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# -- 2-D lattice shapes --------------------------------------------------------------------
def training_lattices(dm: Any) -> list[tuple[int, ...]]:
    """The lattices a model was trained on: the data's, then each ``data.extra_train``
    item's (``(n,)`` in 1-D, ``(L1, L2)`` in 2-D)."""
    return [tuple(d.spec.lattice) for d in (dm, *getattr(dm, "extra", []))]


def trained_on(dm: Any) -> str:
    """``32×32 + 64×64`` or ``n = 1000 + 4000``: the training lattices, for figure titles."""
    lattices = training_lattices(dm)
    if len(lattices[0]) == 1:
        return "n = " + " + ".join(str(t[0]) for t in lattices)
    return " + ".join(shape_label(t).replace("x", "×") for t in lattices)


def shape_label(shape: tuple[int, int]) -> str:
    """``64x64``: the shape as it appears in metric names."""
    return f"{shape[0]}x{shape[1]}"


def shape_test_set(
    potential: Mapping[str, Any],
    shape: tuple[int, int],
    potentials: int,
    energies: int,
    seed: int,
    fraction: float = SIZE_FRACTION,
) -> dict[str, Any]:
    """:func:`size_test_set` on the periodic L1×L2 lattice.

    The arrays are those of the test split of the 2-D counting dataset ``dim=2,
    shape=[L1, L2], potential, energies={mode: spectrum_fraction, count: energies,
    fraction}, sizes={train: 1, val: 1, test: potentials}, seed``: the same potential
    streams, E = u · λ_⌈fraction·L1·L2⌉ (:func:`lnet.physics.kth_eigenvalue` with
    ``dim=2``) and exact N = ``count_eigenvalues(V, E, dim=2)``. Cost: about 45 exact
    counts per potential for λ_top plus one per energy (~0.5 s each at 256×256 on 2 cores).

    Returns V, W ``(P, L1, L2)``, E, N ``(P, m)``, ``lambda_top`` ``(P,)`` and ``spec``.
    """
    spec = make_spec(
        COUNTING,
        n=None,
        dim=2,
        shape=list(shape),
        potential=dict(potential),
        energies={"mode": "spectrum_fraction", "count": energies, "fraction": fraction},
        sizes={"train": 1, "val": 1, "test": potentials},
        seed=seed,
    )
    return _spectrum_fraction_test_set(spec)


def evaluate_shapes(
    cfg: Any,
    predictor: Predictor,
    dm: Any,
    label: str,
    plots: bool = True,
    laws: Mapping[str, LnetModel] | None = None,
) -> dict[str, float]:
    """Test metrics on a fresh test set at every 2-D lattice shape in ``cfg.eval_shapes``.

    Sets: :func:`shape_test_set` from the training data's potential config and data
    seed, ``eval_shape_potentials`` × ``eval_shape_energies``. The fitted ``laws`` (from
    :func:`evaluate_laws`) are evaluated on the same sets. Returns (and the caller logs)
    ``shape_<L1>x<L2>_test_{rel_err,mse_per_1000,mse,mae}`` and
    ``shape_<L1>x<L2>_law_<name>_rel_err``; logs ``generalization/shapes.json`` (one row
    per shape: sites, every metric, the laws' metrics, build and predict seconds) and,
    with ``plots``, ``plots/rel_error_vs_shape.png`` and
    ``plots/counting_curve_<L1>x<L2>.png`` for the largest shape.
    """
    shapes = check_shapes(cfg.get("eval_shapes"))
    P = _count(cfg.get("eval_shape_potentials", 5), "eval_shape_potentials", 1)
    m = _count(cfg.get("eval_shape_energies", 20), "eval_shape_energies", 1)
    if predictor.task != COUNTING:
        raise ConfigError(
            "eval_shapes", f"needs a counting model; this is a '{predictor.task}' model"
        )
    if dm.spec.dim != 2 or predictor.dim != 2:
        raise ConfigError(
            "eval_shapes", "needs 2-D data and a 2-D model (data=counting_2d, a *_2d model)"
        )
    laws = dict(laws or {})
    rows: dict[str, dict[str, Any]] = {}
    out: dict[str, float] = {}
    largest: tuple[tuple[int, int], dict[str, Any]] | None = None
    for shape in shapes:
        key = shape_label(shape)
        sites = shape[0] * shape[1]
        t0 = time.perf_counter()
        test = shape_test_set(dm.spec.potential, shape, P, m, dm.spec.seed)
        t1 = time.perf_counter()
        pred = predictor.predict_counts(test["V"], test["E"])
        t2 = time.perf_counter()
        metrics = generalization_metrics(pred, test["N"], sites)
        law_rows = {}
        for name, law in laws.items():
            law_metrics = generalization_metrics(
                Predictor(law).predict_counts(test["V"], test["E"]), test["N"], sites
            )
            law_rows[name] = law_metrics
            out.update({f"shape_{key}_law_{name}_{k}": law_metrics[k] for k in SHAPE_LAW_METRICS})
        rows[key] = {
            "shape": list(shape),
            "n": sites,
            "status": "ok",
            **metrics,
            "laws": law_rows,
            "build_seconds": t1 - t0,
            "predict_seconds": t2 - t1,
            "dataset": test["spec"].name,
        }
        out.update({f"shape_{key}_test_{k}": metrics[k] for k in SIZE_METRICS})
        largest = (shape, test)
    table = {
        "train_shape": list(dm.spec.lattice),
        "extra_train_shapes": [list(t) for t in training_lattices(dm)[1:]],
        "potential": dm.spec.potential,
        "seed": dm.spec.seed,
        "potentials": P,
        "energies": {"mode": "spectrum_fraction", "count": m, "fraction": SIZE_FRACTION},
        "shapes": rows,
    }
    mlflow.log_dict(table, "generalization/shapes.json")
    if plots and largest is not None:
        fig = rel_error_vs_shape(rows, label, training_lattices(dm))
        mlflow.log_figure(fig, "plots/rel_error_vs_shape.png")
        figures.plt.close(fig)
        shape, test = largest
        fig = shape_curve(predictor, test, label, laws, trained_on(dm))
        mlflow.log_figure(fig, f"plots/counting_curve_{shape_label(shape)}.png")
        figures.plt.close(fig)
    return out


def rel_error_vs_shape(
    rows: Mapping[str, Mapping[str, Any]], label: str, train_shapes: Sequence[tuple[int, ...]]
) -> Any:
    """Relative count error against the number of sites L1·L2 (log-x, ticks named by
    shape), for the model and every law in the rows; the training shapes are marked."""
    plt = figures.plt
    keys = sorted(rows, key=lambda k: rows[k]["n"])
    ns = [rows[k]["n"] for k in keys]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [rows[k]["rel_err"] for k in keys], "o-", color="C3", label=label)
    names = sorted({name for k in keys for name in rows[k].get("laws", {})})
    for i, name in enumerate(names):
        ax.plot(
            ns,
            [rows[k]["laws"][name]["rel_err"] for k in keys],
            "s--",
            color=f"C{i % 3}",
            ms=4,
            lw=0.9,
            label=name,
        )
    for i, shape in enumerate(train_shapes):
        trained = shape_label(shape).replace("x", "×")
        ax.axvline(
            math.prod(shape),
            color="0.5",
            ls="--" if i == 0 else ":",
            lw=0.9,
            label=f"training {trained}",
        )
    ax.set_xscale("log")
    ax.set_xticks(ns, [k.replace("x", "×") for k in keys])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("lattice L1 × L2")
    ax.set_ylabel("mean |N̂ − N| / max(N, 1)")
    ax.set_title("relative count error against lattice size (2-D)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def shape_curve(
    predictor: Predictor,
    test: Mapping[str, Any],
    label: str,
    laws: Mapping[str, LnetModel],
    trained: str,
    points: int = 200,
) -> Any:
    """Test potential 0 of a shape set: its exact counts at the set's energies (dots;
    an exact staircase on a fine grid would cost one O(n^{3/2}) count per point), the
    model's N̂(E) and the laws on a fine grid (left), and N̂ against N (right).
    ``trained``: the training lattices for the title (:func:`trained_on`)."""
    plt = figures.plt
    V0 = test["V"][0]
    L1, L2 = V0.shape
    E = np.linspace(0.0, float(test["lambda_top"][0]), points)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(E, predictor.predict_counts(V0, E), color="C3", lw=1.2, label=label)
    plot_laws(left, laws, V0, E)
    left.plot(test["E"][0], test["N"][0], "o", color="k", ms=3.5, label="exact $N_V(E)$")
    left.set_xlabel("E")
    left.set_ylabel("N(E)")
    left.legend(fontsize=8, loc="upper left")
    pred = predictor.predict_counts(test["V"], test["E"])
    right.plot(test["N"].ravel(), pred.ravel(), ".", ms=3, color="C3")
    hi = float(max(np.max(test["N"]), np.max(pred), 1.0))
    right.plot([0, hi], [0, hi], "k-", lw=0.8)
    right.set_xlabel("exact N(E)")
    right.set_ylabel("predicted N̂(E)")
    fig.suptitle(
        f"{label}: {L1}×{L2} (trained at {trained}), "
        f"E in [0, λ_{math.ceil(SIZE_FRACTION * L1 * L2)}]",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
