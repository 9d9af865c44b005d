"""A team tracking server on a real database, under load and faults (docs/team-server.md).

One PostgreSQL cluster and one ``mlflow server --app-name basic-auth`` on it serve the
module (:mod:`tests.tracking.team_server`). ``alice`` trains through it with her
credentials in the environment; ``bob`` is another user, who may read (the server's
``default_permission = READ``) but not write.

- load: a Hydra joblib sweep of 8 tiny trainings, 4 at a time, on the server (wall time
  printed);
- faults: PostgreSQL restarted while the 8-job sweep's first jobs train and the server
  SIGKILLed and restarted while its later jobs do (one sweep, both faults), and a
  database outage longer than the retries allow, in the middle of a sweep;
- security: a wrong password, a user without permission, no password in anything logged.

What every sweep must leave: no run RUNNING; each job's run FINISHED with every metric
point of a fault-free run (no point lost, none twice), or FAILED with a one-line reason;
one parent run holding the jobs table.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lnet.tracking.run import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES
from tests.pipelines.test_sweeps import multirun
from tests.pipelines.test_train_cli import cli_args
from tests.tracking.team_server import MlflowServer, PostgresCluster, require_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # PostgreSQL, a server, sweeps of trainings

EPOCHS = 6
JOBS = 8
PARALLEL = 4
# the tiny LandscapeNet training of the suite, EPOCHS epochs: a few seconds per job
TINY = (
    *TINY_TRAIN_OVERRIDES["landscape_net"],
    *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
    f"trainer.max_epochs={EPOCHS}",
)
EXPERIMENT = "lnet"


@contextlib.contextmanager
def as_user(user: tuple[str, str]):
    """MLflow calls of this process authenticated as ``user`` (through the environment,
    as lnet's are)."""
    with mock.patch.dict(
        os.environ, {"MLFLOW_TRACKING_USERNAME": user[0], "MLFLOW_TRACKING_PASSWORD": user[1]}
    ):
        yield


def job_env(user: tuple[str, str] | None) -> dict[str, str]:
    """The environment of a command line run by ``user`` (None: no credentials)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_TRACKING_", "MLFLOW_HTTP_", "HYDRA_FULL_ERROR"))
    }
    if user is not None:
        env |= {"MLFLOW_TRACKING_USERNAME": user[0], "MLFLOW_TRACKING_PASSWORD": user[1]}
    return env


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """PostgreSQL + an authenticated MLflow server; users alice and bob; the experiment
    ``lnet`` created by alice (so she may write to it, and bob may only read)."""
    bindir = require_postgres()
    root = tmp_path_factory.mktemp("team")
    cluster = PostgresCluster(bindir)
    server = None
    try:
        cluster.init()
        cluster.start()
        cluster.create_database("mlflow")
        cluster.create_database("mlflow_auth")
        server = MlflowServer(root, cluster)
        first_start = server.start()
        alice = server.create_user("alice")
        bob = server.create_user("bob")
        with as_user(alice):
            MlflowClient(server.uri).create_experiment(
                EXPERIMENT, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
            )
        yield SimpleNamespace(
            cluster=cluster,
            server=server,
            uri=server.uri,
            admin=server.admin,
            alice=alice,
            bob=bob,
            root=root,
            first_start=first_start,
        )
    finally:
        if server is not None:
            server.stop()
        cluster.destroy()


# -- running a sweep ----------------------------------------------------------------
@dataclass
class Sweep:
    """A finished sweep: exit status, output, wall time and what the store holds."""

    returncode: int
    stderr: str
    wall_s: float
    test_id: str
    logs: Path
    events: dict[str, float] = field(default_factory=dict)


def run_sweep(tmp_path, uri, user, *extra, jobs=JOBS, fault=None) -> Sweep:
    """``pipelines/train.py -m`` of ``jobs`` tiny trainings (seeds 1..jobs), ``PARALLEL``
    at a time on Hydra's joblib launcher, logging to ``uri`` as ``user``. ``fault(proc,
    test_id, events)`` runs while the sweep does (it injects a fault)."""
    test_id = uuid.uuid4().hex
    store = {
        "uri": uri,
        "artifacts": "null" if uri.startswith("http") else str(tmp_path / "mlruns"),
    }
    args = multirun(
        cli_args(tmp_path, store, *TINY, f"+tags.test_id={test_id}", *extra),
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={PARALLEL}",
        "seed=" + ",".join(str(s) for s in range(1, jobs + 1)),
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    err = tmp_path / "sweep.err"
    events: dict[str, float] = {}
    t0 = time.monotonic()
    with open(err, "w") as stderr:
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=stderr, env=job_env(user), text=True
        )
        try:
            if fault is not None:
                fault(proc, test_id, events)
            proc.wait(timeout=1200)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    wall = time.monotonic() - t0
    return Sweep(proc.returncode, err.read_text(), wall, test_id, tmp_path / "logs", events)


def child_runs(client: MlflowClient, test_id: str) -> list:
    exp = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([exp.experiment_id], f"tags.test_id = '{test_id}'", max_results=1000)


def jobs_table(client: MlflowClient, parent_id: str, tmp_path: Path) -> pd.DataFrame:
    folder = tmp_path / f"jobs-{parent_id}"
    folder.mkdir(exist_ok=True)
    with mock.patch.dict(os.environ, {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}):
        path = client.download_artifacts(parent_id, "sweep/jobs.csv", str(folder))
    return pd.read_csv(path, keep_default_na=False)


def point_counts(client: MlflowClient, run) -> Counter:
    """Metric points per key; a point stored twice (two at one step) fails.

    MLflow's own system metrics are left out: they are samples taken on a clock, not
    points the job logs. Lightning logs its ``epoch`` with the train and again with the
    val metrics of an epoch, at one step (stored once when both fall in one
    millisecond): it counts one per step.
    """
    counts: Counter = Counter()
    for key in run.data.metrics:
        if key.startswith("system/"):
            continue
        history = client.get_metric_history(run.info.run_id, key)
        steps = [p.step for p in history]
        if key == "epoch":
            assert len(steps) <= 2 * len(set(steps)), f"epoch stored too often: {steps}"
            counts[key] = len(set(steps))
        else:
            assert len(set(steps)) == len(steps), f"{key}: a point stored twice: {steps}"
            counts[key] = len(steps)
    return counts


def expected_points(keys) -> Counter:
    """What a fault-free tiny training logs: one point per epoch of each epoch metric
    (``train/*``, ``val/*``, ``epoch``) and one of each final metric."""
    return Counter(
        {k: EPOCHS if k.startswith(("train/", "val/")) or k == "epoch" else 1 for k in keys}
    )


@dataclass
class Outcome:
    finished: list
    failed: list
    parent: object
    jobs: pd.DataFrame
    points: int


def check_sweep(client, sweep: Sweep, tmp_path, jobs=JOBS):
    """The invariants of every sweep, faults or not; returns what it found.

    No run RUNNING (children and parent); every child FINISHED with all its points
    (:func:`expected_points`, the same metrics in every finished run), or FAILED with a
    one-line ``lnet.error``; the parent's jobs table lists every job, failed jobs with
    their error, and agrees with the runs.
    """
    runs = child_runs(client, sweep.test_id)
    context = f"sweep exit {sweep.returncode}; stderr:\n{sweep.stderr[-4000:]}"
    assert runs, context
    running = [r.info.run_id for r in runs if r.info.status == "RUNNING"]
    assert running == [], f"runs left RUNNING: {running}\n{context}"
    parents = {r.data.tags.get("mlflow.parentRunId") for r in runs}
    assert len(parents) == 1 and None not in parents, context
    parent = client.get_run(parents.pop())
    assert parent.data.tags["lnet.sweep"] == "true"
    assert parent.info.status in ("FINISHED", "FAILED"), context
    finished, failed, total, first = [], [], 0, None
    for run in runs:
        if run.info.status == "FINISHED":
            counts = point_counts(client, run)
            first = first or counts
            want = expected_points(first)
            assert counts == want, (
                f"run {run.info.run_id}: points {dict(counts)} != expected {dict(want)}"
            )
            total += sum(counts.values())
            finished.append(run)
        else:
            assert run.info.status == "FAILED", f"{run.info.run_id}: {run.info.status}"
            reason = run.data.tags.get("lnet.error", "")
            assert reason and "\n" not in reason.strip(), (
                f"FAILED run {run.info.run_id} without a one-line reason: {reason!r}"
            )
            failed.append(run)
    table = jobs_table(client, parent.info.run_id, tmp_path)
    assert sorted(table["job"]) == list(range(jobs)), table.to_string()
    by_run = {r.info.run_id: r for r in runs}
    for row in table.itertuples():
        if row.status == "ok":
            assert by_run[row.run_id].info.status == "FINISHED", row
        else:
            assert row.error and "\n" not in row.error.strip(), row
            if row.run_id:
                assert by_run[row.run_id].info.status == "FAILED", row
    ok_jobs = int((table["status"] == "ok").sum())
    assert parent.info.status == ("FINISHED" if ok_jobs == jobs else "FAILED")
    assert (sweep.returncode == 0) == (ok_jobs == jobs), context
    return Outcome(finished, failed, parent, table, total)


def assert_no_secret_anywhere(team, secrets_: list[str], folders: list[Path]) -> None:
    """No secret in the tracking database (every param, tag, metric and model record:
    ``pg_dump``, as a backup would hold it), the served artifacts, or the sweep's logs."""
    dump = team.cluster.dump("mlflow")
    assert "test_id" in dump  # the dump holds the runs
    for secret in secrets_:
        assert secret not in dump, "a password is in the tracking database"
    for folder in [team.server.artifacts, *folders]:
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for secret in secrets_:
                    assert secret.encode() not in data, f"a password is in {path}"


# -- load and faults -----------------------------------------------------------------
def test_eight_job_sweep_on_postgres_through_a_database_restart_and_a_server_kill(
    team, tmp_path, capsys
):
    """Two faults in one sweep of 8 jobs, 4 at a time. PostgreSQL stopped (fast: open
    transactions rolled back, connections closed) for 5 s while the first jobs train,
    then started: the server answers 503 meanwhile and the jobs retry. Then the server and
    its workers SIGKILLed while a job of the second wave trains, and restarted on the
    same port 2 s later: MLflow's retries, and lnet's resend of a response the kill cut
    off mid-body (:mod:`lnet.tracking.broken_responses`), carry the jobs over. The sweep
    still ends 8/8 FINISHED with every point (none lost, none twice), the jobs table and
    8 registered versions. (The same parallel sweep on the embedded sqlite store:
    ``tests/pipelines/test_sweeps.py``; wall times side by side: ``docs/team-server.md``.)"""

    def restart_then_kill(proc, test_id, events):
        wait_for_training(team, test_id, proc, runs=2)
        t0 = time.monotonic()
        team.cluster.stop("fast")
        time.sleep(5)
        team.cluster.start()
        events["outage_s"] = time.monotonic() - t0
        wait_for_training(team, test_id, proc, runs=1, seen=PARALLEL + 1)
        t0 = time.monotonic()
        team.server.kill()
        time.sleep(2)
        team.server.start()
        events["kill_s"] = time.monotonic() - t0

    pg = run_sweep(tmp_path / "pg", team.uri, team.alice, "register=true", fault=restart_then_kill)
    with as_user(team.admin):
        client = MlflowClient(team.uri)
        outcome = check_sweep(client, pg, tmp_path)
        # the default retries (about 4 min) outlast both outages: every job finished
        assert len(outcome.finished) == JOBS, (
            f"{outcome.jobs.to_string()}\nsweep stderr:\n{pg.stderr[-4000:]}"
        )
        assert list(outcome.jobs["status"]) == ["ok"] * JOBS
        assert outcome.parent.data.tags["lnet.jobs"] == f"{JOBS} of {JOBS} finished"
        versions = client.search_model_versions("name = 'lnet-landscape_net'")
        assert sorted(v.run_id for v in versions) == sorted(r.info.run_id for r in outcome.finished)
        assert sorted(int(v.version) for v in versions) == list(range(1, JOBS + 1))
        # artifacts went through the server into its folder, none beside the job
        run = outcome.finished[0]
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        assert {"config.yaml", "checkpoints", "plots"} <= {
            a.path for a in client.list_artifacts(run.info.run_id)
        }
        assert len(list(team.server.artifacts.rglob("MLmodel"))) >= JOBS  # the 8 models
        assert not (tmp_path / "pg" / "mlruns").exists()
    assert "Traceback" not in pg.stderr, pg.stderr[-3000:]
    assert_no_secret_anywhere(
        team, [team.alice[1], team.admin[1], team.cluster.password], [tmp_path / "pg"]
    )

    with capsys.disabled():
        print(
            f"\n8-job sweep, {PARALLEL} at a time, {outcome.points} metric points, on the "
            f"PostgreSQL server, the database down {pg.events['outage_s']:.1f} s, then the "
            f"server SIGKILLed and down {pg.events['kill_s']:.1f} s: {pg.wall_s:.1f} s; "
            f"server first start {team.first_start:.1f} s"
        )


# -- faults ----------------------------------------------------------------------------
def wait_for_training(
    team, test_id, proc, runs: int = 1, seen: int = 0, timeout: float = 600
) -> None:
    """Until ``runs`` runs of the sweep are RUNNING with validation points (jobs in the
    middle of their training) and at least ``seen`` runs have validation points, finished
    or not (``seen`` > PARALLEL: a job of the second wave has started training). Read
    from PostgreSQL itself, not through the server."""
    query = (
        "SELECT count(DISTINCT r.run_uuid) FILTER (WHERE r.status = 'RUNNING'), "
        "count(DISTINCT r.run_uuid) FROM runs r "
        "JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'test_id' AND t.value = %s "
        "JOIN metrics m ON m.run_uuid = r.run_uuid AND m.key LIKE 'val/%%'"
    )
    deadline = time.monotonic() + timeout
    with team.cluster.connect("mlflow") as conn:
        while True:
            assert proc.poll() is None, "the sweep ended before any job trained"
            running, training = conn.execute(query, (test_id,)).fetchone()
            if running >= runs and training >= seen:
                return
            assert time.monotonic() < deadline, "no job reached its training"
            time.sleep(0.2)


def test_an_undeliverable_point_fails_the_run(team, tmp_path, capsys):
    """Without retries (``logger.http.max_retries=0``) a database outage makes a job's
    metric write fail: its run ends FAILED with the failed request as its one-line
    reason (written once the database is back), never FINISHED with a hole."""
    caught: dict[str, list[str]] = {}

    def outage(proc, test_id, events):
        wait_for_training(team, test_id, proc, runs=1)
        with team.cluster.connect("mlflow") as conn:
            caught["training"] = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = "
                    "r.run_uuid AND t.key = 'test_id' AND t.value = %s JOIN metrics m ON "
                    "m.run_uuid = r.run_uuid AND m.key LIKE 'val/%%' WHERE r.status = 'RUNNING'",
                    (test_id,),
                )
            ]
        t0 = time.monotonic()
        team.cluster.stop("fast")
        time.sleep(8)
        team.cluster.start()
        events["outage_s"] = time.monotonic() - t0

    sweep = run_sweep(
        tmp_path,
        team.uri,
        team.alice,
        "logger.http.max_retries=0",
        jobs=PARALLEL,
        fault=outage,
    )
    with as_user(team.admin):
        client = MlflowClient(team.uri)
        out = check_sweep(client, sweep, tmp_path, jobs=PARALLEL)
        hit = [client.get_run(run_id) for run_id in caught["training"]]
    with capsys.disabled():
        print(
            f"\nPostgreSQL down {sweep.events['outage_s']:.1f} s, no retries: "
            f"{len(out.finished)} FINISHED, {len(out.failed)} FAILED: "
            + "; ".join("..." + r.data.tags["lnet.error"][-110:] for r in out.failed)
        )
    assert sweep.returncode == 1 and out.failed, sweep.stderr[-3000:]
    # a job caught training wrote again within the outage: that write failed, and so did
    # its run (check_sweep: every other run is FINISHED with all its points, or FAILED)
    failed_hit = [r for r in hit if r.info.status == "FAILED"]
    assert failed_hit, [(r.info.run_id, r.info.status) for r in hit]
    for run in failed_hit:
        # the request failed outright, or the server answered that its database is down
        # (503 TEMPORARILY_UNAVAILABLE while PostgreSQL shuts down): which, is timing
        reason = run.data.tags["lnet.error"]
        assert "API request to" in reason or "TEMPORARILY_UNAVAILABLE" in reason, reason
    failed_jobs = int((out.jobs["status"] != "ok").sum())
    assert f"{failed_jobs} job(s) failed" in sweep.stderr


# -- security --------------------------------------------------------------------------
def test_a_wrong_password_is_one_line_before_anything_runs(team, tmp_path):
    """Single run and sweep: one line naming the server and the HTTP status, exit 2,
    within 5 s of the command starting, and no run opened."""
    test_id = uuid.uuid4().hex
    wrong = (team.alice[0], team.alice[1] + "x")
    store = {"uri": team.uri, "artifacts": "null"}
    base = cli_args(tmp_path, store, *TINY, f"+tags.test_id={test_id}")
    for args in (base, multirun(base, "hydra/launcher=joblib", "seed=1,2")):
        t0 = time.monotonic()
        res = subprocess.run(args, capture_output=True, text=True, timeout=120, env=job_env(wrong))
        elapsed = time.monotonic() - t0
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2, res.stderr[-3000:]
        assert lines == [
            f"config error: logger.tracking_uri: {team.uri} answered HTTP 401 (Unauthorized) "
            "to user 'alice': check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        ], lines
        assert wrong[1] not in res.stderr + res.stdout
        assert elapsed < 5, f"took {elapsed:.1f} s"
    with as_user(team.admin):
        assert child_runs(MlflowClient(team.uri), test_id) == []
    # no credentials at all: the same line, naming that
    res = subprocess.run(base, capture_output=True, text=True, timeout=120, env=job_env(None))
    assert res.returncode == 2
    assert "answered HTTP 401 (Unauthorized) to a request without credentials" in res.stderr


def test_a_user_without_permission_cannot_write(team, tmp_path):
    """bob may read alice's experiment and runs but not write to them: the MLflow API
    answers 403, and lnet's training stops before it opens a run, in one line."""
    with as_user(team.alice):
        alice = MlflowClient(team.uri)
        exp = alice.get_experiment_by_name(EXPERIMENT)
        run = alice.create_run(exp.experiment_id, tags={"owner": "alice"})
        alice.log_metric(run.info.run_id, "m", 1.0, step=0)
        alice.set_terminated(run.info.run_id)
    with as_user(team.bob):
        bob = MlflowClient(team.uri)
        assert bob.get_run(run.info.run_id).data.metrics == {"m": 1.0}  # READ
        for write in (
            lambda: bob.create_run(exp.experiment_id),
            lambda: bob.log_metric(run.info.run_id, "m", 2.0, step=1),
            lambda: bob.set_tag(run.info.run_id, "owner", "bob"),
            lambda: bob.delete_run(run.info.run_id),
        ):
            with pytest.raises(MlflowException) as info:
                write()
            assert info.value.error_code == "PERMISSION_DENIED", info.value
    with as_user(team.admin):
        admin = MlflowClient(team.uri)
        after = admin.get_run(run.info.run_id)
        assert after.data.tags["owner"] == "alice" and after.info.lifecycle_stage == "active"
        assert [p.value for p in admin.get_metric_history(run.info.run_id, "m")] == [1.0]

    test_id = uuid.uuid4().hex
    store = {"uri": team.uri, "artifacts": "null"}
    res = subprocess.run(
        cli_args(tmp_path, store, *TINY, f"+tags.test_id={test_id}"),
        capture_output=True,
        text=True,
        timeout=600,
        env=job_env(team.bob),
    )
    assert res.returncode == 1, res.stderr[-3000:]
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.stderr[-3000:]
    assert "runs/create failed with error code 403" in errors[0], errors[0]
    assert "Permission denied" in errors[0], errors[0]
    assert "Epoch" not in res.stdout + res.stderr  # no training started
    with as_user(team.admin):
        assert child_runs(MlflowClient(team.uri), test_id) == []


def test_check_access_fails_fast_and_names_the_status(team):
    """The check behind the command line's first line, from Python."""
    from lnet.tracking.server import TrackingAccessError, check_access

    with as_user((team.alice[0], "not-her-password")):
        t0 = time.monotonic()
        with pytest.raises(TrackingAccessError, match="answered HTTP 401") as info:
            check_access(team.uri)
        assert time.monotonic() - t0 < 5
    assert "not-her-password" not in str(info.value)
    with as_user(team.alice):
        check_access(team.uri)  # passes
    check_access("http://127.0.0.1:9")  # nothing listens: left to MLflow's retries
