"""MLflow run lifecycle and the records every run leaves.

``tracked_run`` opens a run in the configured store and is the only code that ends it:

- KILLED when a stop was requested (Ctrl-C / SIGTERM set a flag, :mod:`lnet.tracking.stop`,
  and the work stops at its next boundary), whatever exception that stop surfaced as;
- FAILED on any other exception (cause printed once and tagged ``lnet.error``);
- FINISHED otherwise.

The final status write retries with a fresh client (against a tracking server for up to
``END_RUN_PATIENCE_S``, so that a restarting server still gets it). A process that cannot
write it at all (SIGKILL, out of memory, power loss) leaves the run RUNNING; every run is
tagged with its host and process, and the next lnet command that opens the store on that
host marks such a run KILLED (:func:`mark_dead_runs_killed`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from filelock import FileLock
from mlflow.entities import RunStatus
from omegaconf import DictConfig, OmegaConf

from lnet.config import project_root
from lnet.errors import ConfigError
from lnet.machine import describe_machine
from lnet.tracking import broken_responses, server, stop

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
    server.check_access(tracking_uri)  # a tracking server: a wrong password is one line
    if server.is_server(tracking_uri):
        broken_responses.install()  # a response cut off by a server crash is sent again
    mlflow.set_tracking_uri(with_busy_timeout(tracking_uri))
    if db is None:
        experiment_id = _get_or_create_experiment(tracking_uri, experiment_name, artifact_root)
    else:
        db.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(db) + ".lock"):
            experiment_id = _get_or_create_experiment(tracking_uri, experiment_name, artifact_root)
    mark_dead_runs_killed(tracking_uri)
    return experiment_id


HOST_TAG, PID_TAG, PID_START_TAG = "lnet.host", "lnet.pid", "lnet.pid_start"
MACHINE_TAG = "lnet.machine"  # CPU, cores, GPU, Python: results pages name the machine
KILLED_REASON_TAG = "lnet.killed_reason"


def process_tags() -> dict[str, str]:
    """Which process owns a run: host name, pid, and the pid's start time (so that a
    recycled pid is not taken for the owner)."""
    import psutil

    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        PID_START_TAG: f"{psutil.Process().create_time():.3f}",
    }


def _owner_alive(pid: str, started: str) -> bool:
    import psutil

    try:
        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(proc.create_time() - float(started)) < 1.0
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.AccessDenied:  # another user's live process
        return True


def mark_dead_runs_killed(tracking_uri: str) -> list[str]:
    """Mark KILLED the RUNNING runs of this host whose owning process is gone.

    Only runs that lnet opened carry the owner tags (:func:`process_tags`); runs of other
    hosts are left alone (their processes cannot be checked from here). Each marked run
    gets a ``lnet.killed_reason`` tag. Returns the ids of the runs marked.
    """
    client = mlflow.MlflowClient(with_busy_timeout(tracking_uri))
    host = socket.gethostname()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    running = client.search_runs(
        experiments,
        f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        max_results=1000,
    )
    marked = []
    for run in running:
        tags = run.data.tags
        pid, started = tags.get(PID_TAG, ""), tags.get(PID_START_TAG, "")
        if _owner_alive(pid, started):
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        try:
            client.set_tag(
                run.info.run_id,
                KILLED_REASON_TAG,
                f"process {pid} on {host} ended without closing the run (SIGKILL, out of "
                f"memory or a crash); marked KILLED by lnet on {when}",
            )
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
        except mlflow.exceptions.MlflowException as exc:  # a team server: another user's run
            if exc.error_code != "PERMISSION_DENIED":
                raise
            continue
        marked.append(run.info.run_id)
    return marked


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
    # a password inside a URI (postgresql://user:password@...) is never logged
    mlflow.log_params({k: server.redact(v) for k, v in flatten(container).items()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "config.yaml")
        path.write_text(server.redact(OmegaConf.to_yaml(cfg, resolve=True)))
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

    Inside the block SIGINT and SIGTERM only request a stop (:mod:`lnet.tracking.stop`).
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
    with stop.signals_set_flag():
        run = mlflow.start_run(
            run_id=run_id,
            experiment_id=experiment_id,
            run_name=None if run_id else run_name,
            tags={**tags, **process_tags(), MACHINE_TAG: describe_machine()},
            log_system_metrics=system_metrics_interval is not None,
        )
        error: BaseException | None = None
        try:
            yield run
        except BaseException as exc:
            error = exc
            raise
        finally:
            status, reason = final_status(error)
            if reason is not None:
                print(f"lnet: run {run.info.run_id} failed: {reason}", file=sys.stderr)
                with contextlib.suppress(AttributeError, TypeError):
                    error.lnet_reported = True  # the command line need not print it again
            _end_run(tracking_uri, run.info.run_id, status, reason)


def final_status(error: BaseException | None) -> tuple[str, str | None]:
    """The status a run ends with, and for FAILED the one-line reason.

    A requested stop decides first (KILLED), so the exception it surfaced as does not
    matter (Lightning turns a Ctrl-C into ``sys.exit(1)``, a stop at a boundary raises
    :class:`lnet.tracking.stop.StopRequested`).
    """
    if stop.requested() is not None or isinstance(error, KeyboardInterrupt):
        return RunStatus.to_string(RunStatus.KILLED), None
    if error is None or (isinstance(error, SystemExit) and error.code in (0, None)):
        return RunStatus.to_string(RunStatus.FINISHED), None
    return RunStatus.to_string(RunStatus.FAILED), one_line_reason(error)


REASON_MAX_CHARS = 500


def one_line_reason(error: BaseException) -> str:
    """``"<Type>: <first line of the message>"``, at most ``REASON_MAX_CHARS`` characters:
    a store's message can carry its SQL statement and parameters over many lines."""
    lines = str(error).strip().splitlines()
    reason = type(error).__name__
    if lines:
        reason += f": {lines[0].strip()}" + (" …" if len(lines) > 1 else "")
    return reason if len(reason) <= REASON_MAX_CHARS else reason[: REASON_MAX_CHARS - 1] + "…"


END_RUN_ATTEMPTS = 3
# A tracking server: the final status write goes on trying this long (a server or its
# database restarting), beyond MLflow's own HTTP retries of each try.
END_RUN_PATIENCE_S = 120.0


def _fresh_client(tracking_uri: str, attempt: int) -> mlflow.MlflowClient:
    """A client that does not share the failed one's connection pool: MLflow caches one
    store per URI, so a sqlite URI gets a distinct (equivalent) busy timeout."""
    if _sqlite_path(tracking_uri) is not None:
        base = tracking_uri.split("?", 1)[0]
        return mlflow.MlflowClient(f"{base}?timeout={SQLITE_BUSY_TIMEOUT_S + attempt}")
    return mlflow.MlflowClient(tracking_uri)


def _end_run(tracking_uri: str, run_id: str, status: str, reason: str | None) -> None:
    """Write the reason and the final status; on failure retry with fresh clients
    (``END_RUN_ATTEMPTS`` times, and for a tracking server until ``END_RUN_PATIENCE_S``).

    The status comes first in importance: a reason tag that cannot be written does not
    stop the status write (the run would stay RUNNING); the tag alone is then retried.
    """
    last: Exception | None = None
    deadline = time.monotonic() + (END_RUN_PATIENCE_S if server.is_server(tracking_uri) else 0)
    tag_done, status_done = reason is None, False
    attempt = 0
    while attempt <= END_RUN_ATTEMPTS or time.monotonic() < deadline:
        client = None if attempt == 0 else _fresh_client(tracking_uri, attempt)
        try:
            if not tag_done:
                try:
                    if client is None:
                        mlflow.set_tag("lnet.error", reason[:5000])
                    else:
                        client.set_tag(run_id, "lnet.error", reason[:5000])
                    tag_done = True
                except Exception as exc:  # noqa: BLE001  (the status is written regardless)
                    last = exc
            if not status_done:
                if client is None:
                    mlflow.end_run(status)  # also stops the system-metrics monitor
                else:
                    client.set_terminated(run_id, status)
                status_done = True
            if tag_done:
                return
        except Exception as exc:  # noqa: BLE001  (any store error: retried, then reported)
            last = exc
        finally:
            _drop_active_run(run_id)
        time.sleep(min(0.2 * 2**attempt, 10.0))
        attempt += 1
    what = f"mark run {run_id} {status}" if not status_done else f"tag run {run_id}'s reason"
    after = (
        "the next lnet command on this store marks it KILLED"
        if not status_done
        else f"it ended {status} without its lnet.error tag"
    )
    print(f"lnet: could not {what} ({type(last).__name__}: {last}); {after}", file=sys.stderr)


def _drop_active_run(run_id: str) -> None:
    """Leave no fluent active run behind (a later run in this process must start clean)
    and stop the run's system-metrics monitor if ``mlflow.end_run`` did not get to it."""
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        with contextlib.suppress(Exception):
            mlflow.tracking.fluent._active_run_stack.get().pop()
    monitors = getattr(mlflow.tracking.fluent, "run_id_to_system_metrics_monitor", {})
    monitor = monitors.pop(run_id, None)
    if monitor is not None:
        with contextlib.suppress(Exception):
            monitor.finish()


DATASET_RACE = ("UniqueViolation", "dataset_pk", "UNIQUE constraint failed: datasets")


def log_input(dataset: Any, context: str, tags: Mapping[str, str], attempts: int = 3) -> None:
    """``mlflow.log_input``, again when another job registered the same dataset at the
    same moment.

    The tracking store inserts a dataset row the first time an experiment sees it; two
    jobs of one sweep logging the same dataset at once can both try, and the loser gets a
    unique-key violation (seen on PostgreSQL). On the next attempt the row exists and
    only the run's input is added. Other errors are raised at once.
    """
    from mlflow.exceptions import MlflowException

    for attempt in range(attempts):
        try:
            mlflow.log_input(dataset, context=context, tags=dict(tags))
            return
        except MlflowException as exc:
            if attempt == attempts - 1 or not any(s in str(exc) for s in DATASET_RACE):
                raise
            time.sleep(0.1 * (attempt + 1))
