"""Hydra multiruns that survive a failing job and say which jobs failed.

A job of a multirun never ends the sweep: :func:`lnet.cli.exit_on_config_error` reports
the failure in one line, the MLflow run ends FAILED, and the job records its outcome
with :func:`record_job` under ``<sweep dir>/.lnet_jobs/<job number>.json`` (one file per
job, written atomically, so it works for any launcher: in-process, joblib workers,
submitit). When the sweep ends, :class:`SweepReport` (a Hydra callback, registered in
``conf/hydra/default.yaml``) prints the sweep id and a summary and, if any job failed,
names them and exits with status 1.

The job function returns ``None`` for a failed job, so Hydra's sweepers go on: the
basic sweeper runs the remaining jobs, and the Optuna sweeper marks the trial FAIL
(its return value is not a number) and continues the study.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

RECORDS = ".lnet_jobs"


def in_multirun() -> bool:
    """True inside a job of a Hydra multirun (``-m``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_job(status: str, error: str | None = None) -> None:
    """Write this job's outcome (``ok`` or ``failed``) into its sweep's record folder."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    folder = Path(hc.sweep.dir, RECORDS)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "job": int(hc.job.num),
        "overrides": list(hc.overrides.task),
        "status": status,
        "error": error,
    }
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
    os.replace(tmp, folder / f"{hc.job.num}.json")


def read_jobs(sweep_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The job records of a sweep, by job number."""
    folder = Path(sweep_dir, RECORDS)
    records = [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.is_dir() else []
    return sorted(records, key=lambda r: r["job"])


def sweep_id(sweep_dir: str | os.PathLike) -> str:
    """The id that ``compare.py`` takes: the sweep folder's name (its start time)."""
    return Path(str(sweep_dir).rstrip("/")).name


class SweepReport(Callback):
    """Prints the sweep id and the failed jobs when a multirun ends; exit 1 if any failed."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        shutil.rmtree(Path(config.hydra.sweep.dir, RECORDS), ignore_errors=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = config.hydra.sweep.dir
        jobs = read_jobs(sweep_dir)
        failed = [j for j in jobs if j["status"] != "ok"]
        print(
            f"sweep {sweep_id(sweep_dir)}: {len(jobs) - len(failed)} of {len(jobs)} jobs "
            f"finished (compare them: python pipelines/compare.py {sweep_id(sweep_dir)})",
            file=sys.stderr,
        )
        if failed:
            print(f"{len(failed)} job(s) failed:", file=sys.stderr)
            for j in failed:
                print(
                    f"  job {j['job']} [{' '.join(j['overrides'])}]: {j['error']}", file=sys.stderr
                )
            raise SystemExit(1)
