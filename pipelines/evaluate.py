"""Score logged counting models on the same generalisation sets.

    python pipelines/evaluate.py 'models=[runs:/<id>/model,runs:/<id2>/model]' \
        data/potential=universal 'eval_families=[uniform,laplace,{family: uniform, amplitude: 20}]'

Every model is scored on identical sets: ``eval_sizes`` (fresh potentials of the data
law at each n, E uniform in [0, λ_⌈0.1 n⌉]) and ``eval_families`` (one test set per
entry at the data config's lattice length, energies, test size and seed), through
:mod:`lnet.evaluation`, as at the end of a training run.  Each model gets an MLflow run
(tag ``lnet.evaluation=true``, ``model_uri``) with the metrics, tables and plots; the
side-by-side table is printed and written to ``<report_dir>/<timestamp>.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import mlflow
from omegaconf import DictConfig, OmegaConf
from rich.table import Table

import lnet.config  # noqa: F401  (registers the ${lnet_root:} resolver)
from lnet import evaluation
from lnet.cli import console as cli_console
from lnet.cli import exit_on_config_error, quiet_third_party
from lnet.errors import ConfigError
from lnet.predict import Predictor
from lnet.tasks import COUNTING
from lnet.tracking.pyfunc import load_model
from lnet.tracking.run import tracked_run


def _labels(cfg: DictConfig, uris: list[str]) -> list[str]:
    labels = list(cfg.labels) if cfg.get("labels") else []
    if labels and len(labels) != len(uris):
        raise ConfigError("labels", f"needs one label per model ({len(uris)}), got {len(labels)}")
    return [str(x) for x in labels] or [u.replace("runs:/", "").replace("/model", "") for u in uris]


def score(cfg: DictConfig, uri: str, label: str, dm) -> dict[str, float]:
    """One model on every set; metrics and artifacts go to a new MLflow run."""
    predictor = load_model(uri)
    if not isinstance(predictor, Predictor) or predictor.task != COUNTING:
        raise ConfigError("models", f"{uri} is not a counting model")
    tags = {"lnet.evaluation": "true", "model_uri": uri, "data.name": dm.spec.name}
    with tracked_run(
        tracking_uri=cfg.logger.tracking_uri,
        experiment_name=cfg.logger.experiment_name,
        artifact_root=cfg.logger.get("artifact_root"),
        run_name=f"evaluate-{label}",
        tags=tags,
    ):
        mlflow.log_dict(OmegaConf.to_container(cfg, resolve=True), "evaluate_config.json")
        out: dict[str, float] = {}
        if cfg.get("eval_families"):
            out.update(evaluation.evaluate_families(cfg, predictor, dm))
        if cfg.get("eval_sizes"):
            out.update(evaluation.evaluate_sizes(cfg, predictor, dm, label))
        mlflow.log_metrics(out)
    return out


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


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@exit_on_config_error
def main(cfg: DictConfig) -> None:
    quiet_third_party()
    uris = [str(u) for u in cfg.models or []]
    if not uris:
        raise ConfigError("models", "give at least one model URI, e.g. 'models=[runs:/<id>/model]'")
    evaluation.check_config(cfg, COUNTING)
    dm = hydra.utils.instantiate(cfg.data, show_progress=False)  # the sets' definition only
    results = {
        label: score(cfg, uri, label, dm)
        for uri, label in zip(uris, _labels(cfg, uris), strict=True)
    }
    path = Path(cfg.report_dir) / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}.md"
    text = report(results, path)
    console = cli_console()
    table = Table(title=f"generalisation, data {dm.spec.name}")
    table.add_column("metric")
    for label in results:
        table.add_column(label, justify="right")
    for line in text.splitlines()[2:]:
        table.add_row(*[c.strip() for c in line.strip("|").split("|")])
    console.print(table)
    console.print(f"report: {path}", markup=False)


if __name__ == "__main__":
    main()
