"""MLflow run lifecycle and the records every run leaves.

``tracked_run`` opens a run in the configured store and always closes it with the
right status: FINISHED, FAILED (any exception, cause printed once) or KILLED
(Ctrl-C / SIGTERM), never leaving it RUNNING.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from filelock import FileLock
from mlflow.entities import RunStatus
from omegaconf import DictConfig, OmegaConf

from lnet.config import project_root
from lnet.errors import ConfigError

MAX_PARAM_LEN = 6000


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


SQLITE_BUSY_TIMEOUT_S = 60


def _sqlite_path(tracking_uri: str) -> Path | None:
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return Path(tracking_uri[len("sqlite:///") :].split("?", 1)[0])


def with_busy_timeout(tracking_uri: str) -> str:
    """sqlite: wait for a busy database instead of failing ("database is locked") when
    parallel sweep jobs write at once; other stores are returned unchanged."""
    if _sqlite_path(tracking_uri) is None or "?" in tracking_uri:
        return tracking_uri
    return f"{tracking_uri}?timeout={SQLITE_BUSY_TIMEOUT_S}"


def setup_experiment(tracking_uri: str, experiment_name: str, artifact_root: str | None) -> str:
    """Point MLflow at the store and return the experiment id (created if needed).

    For a sqlite store the first touch creates and migrates the database; parallel
    jobs (a joblib sweep) serialise that on a file lock beside the database.
    """
    db = _sqlite_path(tracking_uri)
    mlflow.set_tracking_uri(with_busy_timeout(tracking_uri))
    if db is None:
        return _get_or_create_experiment(tracking_uri, experiment_name, artifact_root)
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lock"):
        return _get_or_create_experiment(tracking_uri, experiment_name, artifact_root)


# MLflow's experiment-kind tag: lnet's experiments are model training.  MLflow 3.17's UI
# ignores it when it picks the page (its sidebar switch and ``?workflowType=`` decide, and
# default to GenAI), so lnet also prints run links with ``workflowType=machine_learning``
# (lnet.cli.ui_run_url); tests/tracking/test_ui_browser.py checks both in Chromium.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def _get_or_create_experiment(
    tracking_uri: str, experiment_name: str, artifact_root: str | None
) -> str:
    exp = mlflow.get_experiment_by_name(experiment_name)
    if exp is None:
        location = None
        db = _sqlite_path(tracking_uri)
        if not artifact_root and db is not None:
            artifact_root = str(db.parent / "mlruns")  # beside the store it belongs to
        if artifact_root and not tracking_uri.startswith(("http://", "https://")):
            location = Path(artifact_root, experiment_name).resolve().as_uri()
        try:
            experiment_id = mlflow.create_experiment(
                experiment_name,
                artifact_location=location,
                tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND},
            )
            return experiment_id
        except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel job
            exp = mlflow.get_experiment_by_name(experiment_name)
            if exp is None:
                raise
    if EXPERIMENT_KIND_TAG not in exp.tags:  # made by older lnet or by hand: a chosen kind stays
        mlflow.MlflowClient().set_experiment_tag(
            exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
        )
    return exp.experiment_id


def git_info(root: Path | None = None) -> dict[str, str]:
    """``git.commit`` and ``git.dirty`` of the code this process runs.

    Recorded on the first call per root and reused: Hydra's basic launcher runs every
    job of a multirun in one process, so a later job must report the code it imported,
    not whatever the checkout holds by the time it starts.
    """
    return dict(_git_info(root or project_root()))


@functools.cache
def _git_info(root: Path) -> tuple[tuple[str, str], ...]:
    return tuple(_read_git_info(root).items())


def _read_git_info(root: Path) -> dict[str, str]:

    def git(*args: str) -> str:
        res = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
        if res.returncode != 0:
            raise RuntimeError(res.stderr)
        return res.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return {"git.commit": "unknown", "git.dirty": "unknown"}
    return {"git.commit": commit, "git.dirty": str(dirty).lower()}


def flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value)[:MAX_PARAM_LEN]
    return out


def log_config(cfg: DictConfig) -> None:
    """Log the resolved config as flattened params and as ``config.yaml``."""
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    mlflow.log_params(flatten(container))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "config.yaml")
        path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
        mlflow.log_artifact(str(path))


@contextlib.contextmanager
def tracked_run(
    *,
    tracking_uri: str,
    experiment_name: str,
    artifact_root: str | None,
    run_name: str,
    tags: Mapping[str, str],
    run_id: str | None = None,
    system_metrics_interval: float | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Open (or reopen, ``run_id``) a run; see the module docstring for how it ends.

    ``system_metrics_interval``: seconds between samples of MLflow's own system
    metrics (``system/cpu_utilization_percentage``, memory, disk, network, and the GPU
    where one is present), logged as the run goes; ``None`` logs none.
    """
    experiment_id = setup_experiment(tracking_uri, experiment_name, artifact_root)
    if system_metrics_interval is not None:
        if not system_metrics_interval > 0:
            raise ConfigError(
                "logger.system_metrics_interval",
                f"must be > 0 seconds or null, got {system_metrics_interval}",
            )
        mlflow.set_system_metrics_sampling_interval(float(system_metrics_interval))
        mlflow.set_system_metrics_samples_before_logging(1)
    run = mlflow.start_run(
        run_id=run_id,
        experiment_id=experiment_id,
        run_name=None if run_id else run_name,
        tags=dict(tags),
        log_system_metrics=system_metrics_interval is not None,
    )
    try:
        yield run
    except KeyboardInterrupt:
        mlflow.end_run(RunStatus.to_string(RunStatus.KILLED))
        raise
    except SystemExit as exc:
        status = RunStatus.FINISHED if exc.code in (0, None) else RunStatus.KILLED
        mlflow.end_run(RunStatus.to_string(status))
        raise
    except BaseException as exc:
        print(f"lnet: run {run.info.run_id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        mlflow.set_tag("lnet.error", f"{type(exc).__name__}: {exc}"[:5000])
        mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
        with contextlib.suppress(AttributeError, TypeError):
            exc.lnet_reported = True  # the command line need not print it again
        raise
    else:
        mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))
