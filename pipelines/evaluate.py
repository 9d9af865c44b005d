"""Score logged counting models, and the landscape laws, on the same generalisation sets.

    python pipelines/evaluate.py 'models=[runs:/<id>/model,runs:/<id2>/model]' \
        data/potential=universal 'eval_families=[uniform,laplace,{family: uniform, amplitude: 20}]'
    python pipelines/evaluate.py 'models=[runs:/<id>/model]' data=counting_2d \
        'eval_shapes=[[64,64],[128,128]]' 'eval_laws=[box,weyl_lattice]'

Every model is scored on identical sets: ``eval_sizes`` (1-D: fresh potentials of the
data law at each n, E uniform in [0, λ_⌈0.1 n⌉]), ``eval_shapes`` (2-D: the same at each
lattice shape L1×L2) and ``eval_families`` (one test set per entry at the data config's
lattice, energies, test size and seed), through :mod:`lnet.evaluation`, as at the end of
a training run. With none of them given, the data's dimension picks the default sets
(:data:`DEFAULT_SETS`). ``eval_laws`` adds the landscape laws as further columns, the
box law fitted on the data config's training split. Each model and law gets an MLflow
run (tag ``lnet.evaluation=true``; ``model_uri`` or ``law``) with the metrics, tables
and plots; the side-by-side table is printed and written to
``<report_dir>/<timestamp>.md``, with a figure ``<timestamp>.png`` (relative error
against n per model, test MSE per family set).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import hydra
import mlflow
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.table import Table

import lnet.config  # noqa: F401  (registers the ${lnet_root:} resolver)
from lnet import evaluation
from lnet.cli import console as cli_console
from lnet.cli import exit_on_config_error, quiet_third_party
from lnet.errors import ConfigError
from lnet.predict import Predictor
from lnet.tasks import COUNTING
from lnet.tracking import plots as figures
from lnet.tracking.pyfunc import load_model
from lnet.tracking.run import tracked_run

# the sets scored when no eval_sizes, eval_shapes or eval_families is given, by data.dim
DEFAULT_SETS: dict[int, tuple[str, list[Any]]] = {
    1: ("eval_sizes", [1000, 10000, 100000]),
    2: ("eval_shapes", [[32, 32], [64, 64], [128, 128]]),
}


def apply_default_sets(cfg: DictConfig) -> str | None:
    """Set the default sets of :data:`DEFAULT_SETS` for the data's dimension when no
    set is given; returns the key set (None when the user gave sets, or data.dim is bad)."""
    if any(cfg.get(key) for key in ("eval_sizes", "eval_shapes", "eval_families")):
        return None
    dim = evaluation.data_dim(cfg)
    if dim is None:
        return None  # the data module names a bad data.dim
    key, value = DEFAULT_SETS[dim]
    with open_dict(cfg):
        cfg[key] = value
    return key


def _labels(cfg: DictConfig, uris: list[str]) -> list[str]:
    labels = list(cfg.labels) if cfg.get("labels") else []
    if labels and len(labels) != len(uris):
        raise ConfigError("labels", f"needs one label per model ({len(uris)}), got {len(labels)}")
    out = [str(x) for x in labels] or [u.replace("runs:/", "").replace("/model", "") for u in uris]
    for i, label in enumerate(out):
        if label in out[:i] or label.startswith("law_"):
            raise ConfigError(
                f"labels[{i}]", f"{label!r} is taken (labels are distinct; law_* names the laws)"
            )
    return out


def load_counting_model(uri: str, dim: int) -> Predictor:
    """The logged model at ``uri``; ConfigError (key ``models``) unless it is a counting
    model of the data's lattice dimension."""
    predictor = load_model(uri)
    if not isinstance(predictor, Predictor) or predictor.task != COUNTING:
        raise ConfigError("models", f"{uri} is not a counting model")
    if predictor.dim != dim:
        raise ConfigError(
            "models",
            f"{uri} is a {predictor.dim}-D model but the data is {dim}-D (data.dim={dim}); "
            + ("use data=counting_2d" if predictor.dim == 2 else "use 1-D data (data=counting)"),
        )
    return predictor


def score(
    cfg: DictConfig, predictor: Predictor, label: str, dm: Any, tags: dict[str, str]
) -> dict[str, float]:
    """One model on every set; metrics and artifacts go to a new MLflow run."""
    with tracked_run(
        tracking_uri=cfg.logger.tracking_uri,
        experiment_name=cfg.logger.experiment_name,
        artifact_root=cfg.logger.get("artifact_root"),
        run_name=f"evaluate-{label}",
        tags={"lnet.evaluation": "true", "data.name": dm.spec.name, **tags},
    ):
        mlflow.log_dict(OmegaConf.to_container(cfg, resolve=True), "evaluate_config.json")
        out: dict[str, float] = {}
        if cfg.get("eval_families"):
            out.update(evaluation.evaluate_families(cfg, predictor, dm))
        if cfg.get("eval_sizes"):
            out.update(evaluation.evaluate_sizes(cfg, predictor, dm, label))
        if cfg.get("eval_shapes"):
            out.update(evaluation.evaluate_shapes(cfg, predictor, dm, label))
        mlflow.log_metrics(out)
    return out


def fitted_laws(cfg: DictConfig, dm: Any) -> dict[str, tuple[Predictor, dict[str, float]]]:
    """The laws of ``eval_laws``, fitted on the data config's training split (built or
    read from the cache), as label -> (predictor, fitted parameters)."""
    names = evaluation.check_laws(cfg.get("eval_laws"))
    if not names:
        return {}
    dm.prepare_data()
    dm.setup()
    fitted = evaluation.fit_laws(names, dm.arrays["train"], dm.spec.dim)
    return {f"law_{name}": (Predictor(law), params) for name, (law, params) in fitted.items()}


def report(results: dict[str, dict[str, float]], path: Path) -> str:
    """Side-by-side Markdown table: one column per model, one row per metric."""
    keys = sorted({k for r in results.values() for k in r if k.endswith(("rel_err", "_mse"))})
    lines = ["| metric | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for k in keys:
        cells = [f"{r[k]:.4g}" if k in r else "n/a" for r in results.values()]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return text


def report_figure(results: dict[str, dict[str, float]], path: Path) -> bool:
    """Side-by-side figure beside the report: relative count error against n (log-x,
    one line per model or law with size metrics) and test MSE per family set (log-y
    bars). Written atomically; False (no file) when there is nothing to draw."""
    sizes = {
        label: sorted(
            (int(m.group(1)), v)
            for k, v in r.items()
            if (m := re.fullmatch(r"size_(\d+)_test_rel_err", k))
        )
        for label, r in results.items()
    }
    families = sorted(
        {
            m.group(1)
            for r in results.values()
            for k in r
            if (m := re.fullmatch(r"family_(.+)_test_mse", k))
        }
    )
    panels = [p for p, has in (("sizes", any(sizes.values())), ("families", families)) if has]
    if not panels:
        return False
    plt = figures.plt
    widths = {"sizes": 5.5, "families": min(14.0, max(5.0, 0.2 * len(families) * len(results)))}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(sum(widths[p] for p in panels), 4.2), squeeze=False
    )
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "sizes":
            for i, (label, points) in enumerate(sizes.items()):
                if points:
                    ns, errs = zip(*points, strict=True)
                    style = "s--" if label.startswith("law_") else "o-"
                    ax.plot(ns, errs, style, color=f"C{i % 10}", label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("lattice length n")
            ax.set_ylabel("relative count error")
            ax.set_title("relative error against n", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        else:
            width = 0.8 / len(results)
            x = range(len(families))
            for i, (label, r) in enumerate(results.items()):
                heights = [r.get(f"family_{f}_test_mse", float("nan")) for f in families]
                ax.bar([j + i * width for j in x], heights, width, color=f"C{i % 10}", label=label)
            ax.set_xticks(
                [j + 0.4 - width / 2 for j in x], families, rotation=35, ha="right", fontsize=8
            )
            ax.set_yscale("log")
            ax.set_ylabel("test MSE")
            ax.set_title("family sets", fontsize=10)
            ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return True


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@exit_on_config_error
def main(cfg: DictConfig) -> None:
    quiet_third_party()
    uris = [str(u) for u in cfg.models or []]
    if not uris and not cfg.get("eval_laws"):
        raise ConfigError(
            "models",
            "give at least one model URI, e.g. 'models=[runs:/<id>/model]' (or eval_laws)",
        )
    console = cli_console()
    default_key = apply_default_sets(cfg)
    evaluation.check_config(cfg, COUNTING)
    if default_key:
        console.print(f"sets: {default_key}={list(cfg[default_key])} (the default for this data)")
    dm = hydra.utils.instantiate(cfg.data, show_progress=False)  # the sets' definition
    labels = _labels(cfg, uris)
    models = [
        (uri, label, load_counting_model(uri, dm.spec.dim))
        for uri, label in zip(uris, labels, strict=True)
    ]
    results: dict[str, dict[str, float]] = {}
    for uri, label, predictor in models:
        results[label] = score(cfg, predictor, label, dm, {"model_uri": uri})
    for label, (predictor, params) in fitted_laws(cfg, dm).items():
        law_tags = {"law": label.removeprefix("law_")}
        law_tags.update({f"law.{k}": f"{v:.17g}" for k, v in params.items()})
        results[label] = score(cfg, predictor, label, dm, law_tags)
    path = Path(cfg.report_dir) / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}.md"
    text = report(results, path)
    table = Table(title=f"generalisation, data {dm.spec.name}")
    table.add_column("metric")
    for label in results:
        table.add_column(label, justify="right")
    for line in text.splitlines()[2:]:
        table.add_row(*[c.strip() for c in line.strip("|").split("|")])
    console.print(table)
    console.print(f"report: {path}", markup=False)
    if report_figure(results, path.with_suffix(".png")):
        console.print(f"figure: {path.with_suffix('.png')}", markup=False)


if __name__ == "__main__":
    main()
