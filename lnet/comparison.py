"""Compare finished runs side by side, as Markdown, CSV and a plot.

Each metric is the mean ± sample std over the runs of a model (training seeds). The
test MSE and MAPE also get a 95 % bootstrap interval over test potentials: from the
per-potential errors and weights every run logs (``eval/test_per_potential.json``),
each resample of the potentials (the same for every seed) gives the seed-mean of the
pooled metric Σ w·v / Σ w, the estimator of each run's ``test_mse`` and ``test_mape``.
Choose between designs on the val columns; the test columns are reported once.

    python pipelines/compare.py                         # every finished run in experiment 'lnet'
    python pipelines/compare.py paper_landscape_net     # runs tagged experiment=<name> or sweep_id=<name>
    python pipelines/compare.py <parent run id>         # the child runs of a sweep's parent run
    python pipelines/compare.py SWEEP_A SWEEP_B         # the union of several selectors, one table
    python pipelines/compare.py --out reports/ --tracking-uri sqlite:///mlflow.db
    python pipelines/compare.py SWEEP --by data.sizes.train --metrics test_mse,val_mse
                                                        # a scaling curve: metrics against a swept key
    python pipelines/compare.py TAG --filter "params.`trainer.max_epochs` = '64'"
                                                        # only the selected runs that match the filter
    python pipelines/compare.py SWEEP --page docs/results/generated/NAME.md --title "..."
                                                        # a docs results page (lnet.results_page)

Writes <out>/<selector>/comparison.{md,csv,png} (and scaling.{md,csv,png} with --by),
prints the table, and logs the files as artifacts of a report run (tag lnet.report=true)
in the same experiment.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markdown import Markdown  # noqa: E402

from lnet.config import project_root  # noqa: E402
from lnet.models.metrics import bootstrap_interval  # noqa: E402
from lnet.tracking.run import default_tracking_uri  # noqa: E402

COLUMNS = [
    ("trainable_params", "params", "{:,.0f}"),
    ("fit_seconds", "fit time [s]", "{:.1f}"),
    ("train_mse", "train MSE", "{:.3g}"),
    ("val_mse", "val MSE", "{:.3g}"),
    ("test_mse", "test MSE", "{:.3g}"),
    ("test_mae", "test MAE", "{:.3g}"),
    ("train_mape", "train MAPE %", "{:.3g}"),
    ("test_mape", "test MAPE %", "{:.3g}"),
]


def load_runs(
    tracking_uri: str, experiment: str, selectors: list[str] | None, where: str | None = None
) -> pd.DataFrame:
    """The FINISHED runs of ``experiment`` that the selectors pick, and of those only the
    ones that also match ``where`` (an MLflow search filter, e.g.
    ``params.`trainer.max_epochs` = '64'``). Opening the store marks KILLED the runs a
    dead process of this host left RUNNING, as every lnet command does."""
    from mlflow.exceptions import MlflowException

    from lnet.tracking.run import mark_dead_runs_killed

    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        raise SystemExit(f"no MLflow experiment {experiment!r} at {tracking_uri}")
    mark_dead_runs_killed(tracking_uri)
    base = "attributes.status = 'FINISHED'" + (f" and {where}" if where else "")
    frames = []
    filters = (
        [base]
        if not selectors
        else [
            f"{base} and tags.{tag} = '{selector}'"
            for selector in selectors
            for tag in ("experiment", "sweep_id", "`mlflow.parentRunId`")
        ]
    )
    try:
        for f in filters:
            frames.append(mlflow.search_runs(experiment_names=[experiment], filter_string=f))
    except MlflowException as exc:  # a malformed --filter (the rest is ours)
        raise SystemExit(f"--filter {where!r}: {exc.message.splitlines()[0]}") from None
    runs = (
        pd.concat(frames, ignore_index=True).drop_duplicates("run_id") if frames else pd.DataFrame()
    )
    for marker in ("tags.lnet.report", "tags.lnet.sweep"):  # report and sweep-parent runs
        if marker in runs:
            runs = runs[runs[marker].isna()]
    return runs


def label_of(row: pd.Series) -> str:
    label = str(row.get("tags.model") or "?")
    extra = row.get("params.model.net.input")
    if isinstance(extra, str) and extra:
        label += f" (input={extra})"
    kind = row.get("params.model.net.kind")
    if isinstance(kind, str) and kind != "continuum":
        label += f" ({kind})"
    return label


CI_METRICS = ("mse", "mape")


def run_artifact_dict(run_id: str, path: str) -> dict | None:
    """The run's JSON artifact at ``path``, or None when the run has no such file (runs
    from before it was logged); other failures (authentication, network) raise."""
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except FileNotFoundError:
        return None
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        return None


def per_potential_errors(
    run_ids: list[str],
) -> dict[str, tuple[np.ndarray, np.ndarray | None]] | None:
    """Test errors per potential and their weights, each ``(P, runs)``, per metric.

    ``eval/test_per_potential.json`` holds, per metric, the per-potential value v_p and
    its weight w_p (``<metric>_weight``: the entries behind v_p, e.g. the energies with
    N > 0 for the counting MAPE), so that Σ w·v / Σ w is the run's pooled test metric.
    Files from before the weights were logged have values only: their weights are None
    (the plain mean over potentials), unless another run on the same potentials logged
    them. Returns None if a run lacks the file (runs from before it was logged) or the
    runs were tested on different sets; other failures (authentication, network) raise.
    """
    tables = [run_artifact_dict(run_id, "eval/test_per_potential.json") for run_id in run_ids]
    if any(t is None for t in tables):
        return None
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for name in CI_METRICS:
        columns = [t.get(name) for t in tables]
        if any(c is None for c in columns) or len({len(c) for c in columns}) != 1:
            return None
        values = np.array(columns, dtype=np.float64).T
        weights = [t.get(f"{name}_weight") for t in tables]
        logged = [np.asarray(w, dtype=np.float64) for w in weights if w is not None]
        if not logged:
            out[name] = (values, None)
        elif len(logged) == len(weights):
            out[name] = (values, np.stack(logged, axis=1))
        elif all(np.array_equal(w, logged[0]) for w in logged):
            # weights depend on the test set only (N > 0), not on the model
            out[name] = (values, np.repeat(logged[0][:, None], len(weights), axis=1))
        else:
            return None
    return out


FAMILY_FILE = "family_generalization.json"


def family_intervals(runs: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """95 % bootstrap interval of the test MSE of each (model, family) over the family's
    test potentials, from the runs' ``family_generalization.json`` (per family, the
    per-potential MSE ``mse_per_potential``).

    Over several runs of a model the statistic is the seed-mean, resampling the same
    potentials for every seed (as the report's own interval): a family's sets share the
    data seed, so every training seed was tested on the same potentials. A family that
    some run lacks, or whose runs saw different numbers of potentials, gets no interval;
    a run without the file (runs from before it was logged) none at all. Other failures
    (authentication, network) raise.
    """
    out: dict[tuple[str, str], tuple[float, float]] = {}
    models = runs.get("tags.model", pd.Series(index=runs.index, dtype=object)).fillna("?")
    for model, group in runs.groupby(models, sort=True):  # the models as family_table names them
        tables = [run_artifact_dict(run_id, FAMILY_FILE) for run_id in group["run_id"]]
        if any(t is None for t in tables):
            continue
        for label in sorted(set.intersection(*(set(t) for t in tables))):
            columns = [t[label].get("mse_per_potential") for t in tables]
            if any(c is None for c in columns) or len({len(c) for c in columns}) != 1:
                continue
            out[(str(model), label)] = bootstrap_interval(np.array(columns, dtype=np.float64).T)
    return out


def mean_std(group: pd.DataFrame, metric: str) -> dict[str, float]:
    """``<metric>_mean`` and ``<metric>_std`` (sample std; 0 for one run) over the runs
    of ``group`` that logged it; NaN when none did."""
    col = f"metrics.{metric}"
    v = group[col].dropna().to_numpy(dtype=float) if col in group else np.array([])
    std = v.std(ddof=1) if v.size > 1 else 0.0 if v.size else np.nan
    return {f"{metric}_mean": v.mean() if v.size else np.nan, f"{metric}_std": std}


def summarise(runs: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """One row per model (and input); prefixed by the experiment tag when runs span several,
    and suffixed by ``<by>=<value>`` when a key ``by`` is given (one row per value)."""
    labels = runs.apply(label_of, axis=1)
    experiments = runs.get("tags.experiment", pd.Series(index=runs.index, dtype=object))
    if experiments.nunique(dropna=False) > 1:
        labels = experiments.fillna("-").astype(str) + ": " + labels
    if by is not None and f"params.{by}" in runs:
        labels = labels + runs[f"params.{by}"].map(
            lambda v: f" ({by}={v})" if isinstance(v, str) else ""
        )
    runs = runs.assign(label=labels)
    rows = []
    for label, group in runs.groupby("label", sort=True):
        row: dict[str, object] = {"model": label, "runs": len(group)}
        for key, _, _ in COLUMNS:
            row.update(mean_std(group, key))
        errors = per_potential_errors(list(group["run_id"]))
        for name in CI_METRICS:
            lo, hi = np.nan, np.nan
            if errors is not None:
                values, weights = errors[name]
                if weights is None or np.all(weights.sum(axis=0) > 0):
                    lo, hi = bootstrap_interval(values, weights=weights)
            row[f"test_{name}_ci_low"], row[f"test_{name}_ci_high"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


CI_AFTER = {"test_mse": "mse", "test_mape": "mape"}


def markdown(summary: pd.DataFrame) -> str:
    head = ["model", "runs"]
    for key, title, _ in COLUMNS:
        head.append(title)
        if key in CI_AFTER:
            head.append(f"{title} 95 % CI")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in summary.iterrows():
        cells = [str(r["model"]), str(r["runs"])]
        for key, _, fmt in COLUMNS:
            mean, std = r[f"{key}_mean"], r[f"{key}_std"]
            if np.isnan(mean):
                cells.append("–")
            elif r["runs"] > 1 and key not in ("trainable_params",):
                cells.append(f"{fmt.format(mean)} ± {fmt.format(std)}")
            else:
                cells.append(fmt.format(mean))
            if key in CI_AFTER:
                lo, hi = r[f"test_{CI_AFTER[key]}_ci_low"], r[f"test_{CI_AFTER[key]}_ci_high"]
                cells.append("–" if np.isnan(lo) else f"[{fmt.format(lo)}, {fmt.format(hi)}]")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


FOOTNOTE = (
    "mean ± std over runs (training seeds); 95 % CI: percentile bootstrap over test "
    "potentials of the seed-mean of the pooled metric (2000 resamples, the same potentials "
    "for every seed; MAPE pooled over the energies with N > 0, as test MAPE). "
    "Select on val; test is reported once."
)


def plot(summary: pd.DataFrame, title: str) -> plt.Figure:
    metric = "test_mse" if summary["test_mse_mean"].notna().any() else "test_mape"
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(summary)), 4))
    ax.bar(
        summary["model"],
        summary[f"{metric}_mean"],
        yerr=summary[f"{metric}_std"],
        capsize=4,
        color="C3",
    )
    ax.set_yscale("log")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    """The ``pipelines/compare.py`` command line (module docstring); returns the exit status."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "selectors",
        nargs="*",
        help="experiment tags, sweep ids or sweep parent run ids, their union "
        "(default: all finished runs)",
    )
    parser.add_argument(
        "--filter",
        help="an MLflow search filter the selected runs must also match, e.g. "
        "\"params.`data.sizes.train` = '2000'\" (conditions joined by 'and')",
    )
    parser.add_argument("--tracking-uri", default=default_tracking_uri())
    parser.add_argument("--experiment", default="lnet", help="MLflow experiment name")
    parser.add_argument("--out", default=str(project_root() / "reports"))
    parser.add_argument("--no-log", action="store_true", help="do not log a report run")
    parser.add_argument(
        "--promote",
        action="store_true",
        help="set the alias 'champion' on the registered version (lnet-<model>) of the "
        "best selected run per model, by --metric",
    )
    parser.add_argument(
        "--metric",
        default="val_mse",
        help="what --promote minimises (a validation metric: test is reported, not chosen on)",
    )
    parser.add_argument(
        "--by",
        help="a logged config key (e.g. data.sizes.train): also write a scaling curve of "
        "--metrics against it (scaling.md, .csv, .png)",
    )
    parser.add_argument(
        "--metrics",
        default="val_mse,test_mse",
        help="comma-separated logged metrics for --by (default: val_mse,test_mse)",
    )
    parser.add_argument(
        "--page",
        help="also write a documentation results page (Markdown, and NAME.png beside it) "
        "with each run's commit, date, seed and machine: see lnet.results_page",
    )
    parser.add_argument("--title", help="the --page title (default: the selectors)")
    args = parser.parse_args(argv)

    runs = load_runs(args.tracking_uri, args.experiment, args.selectors, args.filter)
    name = "+".join(args.selectors) or "all"
    if runs.empty:
        print(
            f"no finished runs match {name if args.selectors else '(all)'}"
            + (f" and --filter {args.filter!r}" if args.filter else "")
            + f" in {args.experiment!r}",
            file=sys.stderr,
        )
        return 1
    from lnet.scaling_curve import plot_scaling, scaling, scaling_markdown

    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    curve = scaling(runs, args.by, names) if args.by else None
    summary = summarise(runs, args.by)
    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(summary)
    (out / "comparison.md").write_text(f"# Comparison: {name}\n\n{table}\n\n{FOOTNOTE}\n")
    summary.to_csv(out / "comparison.csv", index=False)
    fig = plot(summary, f"{name}: test error (mean ± std over seeds)")
    fig.savefig(out / "comparison.png", dpi=120)
    if sys.stdout.isatty():
        Console().print(Markdown(table))
    else:  # piped: the Markdown itself, unwrapped, ready to paste
        print(table)
    files = ["comparison.md", "comparison.csv", "comparison.png"]
    if curve is not None:
        text = scaling_markdown(curve, args.by, names)
        (out / "scaling.md").write_text(
            f"# Scaling: {name} by {args.by}\n\n{text}\n\nmean ± std over runs (training seeds).\n"
        )
        curve.to_csv(out / "scaling.csv", index=False)
        fig = plot_scaling(curve, args.by, names, f"{name}: metrics against {args.by}")
        fig.savefig(out / "scaling.png", dpi=120)
        plt.close(fig)
        print(text)
        files += ["scaling.md", "scaling.csv", "scaling.png"]
    if not args.no_log:
        with mlflow.start_run(
            experiment_id=mlflow.get_experiment_by_name(args.experiment).experiment_id,
            run_name=f"report-{name}",
            tags={"lnet.report": "true", "selector": name},
        ):
            for f in files:
                mlflow.log_artifact(str(out / f), "report")
    print(f"wrote {', '.join(str(out / f) for f in files)}")
    if args.page:
        for path in write_results_page(runs, summary, args, curve):
            print(f"wrote {path}")
    if args.promote:
        return promote_best(runs, args.metric)
    return 0


def write_results_page(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    args: argparse.Namespace,
    curve: pd.DataFrame | None = None,
) -> list[Path]:
    """The ``--page`` results page and its figure (:mod:`lnet.results_page`); with
    ``--by`` (``curve``, from :func:`scaling`) the page adds the metrics against the key
    and its figure is their curve."""
    import io

    from lnet import results_page
    from lnet.scaling_curve import plot_scaling, scaling_markdown

    command = [*args.selectors]
    if args.experiment != "lnet":
        command += ["--experiment", args.experiment]
    if args.filter:
        command += ["--filter", args.filter]
    if curve is not None:
        command += ["--by", args.by, "--metrics", args.metrics]
    command += ["--page", args.page]
    title = args.title or "Results: " + ", ".join(args.selectors or ["all runs"])
    if args.title:
        command += ["--title", args.title]
    page = Path(args.page)
    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if curve is not None and f"params.{args.by}" in runs:  # families per model and value
        value = runs[f"params.{args.by}"].fillna("?").astype(str)
        model = runs["tags.model"].fillna("?").astype(str)
        runs = runs.assign(**{"tags.model": model + f" ({args.by}=" + value + ")"})
    if curve is not None:
        fig = plot_scaling(curve, args.by, names, f"{title}: metrics against {args.by}")
    else:
        fig = plot(summary, f"{title}: test error (mean ± std over seeds)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    text = results_page.render_page(
        runs,
        markdown(summary),
        FOOTNOTE,
        command,
        title,
        page.with_suffix(".png").name,
        family_intervals=family_intervals(runs),
        scaling=None if curve is None else (args.by, scaling_markdown(curve, args.by, names)),
    )
    try:
        return results_page.write_page(page, text, buffer.getvalue())
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def promote_best(runs: pd.DataFrame, metric: str) -> int:
    """Alias 'champion' on the best registered run of each model among the selection."""
    from lnet.tracking.registry import CHAMPION, promote, registered_name

    column = f"metrics.{metric}"
    if column not in runs:
        print(f"--metric {metric}: no selected run logged it", file=sys.stderr)
        return 2
    promoted = 0
    for model, group in runs.groupby("tags.model"):
        scored = [
            (float(v), r) for v, r in zip(group[column], group["run_id"], strict=True) if v == v
        ]
        version = promote(scored, str(model))
        if version is None:
            print(
                f"{registered_name(str(model))}: no selected run is registered (train with register=true)"
            )
            continue
        promoted += 1
        print(
            f"{registered_name(str(model))}@{CHAMPION} -> version {version.version} "
            f"(run {version.run_id}, {metric} = {min(s for s, r in scored if r == version.run_id):.4g})"
        )
    return 0 if promoted else 1
