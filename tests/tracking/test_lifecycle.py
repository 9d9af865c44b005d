"""One writer of run status: signals set a flag, tracked_run alone ends the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import mlflow
import pytest
from mlflow.entities import RunStatus

from lnet.tracking import stop
from lnet.tracking.run import (
    KILLED_REASON_TAG,
    MACHINE_TAG,
    final_status,
    mark_dead_runs_killed,
    process_tags,
    tracked_run,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('life') / 'life.db'}"


@pytest.fixture(autouse=True)
def _no_stop_left_behind():
    """Each test starts with no stop request and Python's own SIGINT/SIGTERM handling: a
    job started in the background (CI run with ``&``) inherits SIGINT ignored, and an
    ignored signal stays ignored by design."""
    stop.clear()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in previous.items():
        signal.signal(s, handler)
    stop.clear()


def _open(store, **kw):
    return tracked_run(
        tracking_uri=store,
        experiment_name="life",
        artifact_root=None,
        run_name="r",
        tags={},
        **kw,
    )


def _status(store, run_id):
    return mlflow.MlflowClient(store).get_run(run_id).info.status


def test_status_comes_from_the_stop_flag_not_the_exception_type():
    assert final_status(None) == ("FINISHED", None)
    assert final_status(SystemExit(0)) == ("FINISHED", None)
    assert final_status(ValueError("x")) == ("FAILED", "ValueError: x")
    # a store's multi-line message (its SQL and parameters) becomes one bounded line
    sql = RuntimeError("duplicate key\n[SQL: INSERT INTO datasets ...]\n" + "p" * 2000)
    assert final_status(sql) == ("FAILED", "RuntimeError: duplicate key …")
    assert final_status(RuntimeError("y" * 2000))[1] == "RuntimeError: " + "y" * 485 + "…"
    assert final_status(SystemExit(1)) == ("FAILED", "SystemExit: 1")
    assert final_status(RuntimeError()) == ("FAILED", "RuntimeError")
    assert final_status(SystemExit(1))[0] == "FAILED"
    assert final_status(KeyboardInterrupt())[0] == "KILLED"
    stop.request("SIGTERM")
    # Lightning turns an interrupt into sys.exit(1); a boundary check raises StopRequested
    for exc in (None, SystemExit(1), ValueError("x"), stop.StopRequested("x")):
        assert final_status(exc) == ("KILLED", None)


def test_a_signal_inside_the_block_only_sets_the_flag():
    with stop.signals_set_flag():
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested() == "SIGINT"  # no KeyboardInterrupt: the work goes on
        with pytest.raises(stop.StopRequested, match="SIGINT received; stopped before eval"):
            stop.check("eval")
        with pytest.raises(KeyboardInterrupt):  # the second signal forces the exit
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_during_the_work_ends_the_run_killed(store):
    with pytest.raises(stop.StopRequested), _open(store) as run:
        mlflow.log_metric("a", 1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        mlflow.log_metric("b", 2.0)  # the write in progress is not torn
        stop.check("evaluation")
    assert _status(store, run.info.run_id) == "KILLED"
    assert set(mlflow.MlflowClient(store).get_run(run.info.run_id).data.metrics) == {"a", "b"}


def test_lightnings_exit_after_an_interrupt_is_still_killed(store):
    with pytest.raises(SystemExit), _open(store) as run:
        stop.request("SIGINT")
        sys.exit(1)  # what Lightning does on KeyboardInterrupt inside fit
    assert _status(store, run.info.run_id) == "KILLED"


def test_a_failing_error_tag_still_ends_the_run(store, monkeypatch):
    """The FAILED status is written even when writing the error tag fails."""
    real_set_tag = mlflow.set_tag

    def broken(key, value):
        if key == "lnet.error":
            raise mlflow.exceptions.MlflowException("database is locked")
        return real_set_tag(key, value)

    monkeypatch.setattr(mlflow, "set_tag", broken)
    with pytest.raises(ValueError), _open(store) as run:
        raise ValueError("boom")
    info = mlflow.MlflowClient(store).get_run(run.info.run_id)
    assert info.info.status == "FAILED"
    assert info.data.tags["lnet.error"] == "ValueError: boom"  # written by the retry
    assert mlflow.active_run() is None


def test_an_error_tag_that_never_writes_still_ends_the_run_failed(store, monkeypatch, capsys):
    """Every write of the reason tag fails (fluent and fresh clients alike): the run still
    ends FAILED, not RUNNING, and stderr says the reason tag is missing."""
    real_set_tag = mlflow.MlflowClient.set_tag

    def broken(self, run_id, key, value, *args, **kwargs):
        if key == "lnet.error":
            raise mlflow.exceptions.MlflowException("database is locked")
        return real_set_tag(self, run_id, key, value, *args, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "set_tag", broken)
    monkeypatch.setattr("lnet.tracking.run.time.sleep", lambda seconds: None)
    with pytest.raises(ValueError), _open(store) as run:
        raise ValueError("boom")
    info = mlflow.MlflowClient(store).get_run(run.info.run_id)
    assert info.info.status == "FAILED"
    assert "lnet.error" not in info.data.tags
    assert "without its lnet.error tag" in capsys.readouterr().err
    assert mlflow.active_run() is None


def test_the_final_status_write_is_retried_with_a_fresh_client(store, monkeypatch):
    def locked(status="FINISHED"):
        raise mlflow.exceptions.MlflowException("database is locked")

    monkeypatch.setattr(mlflow, "end_run", locked)
    with _open(store) as run:
        pass
    assert _status(store, run.info.run_id) == "FINISHED"
    assert mlflow.active_run() is None  # the next run of this process starts clean


def test_runs_carry_their_owner_and_dead_owners_runs_are_marked_killed(store):
    client = mlflow.MlflowClient(store)
    with _open(store) as run:
        tags = client.get_run(run.info.run_id).data.tags
        assert {k: tags[k] for k in process_tags()} == process_tags()
        # the machine the run measured on, for results pages: this machine's core count
        assert f", {len(os.sched_getaffinity(0))} cores, " in tags[MACHINE_TAG]
        # the owner is alive: another lnet command leaves the run alone
        assert run.info.run_id not in mark_dead_runs_killed(store)
    exp = run.info.experiment_id
    import psutil

    dead = 4_194_303  # the largest pid Linux hands out: free, unless this machine is very busy
    while psutil.pid_exists(dead):
        dead -= 1
    orphan = client.create_run(exp, tags={**process_tags(), "lnet.pid": str(dead)}).info
    recycled = client.create_run(exp, tags={**process_tags(), "lnet.pid_start": "1.0"}).info
    foreign = client.create_run(exp, tags={**process_tags(), "lnet.host": "elsewhere"}).info
    untagged = client.create_run(exp).info
    marked = mark_dead_runs_killed(store)
    assert sorted(marked) == sorted([orphan.run_id, recycled.run_id])
    for info in (orphan, recycled):
        run = client.get_run(info.run_id)
        assert run.info.status == "KILLED"
        assert "ended without closing the run" in run.data.tags[KILLED_REASON_TAG]
    for info in (foreign, untagged):
        assert _status(store, info.run_id) == "RUNNING"
    assert RunStatus.to_string(RunStatus.KILLED) == "KILLED"


def test_opening_the_store_marks_a_dead_owners_run_killed(store):
    """The next run on the store does it (setup_experiment), with no command of its own."""
    with _open(store) as first:
        pass
    client = mlflow.MlflowClient(store)
    orphan = client.create_run(
        first.info.experiment_id, tags={**process_tags(), "lnet.pid_start": "1.0"}
    ).info
    with _open(store):
        pass
    assert _status(store, orphan.run_id) == "KILLED"


def test_lightnings_logger_leaves_the_run_open(store):
    from lnet.tracking.lightning import RunLogger

    with _open(store) as run:
        logger = RunLogger(tracking_uri=store, run_id=run.info.run_id, experiment_name="life")
        logger.log_metrics({"x": 1.0}, step=0)
        logger.finalize("success")
        assert _status(store, run.info.run_id) == "RUNNING"
    assert _status(store, run.info.run_id) == "FINISHED"


def _tiny_cfg(compose_train):
    from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES

    return compose_train(
        *TINY_TRAIN_OVERRIDES["landscape_net"],
        *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
        "trainer.max_epochs=50",
        "logger.system_metrics_interval=null",
    )


class _Strategy:
    """A DDP strategy's reduction as seen from one rank: ``others`` is what the other
    ranks ask; the decision is any rank's (``all=False``)."""

    def __init__(self, others: bool):
        self.others, self.asked = others, []

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        assert all is False
        self.asked.append(decision)
        return decision or self.others


@pytest.mark.parametrize("hook", ["on_train_batch_end", "on_validation_batch_end"])
@pytest.mark.parametrize("here, others", [(False, True), (True, False), (False, False)])
def test_every_batch_boundary_agrees_on_stopping_across_ranks(hook, here, others):
    """After a training or a validation batch, a rank stops when any rank was asked to:
    a stop seen by one rank alone (inside validation, too) would leave the other waiting
    in a collective."""
    from types import SimpleNamespace

    from lnet.tracking.lightning import StopOnSignal

    trainer = SimpleNamespace(strategy=_Strategy(others), should_stop=False)
    if here:
        stop.request("SIGINT")
    getattr(StopOnSignal(), hook)(trainer, None, None, None, 0)
    assert trainer.strategy.asked == [here]  # this rank's own request went into the vote
    assert trainer.should_stop is (here or others)


def test_a_ddp_worker_rank_takes_ctrl_c_as_a_stop_request(monkeypatch):
    """Ranks > 0 get the terminal's Ctrl-C too: inside their fit it only requests the
    stop (the ranks then agree on a boundary), it does not raise mid-batch."""
    from lnet import training

    seen = []

    def fit_network(*args):
        os.kill(os.getpid(), signal.SIGINT)
        seen.append(stop.requested())

    monkeypatch.setattr(training, "start_point", lambda cfg: None)
    monkeypatch.setattr(training, "_prepare", lambda *args: None)
    monkeypatch.setattr(training, "_fit_network", fit_network)
    try:
        result = training._train_worker(None, "module", "dm")
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C raised inside a worker rank's fit instead of requesting a stop")
    assert seen == ["SIGINT"] and result.run_id == ""


@pytest.mark.e2e
def test_a_stop_in_fit_ends_training_at_a_batch_boundary(compose_train, mlflow_store, monkeypatch):
    from lnet import training
    from lnet.tracking.lightning import StopOnSignal

    steps = []
    real = StopOnSignal.on_train_batch_end

    def at_batch_end(self, trainer, *args):
        steps.append(trainer.global_step)
        if trainer.global_step == 4:
            os.kill(os.getpid(), signal.SIGINT)
        real(self, trainer, *args)

    monkeypatch.setattr(StopOnSignal, "on_train_batch_end", at_batch_end)
    with pytest.raises(stop.StopRequested):
        training.train(_tiny_cfg(compose_train))
    assert steps[-1] == 4  # 50 epochs asked for: it stopped at the next boundary
    run = mlflow.MlflowClient(mlflow_store["uri"]).search_runs(
        [mlflow.get_experiment_by_name("lnet").experiment_id],
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert run.info.status == "KILLED" and "test_mse" not in run.data.metrics


@pytest.mark.e2e
def test_a_stop_during_evaluation_ends_the_run_killed(compose_train, mlflow_store, monkeypatch):
    from lnet import training

    real = training._interval_metrics

    def interrupted(*args, **kw):
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kw)

    monkeypatch.setattr(training, "_interval_metrics", interrupted)
    cfg = _tiny_cfg(compose_train)
    cfg.trainer.max_epochs = 1
    with pytest.raises(stop.StopRequested, match="stopped before the landscape laws"):
        training.train(cfg)
    client = mlflow.MlflowClient(mlflow_store["uri"])
    run = client.search_runs(
        [client.get_experiment_by_name("lnet").experiment_id],
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert run.info.status == "KILLED"  # not FINISHED by Lightning's logger at the end of fit
    assert client.get_metric_history(run.info.run_id, "val/mse")  # fit's history is kept


_DRIVER = """
import json, sys, time
from hydra import compose, initialize_config_dir
from lnet.config import config_dir
from lnet.training import train

overrides, loops = json.loads(sys.argv[1]), int(sys.argv[2])
for i in range(loops):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"+tags.loop={i}"])
    print(f"@@ start {i}", flush=True)
    t = time.perf_counter()
    try:
        train(cfg)
        print(f"@@ done {i} {time.perf_counter() - t:.3f}", flush=True)
        time.sleep(1.0)  # a signal sent after the run ended lands here
    except KeyboardInterrupt as exc:
        print(f"@@ stopped {i} {exc}", flush=True)
    print(f"@@ end {i}", flush=True)
"""


def _marker(proc) -> str:
    """The driver's next ``@@`` line (progress bars and logs share its stdout)."""
    for line in proc.stdout:
        if line.startswith("@@ "):
            return line[3:].strip()
    raise AssertionError(f"the driver ended early (exit {proc.wait()})")


@pytest.mark.slow
def test_ctrl_c_at_20_moments_always_ends_the_run_killed(tmp_path, mlflow_store):
    """One process trains 22 times in a row; the first two runs are timed (when the run
    opened and when it ended, from the store), then each of the next 20 gets one SIGINT
    at a moment spread over that open run (fit, evaluation, logging; the first moments
    fall just before it opens, in the data stage). Aiming at the open run, not at the
    whole call, keeps the test meaningful when other work slows the data stage."""
    import json
    import time

    import numpy as np

    from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES

    store = {"uri": f"sqlite:///{tmp_path / 'ctrlc.db'}", "artifacts": str(tmp_path / "mlruns")}
    overrides = [
        *TINY_TRAIN_OVERRIDES["landscape_net"],
        *TINY_DATA,
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"paths.output_dir={tmp_path / 'out'}",
        f"logger.tracking_uri={store['uri']}",
        f"logger.artifact_root={store['artifacts']}",
        "logger.system_metrics_interval=0.5",
    ]
    warm, loops = 2, 22
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, json.dumps(overrides), str(loops)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    rng = np.random.default_rng(2026)
    moments, lines, sent, started = [], [], {}, {}
    try:
        for i in range(loops):
            line = _marker(proc)
            started[i] = time.time()
            assert line == f"start {i}", lines
            if i < warm:
                lines.append(_marker(proc))
                assert lines[-1].startswith(f"done {i}"), lines
                assert _marker(proc) == f"end {i}", lines
                continue
            if i == warm:  # the last timed run: data cached, code compiled
                (last,) = mlflow.MlflowClient(store["uri"]).search_runs(
                    [
                        mlflow.MlflowClient(store["uri"])
                        .get_experiment_by_name("lnet")
                        .experiment_id
                    ],
                    f"tags.loop = '{warm - 1}'",
                )
                opened = last.info.start_time / 1000 - started[warm - 1]
                ended = last.info.end_time / 1000 - started[warm - 1]
                first, span = 0.8 * opened, 0.95 * ended - 0.8 * opened
            moments.append(first + (i - warm + rng.random()) / (loops - warm) * span)
            time.sleep(moments[-1])
            sent[str(i)] = time.time()
            proc.send_signal(signal.SIGINT)
            lines.append(_marker(proc))
            while (line := _marker(proc)) != f"end {i}":  # a late signal: after "done"
                lines.append(line)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    client = mlflow.MlflowClient(store["uri"])
    exp = client.get_experiment_by_name("lnet").experiment_id
    runs = {r.data.tags["loop"]: r.info for r in client.search_runs([exp])}
    assert runs.pop("0").status == runs.pop("1").status == "FINISHED"
    # a signal sent while the run was open ends it KILLED; one sent after it had
    # ended (the machine ran faster than timed) finds it FINISHED, rightly
    hit = {
        i: r.status
        for i, r in runs.items()
        if r.status != "FINISHED" or r.end_time > 1000 * sent[i]
    }
    assert set(hit.values()) == {"KILLED"}, (hit, lines)
    # most moments land inside the open run (one before it opens leaves no run)
    assert len(hit) >= 15, (hit, moments, lines)


@pytest.mark.e2e
def test_a_sigkilled_training_is_marked_killed_by_the_next_run(tmp_path, compose_train):
    """SIGKILL leaves nothing to write a status: the next training on the store does it."""
    import time

    from lnet.training import train
    from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES
    from tests.pipelines.test_train_cli import cli_args, find_run

    store = {"uri": f"sqlite:///{tmp_path / 'killed.db'}", "artifacts": str(tmp_path / "mlruns")}
    base = [a for a in TINY_DATA if not a.startswith("trainer.max_epochs")]
    proc = subprocess.Popen(
        cli_args(
            tmp_path,
            store,
            *TINY_TRAIN_OVERRIDES["landscape_net"],
            *base,
            "trainer.max_epochs=100000",
            "+tags.test_id=killed",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 240
        while (run := find_run(store, "killed")) is None or not run.data.params:
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.5)
        proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert find_run(store, "killed").info.status == "RUNNING"  # nobody could mark it
    cfg = compose_train(
        *TINY_TRAIN_OVERRIDES["weyl"],
        *TINY_DATA,
        f"logger.tracking_uri={store['uri']}",
        f"logger.artifact_root={store['artifacts']}",
    )
    train(cfg)
    killed = find_run(store, "killed")
    assert killed.info.status == "KILLED"
    assert f"process {proc.pid} on" in killed.data.tags[KILLED_REASON_TAG]


def test_a_sweeps_parent_run_has_an_owner_so_a_killed_sweep_is_not_left_running(store, tmp_path):
    """The parent run that a multirun opens carries its process's owner tags: while the
    sweep lives no lnet command touches it, and once its process is gone (here: a pid
    start time that no longer matches) the next command marks it KILLED."""
    from omegaconf import OmegaConf

    from lnet.sweep import RECORDS, SWEEP_FILE, SweepReport

    config = OmegaConf.create(
        {
            "hydra": {
                "sweep": {"dir": str(tmp_path / "sweep")},
                "overrides": {"task": ["seed=1,2"]},
            },
            "logger": {"tracking_uri": store, "experiment_name": "lnet", "artifact_root": None},
        }
    )
    SweepReport().on_multirun_start(config)
    sweep = json.loads((tmp_path / "sweep" / RECORDS / SWEEP_FILE).read_text())
    client = mlflow.MlflowClient(store)
    parent = client.get_run(sweep["parent_run_id"])
    assert {k: parent.data.tags[k] for k in process_tags()} == process_tags()
    assert sweep["parent_run_id"] not in mark_dead_runs_killed(store)
    client.set_tag(sweep["parent_run_id"], "lnet.pid_start", "1.0")  # the owner is gone
    assert mark_dead_runs_killed(store) == [sweep["parent_run_id"]]
    assert _status(store, sweep["parent_run_id"]) == "KILLED"


def test_compare_opening_the_store_marks_a_dead_owners_run_killed(store):
    """``compare.py`` is an lnet command on the store too."""
    from lnet.comparison import load_runs

    with _open(store) as first:
        pass
    orphan = (
        mlflow.MlflowClient(store)
        .create_run(first.info.experiment_id, tags={**process_tags(), "lnet.pid_start": "1.0"})
        .info
    )
    load_runs(store, "life", None)
    assert _status(store, orphan.run_id) == "KILLED"
