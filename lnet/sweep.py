"""Hydra multiruns as one MLflow parent run with a child run per job.

- When a multirun starts, :class:`SweepReport` (a Hydra callback registered in
  ``conf/hydra/default.yaml``) opens a parent run ``sweep-<sweep id>`` holding the
  sweep's overrides, and writes its id and the swept keys to
  ``<sweep dir>/.lnet_jobs/sweep.json``.
- Every job reads that file (:func:`job_context`): its run is a child
  (``mlflow.parentRunId``) and its name carries the values of the swept keys.
- A job never ends the sweep: :func:`lnet.cli.exit_on_config_error` reports a failure
  in one line, the child run ends FAILED, and the job records its outcome with
  :func:`record_job` under ``.lnet_jobs/<job number>.json`` (one file per job, written
  atomically, so any launcher works: in-process, joblib workers, submitit). The job
  function returns ``None``, so the basic sweeper runs the remaining jobs and the
  Optuna sweeper marks the trial FAIL and continues the study.
- When the sweep ends, the parent gets a summary (a table of the jobs, the best child
  by ``optimized_metric``, a plot of each swept key against it, Optuna's best
  parameters and value) and ends FINISHED, or FAILED naming the failed jobs; the
  command prints the sweep id and exits 1 if any job failed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

RECORDS = ".lnet_jobs"
SWEEP_FILE = "sweep.json"
_current_run: dict[str, str | None] = {"run_id": None}


def in_multirun() -> bool:
    """True inside a job of a Hydra multirun (``-m``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def note_run(run_id: str | None) -> None:
    """The MLflow run of the job now running (set by training, read by :func:`record_job`)."""
    _current_run["run_id"] = run_id


def record_job(status: str, error: str | None = None, value: Any = None) -> None:
    """Write this job's outcome (``ok`` or ``failed``), run id and returned metric."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    number = float(value) if isinstance(value, int | float) else None
    _write_json(
        Path(hc.sweep.dir, RECORDS, f"{hc.job.num}.json"),
        {
            "job": int(hc.job.num),
            "overrides": list(hc.overrides.task),
            "status": status,
            "error": error,
            "run_id": _current_run["run_id"],
            "value": number if number is None or math.isfinite(number) else None,
        },
    )
    note_run(None)


def read_jobs(sweep_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The job records of a sweep, by job number."""
    folder = Path(sweep_dir, RECORDS)
    records = [json.loads(p.read_text()) for p in folder.glob("[0-9]*.json")]
    return sorted(records, key=lambda r: r["job"])


def sweep_id(sweep_dir: str | os.PathLike) -> str:
    """The id that ``compare.py`` takes: the sweep folder's name (its start time)."""
    return Path(str(sweep_dir).rstrip("/")).name


def swept_keys(task_overrides: list[str], sweeper_params: Mapping[str, Any] | None) -> list[str]:
    """Config keys a sweep varies: command-line sweeps (``a=1,2``, ``choice(...)``, ...)
    and the sweeper's ``params`` (experiment files, Optuna search spaces)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(task_overrides))
    keys = [o.key_or_group for o in parsed if o.is_sweep_override()]
    keys += [str(k) for k in (sweeper_params or {})]
    return list(dict.fromkeys(keys))


def job_context() -> dict[str, str]:
    """Inside a multirun job: the parent run id and this job's swept ``key=value`` pairs."""
    if not in_multirun():
        return {}
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    path = Path(hc.sweep.dir, RECORDS, SWEEP_FILE)
    sweep = json.loads(path.read_text()) if path.is_file() else {}
    swept = set(sweep.get("swept", []))
    pairs = [o for o in hc.overrides.task if o.split("=", 1)[0].lstrip("+~") in swept]
    out = {"sweep_id": sweep_id(hc.sweep.dir), "sweep_job": str(hc.job.num)}
    if sweep.get("parent_run_id"):
        out["mlflow.parentRunId"] = sweep["parent_run_id"]
    if pairs:
        out["sweep_overrides"] = ",".join(pairs)
    return out


def _client(config: DictConfig) -> tuple[Any, str]:
    import mlflow

    from lnet.tracking.run import setup_experiment

    logger = config.logger
    experiment_id = setup_experiment(
        logger.tracking_uri, logger.experiment_name, logger.get("artifact_root")
    )
    return mlflow.MlflowClient(), experiment_id


class SweepReport(Callback):
    """Opens the parent run of a multirun and closes it with the sweep's summary."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from lnet.tracking.run import process_tags

        folder = Path(config.hydra.sweep.dir, RECORDS)
        shutil.rmtree(folder, ignore_errors=True)
        overrides = list(config.hydra.overrides.task)
        params = OmegaConf.select(config, "hydra.sweeper.params")
        params = OmegaConf.to_container(params) if params is not None else {}
        keys = swept_keys(overrides, params)
        sid = sweep_id(config.hydra.sweep.dir)
        client, experiment_id = _client(config)
        # the owner tags: a sweep killed before its end leaves its parent RUNNING, and the
        # next lnet command on this store marks it KILLED (mark_dead_runs_killed)
        run = client.create_run(
            experiment_id,
            run_name=f"sweep-{sid}",
            tags={
                "lnet.sweep": "true",
                "sweep_id": sid,
                "lnet.swept": ",".join(keys),
                **process_tags(),
            },
        )
        client.log_param(run.info.run_id, "overrides", " ".join(overrides)[:6000])
        for key, value in params.items():
            client.log_param(run.info.run_id, f"sweeper.{key}", str(value)[:6000])
        _write_json(folder / SWEEP_FILE, {"parent_run_id": run.info.run_id, "swept": keys})

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = read_jobs(sweep_dir)
        failed = [j for j in jobs if j["status"] != "ok"]
        sweep = json.loads((sweep_dir / RECORDS / SWEEP_FILE).read_text())
        client, _ = _client(config)
        _summarise_parent(client, sweep, jobs, config, sweep_dir)
        client.set_terminated(sweep["parent_run_id"], "FAILED" if failed else "FINISHED")
        sid = sweep_id(sweep_dir)
        print(
            f"sweep {sid}: {len(jobs) - len(failed)} of {len(jobs)} jobs finished; parent run "
            f"{sweep['parent_run_id']} (compare them: python pipelines/compare.py {sid})",
            file=sys.stderr,
        )
        if failed:
            print(f"{len(failed)} job(s) failed:", file=sys.stderr)
            for j in failed:
                print(
                    f"  job {j['job']} [{' '.join(j['overrides'])}]: {j['error']}", file=sys.stderr
                )
            raise SystemExit(1)


def _swept_values(job: Mapping[str, Any], keys: list[str]) -> dict[str, str]:
    pairs = (o.split("=", 1) for o in job["overrides"] if "=" in o)
    values = {k.lstrip("+~"): v for k, v in pairs}
    return {k: values.get(k, "") for k in keys}


def _summarise_parent(
    client: Any,
    sweep: Mapping[str, Any],
    jobs: list[dict[str, Any]],
    config: DictConfig,
    sweep_dir: Path,
) -> None:
    """Jobs table, best child, swept keys against the metric, Optuna's result."""
    import pandas as pd

    parent, keys = sweep["parent_run_id"], list(sweep["swept"])
    metric = str(config.get("optimized_metric") or "value")
    direction = str(OmegaConf.select(config, "hydra.sweeper.direction") or "minimize")
    table = pd.DataFrame(
        [
            {
                "job": j["job"],
                **_swept_values(j, keys),
                metric: j["value"],
                "status": j["status"],
                "run_id": j["run_id"],
                "error": j["error"] or "",
            }
            for j in jobs
        ]
    )
    client.log_text(parent, table.to_csv(index=False), "sweep/jobs.csv")
    client.log_table(parent, data=table, artifact_file="sweep/jobs.json")  # MLflow's table view
    failed = [str(j["job"]) for j in jobs if j["status"] != "ok"]
    client.set_tag(parent, "lnet.jobs", f"{len(jobs) - len(failed)} of {len(jobs)} finished")
    if failed:
        client.set_tag(parent, "lnet.failed_jobs", ",".join(failed))
    scored = table[table[metric].notna()] if len(table) else table
    if len(scored):
        best = scored.loc[
            scored[metric].idxmax() if direction == "maximize" else scored[metric].idxmin()
        ]
        client.log_metric(parent, f"best_{metric}", float(best[metric]))
        client.set_tag(parent, "lnet.best_child", str(best["run_id"]))
        client.set_tag(parent, "lnet.best_job", str(best["job"]))
        if keys:
            client.log_figure(parent, _plot(scored, keys, metric), "sweep/params_vs_metric.png")
    results = next(sweep_dir.glob("optimization_results.yaml"), None)
    if results is not None:  # the Optuna sweeper's own summary
        best = OmegaConf.load(results)
        for key, value in (best.get("best_params") or {}).items():
            client.log_param(parent, f"best.{key}", str(value))
        if best.get("best_value") is not None:
            client.log_metric(parent, "optuna_best_value", float(best.best_value))


def _plot(table: Any, keys: list[str], metric: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        x = pd.to_numeric(table[key], errors="coerce")
        if x.notna().all():
            ax.scatter(x, table[metric], color="C3")
        else:  # categorical values: one column each
            cats = sorted(table[key].astype(str).unique())
            ax.scatter([cats.index(v) for v in table[key].astype(str)], table[metric], color="C3")
            ax.set_xticks(range(len(cats)), cats, rotation=20)
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
    fig.suptitle("swept parameters against the optimised metric")
    fig.tight_layout()
    plt.close(fig)
    return fig
