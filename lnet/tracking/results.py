"""The one place where an evaluation result (:mod:`lnet.evaluation`) meets MLflow.

:func:`log_result` logs a :class:`~lnet.evaluation.laws.LawsResult`,
:class:`~lnet.evaluation.families.FamilyResult` or
:class:`~lnet.evaluation.lattices.LatticeResult` into the active run: its metrics, its
table, its tags and its figures (:mod:`lnet.tracking.plots`).

| result | table | figures | tag |
|---|---|---|---|
| LawsResult | ``eval/laws.json`` | | |
| FamilyResult | ``family_generalization.json`` | ``plots/family_generalization.png`` | |
| LatticeResult, 1-D | ``generalization/sizes.json`` | ``plots/rel_error_vs_n.png``, ``plots/counting_curve_n<n>.png`` | ``eval.sizes.not_applicable`` |
| LatticeResult, 2-D | ``generalization/shapes.json`` | ``plots/rel_error_vs_shape.png``, ``plots/counting_curve_<L1>x<L2>.png`` | ``eval.shapes.not_applicable`` |

The counting curve is that of the largest lattice the model takes; a tag lists the
lattices it cannot take. :func:`log_test_figures` logs the figures of a training run's
own test split; :func:`log_dataset` and :func:`log_domain` log what it was trained on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import mlflow

from lnet.domain import InputDomain
from lnet.evaluation.families import FamilyResult
from lnet.evaluation.lattices import LatticeResult, lattice_key
from lnet.evaluation.laws import LawsResult
from lnet.tracking import plots
from lnet.tracking.run import log_input

Result = LawsResult | FamilyResult | LatticeResult


def _lattice_parts(result: LatticeResult) -> tuple[dict, dict[str, Callable[[], Any]], dict]:
    one_d = result.dim == 1
    table = {f"generalization/{result.kind}s.json": result.table()}
    figures: dict[str, Callable[[], Any]] = {}
    if result.curve is not None:
        lattice = result.curve.lattice
        name = f"n{lattice[0]}" if one_d else lattice_key(lattice)
        figures = {
            f"plots/rel_error_vs_{'n' if one_d else 'shape'}.png": lambda: (
                plots.rel_error_vs_lattice(result)
            ),
            f"plots/counting_curve_{name}.png": lambda: plots.lattice_curve(result),
        }
    skipped = ",".join(lattice_key(t) for t in result.skipped)
    tags = {f"eval.{result.kind}s.not_applicable": skipped} if skipped else {}
    return table, figures, tags


def _parts(result: Result) -> tuple[dict, dict[str, Callable[[], Any]], dict]:
    """(tables by artifact path, figure makers by artifact path, tags) of a result."""
    if isinstance(result, LawsResult):
        return {"eval/laws.json": result.table}, {}, {}
    if isinstance(result, FamilyResult):
        figures = {"plots/family_generalization.png": lambda: plots.family_bars(result.rows)}
        return {"family_generalization.json": result.rows}, figures if result.rows else {}, {}
    if isinstance(result, LatticeResult):
        return _lattice_parts(result)
    raise TypeError(f"not an evaluation result: {type(result).__name__}")


def log_result(result: Result, *, figures: bool = True, metrics: bool = True) -> None:
    """Log an evaluation result into the active MLflow run: its table(s), tags and (with
    ``figures``) figures, and (with ``metrics``) its metrics. A training run passes
    ``metrics=False``: it logs every final metric in one batch at its end."""
    tables, makers, tags = _parts(result)
    for path, table in tables.items():
        mlflow.log_dict(table, path)
    if tags:
        mlflow.set_tags(tags)
    if figures:
        for path, make in makers.items():
            fig = make()
            mlflow.log_figure(fig, path)
            plots.plt.close(fig)
    if metrics and result.metrics:
        mlflow.log_metrics(result.metrics)


def log_test_figures(
    predictor: Any,
    dm: Any,
    metrics: dict,
    pred: Any,
    label: str,
    laws: dict[str, Any] | None = None,
) -> None:
    """Figures of a training run's test split (``plots/counting_curves.png``,
    ``plots/scatter_test.png``; ``plots/landscape_2d.png`` in 2-D and 3-D (a slice);
    ``plots/mape_per_index.png`` for eigenvalue models); ``pred`` are the test
    predictions of :func:`lnet.training.evaluate`, ``metrics`` its metrics by split.

    2-D and 3-D data: the counting curves (:func:`lnet.tracking.plots.counting_curves_2d`) show
    the fitted ``laws`` of ``eval.laws`` (else a box count and the Weyl law,
    :func:`lnet.evaluation.laws.default_reference_laws`) for reference.
    """
    from lnet.evaluation.laws import default_reference_laws
    from lnet.tasks import COUNTING

    test = {k: v[: len(pred)] for k, v in dm.arrays["test"].items()}
    if predictor.task == COUNTING and dm.spec.dim >= 2:
        refs = laws or default_reference_laws(dm)
        fig = plots.counting_curves_2d(predictor, test, label, refs)
        mlflow.log_figure(fig, "plots/counting_curves.png")
        e_max = 1.05 * float(test["E"][0].max())
        fig = plots.landscape_figure_2d(predictor, test["V"][0], label, refs, e_max)
        mlflow.log_figure(fig, "plots/landscape_2d.png")
        mlflow.log_figure(plots.scatter(pred, test["N"], label, "N(E)"), "plots/scatter_test.png")
    elif predictor.task == COUNTING:
        c1 = plots.box_scale(dm.arrays["train"])
        fig = plots.counting_curves(predictor, test, label, box_c1=c1)
        mlflow.log_figure(fig, "plots/counting_curves.png")
        mlflow.log_figure(plots.scatter(pred, test["N"], label, "N(E)"), "plots/scatter_test.png")
    else:
        mlflow.log_figure(plots.per_index_mape(metrics, label), "plots/mape_per_index.png")
        mlflow.log_figure(
            plots.scatter(pred, test["eigenvalues"], label, "eigenvalue"), "plots/scatter_test.png"
        )
    plots.plt.close("all")


def log_domain(domain: InputDomain, params: bool) -> None:
    """The input domain as ``input_domain.json`` (:meth:`InputDomain.to_dict`: ranges,
    tolerance, definitions) and, with ``params``, as params ``input_domain.<statistic>.min``
    and ``.max`` (e.g. ``input_domain.amplitude.min``) for the runs table."""
    data = domain.to_dict()
    mlflow.log_dict(data, "input_domain.json")
    if params:
        mlflow.log_params(
            {
                f"input_domain.{name}.{end}": f"{r[end]:.6g}"
                for name, r in data["ranges"].items()
                for end in ("min", "max")
            }
        )


def log_dataset(dm: Any) -> None:
    """The training dataset of a :class:`lnet.data.CachedDataModule` as the run's MLflow
    input (name, digest, source, tags), its ``data.*`` tags, its manifest and
    normalisation, and those of each ``data.extra_train`` set."""
    train = dm.arrays["train"]
    targets = train["N"] if "N" in train else train["eigenvalues"]
    info = dm.describe()
    with warnings.catch_warnings():  # a local folder is a valid source under two names
        warnings.simplefilter("ignore", UserWarning)
        ds = mlflow.data.from_numpy(
            features=train["V"],
            targets=targets,
            source=str(dm.entry.path),
            name=dm.spec.name,
            digest=dm.spec.key[:16],
        )
        sizes = ",".join(f"{k}={v}" for k, v in info["sizes"].items())
        log_input(
            ds, context="train", tags={"family": info["family"], "sizes": sizes, "key": info["key"]}
        )
    mlflow.set_tags(
        {
            "data.key": info["key"],
            "data.name": info["name"],
            "data.family": info["family"],
            "data.cache_hit": str(info.get("cache_hit")),
        }
    )
    mlflow.log_dict(dm.entry.manifest, "data/manifest.json")
    mlflow.log_dict(dm.stats, "data/normalization.json")
    for i, extra in enumerate(getattr(dm, "extra", [])):  # data.extra_train: more training sets
        mlflow.set_tags(
            {
                f"data.extra_train.{i}.key": extra.spec.key,
                f"data.extra_train.{i}.name": extra.spec.name,
            }
        )
        mlflow.log_dict(extra.entry.manifest, f"data/extra_train_{i}_manifest.json")
