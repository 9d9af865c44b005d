"""Train a model and record it in MLflow.

    python pipelines/train.py                                  # LandscapeNet, paper data
    python pipelines/train.py model=box_counting               # the two-parameter law
    python pipelines/train.py model=eigen_net data=eigenvalues model.net.input=V
    python pipelines/train.py -m model=landscape_net,box_counting,weyl
    mlflow ui --backend-store-uri sqlite:///mlflow.db          # compare runs

Returns the configured ``optimized_metric`` (for Hydra sweepers).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig
from rich.table import Table

import lnet.config  # noqa: F401  (registers the ${lnet_root:} resolver)
from lnet.cli import console as cli_console
from lnet.cli import exit_on_config_error, precheck, quiet_third_party, ui_command, ui_run_url
from lnet.sweep import job_context


def _sweep_tags(cfg: DictConfig) -> None:
    """A multirun job: sweep id, job number, parent run and swept values as tags."""
    context = job_context()
    if context:
        cfg.tags = {**(cfg.get("tags") or {}), **context}


def _summary(result, cfg: DictConfig) -> None:
    console = cli_console()
    table = Table(title=f"test metrics, run {result.run_id}")
    keys = [k for k in ("mse", "mae", "max_abs", "mape") if f"test_{k}" in result.metrics]
    table.add_column("split")
    for k in keys:
        table.add_column(k, justify="right")
    for split in ("train", "val", "test"):
        table.add_row(split, *(f"{result.metrics[f'{split}_{k}']:.4g}" for k in keys))
    console.print(table)
    console.print(
        f"trainable parameters: {int(result.metrics['trainable_params']):,}   fit: {result.metrics['fit_seconds']:.1f} s"
    )
    console.print(f"MLflow run id: [bold]{result.run_id}[/]   model: {result.model_uri}")
    console.print(f"open the UI:  {ui_command(cfg.logger.tracking_uri)}", markup=False)
    if cfg.logger.tracking_uri.startswith("sqlite:"):  # a local store: the UI's default address
        import mlflow

        experiment_id = mlflow.get_run(result.run_id).info.experiment_id
        console.print(f"then browse:  {ui_run_url(experiment_id, result.run_id)}", markup=False)


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exit_on_config_error
def main(cfg: DictConfig) -> float | None:
    from lnet.training import train  # torch, Lightning, MLflow: after the config is checked

    quiet_third_party()
    _sweep_tags(cfg)
    result = train(cfg)
    if not result.run_id:  # a DDP worker rank: rank 0 reports
        return None
    _summary(result, cfg)
    metric = cfg.get("optimized_metric")
    return result.metrics.get(metric) if metric else None


if __name__ == "__main__":
    precheck("train", sys.argv[1:])
    main()
