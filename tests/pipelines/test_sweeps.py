"""Parallel sweeps on one machine: joblib and submitit_local launchers."""

import subprocess
import uuid

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES
from tests.pipelines.test_train_cli import cli_args

pytestmark = pytest.mark.e2e  # every test here starts a multirun of the command line


def multirun(args, *sweep):
    """cli_args(...) as a Hydra multirun: -m right after the script, sweep overrides last."""
    return [args[0], args[1], "-m", *args[2:], *sweep]


def weyl_sweep(tmp_path, store, *fixed, sweep):
    """A multirun of the tiny Weyl-law training: ``fixed`` overrides, then ``sweep``."""
    return subprocess.run(
        multirun(
            cli_args(tmp_path, store, *TINY_TRAIN_OVERRIDES["weyl"], *TINY_DATA, *fixed), *sweep
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )


def assert_one_finished_parent(store, runs, status: str = "FINISHED"):
    """Every run is a child of one sweep parent run, which ended ``status`` (FAILED when
    a job failed)."""
    parents = {r.data.tags.get("mlflow.parentRunId") for r in runs}
    assert len(parents) == 1 and None not in parents
    parent = MlflowClient(store["uri"]).get_run(parents.pop())
    assert parent.info.status == status and parent.data.tags["lnet.sweep"] == "true"
    return parent


def sweep_runs(store, test_id):
    client = MlflowClient(store["uri"])
    exp = client.get_experiment_by_name("lnet")
    return client.search_runs([exp.experiment_id], f"tags.test_id = '{test_id}'")


@pytest.mark.slow
def test_four_parallel_joblib_jobs_share_store_and_dataset(tmp_path):
    # a fresh store: the four jobs also race to create the sqlite database
    store = {"uri": f"sqlite:///{tmp_path / 'fresh.db'}", "artifacts": str(tmp_path / "mlruns")}
    test_id = uuid.uuid4().hex
    res = subprocess.run(
        multirun(
            cli_args(
                tmp_path,
                store,
                *TINY_TRAIN_OVERRIDES["box_counting"],
                *TINY_DATA,
                f"+tags.test_id={test_id}",
            ),
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=4",
            "seed=1,2,3,4",
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "database is locked" not in res.stderr
    runs = sweep_runs(store, test_id)
    assert sorted(r.data.tags["seed"] for r in runs) == ["1", "2", "3", "4"]
    assert all(r.info.status == "FINISHED" and "test_mse" in r.data.metrics for r in runs)
    assert len({r.data.tags["sweep_id"] for r in runs}) == 1
    assert [r.data.tags["data.cache_hit"] for r in runs].count("False") == 1, (
        "the dataset is built once"
    )
    assert len({r.data.tags["data.key"] for r in runs}) == 1
    assert_one_finished_parent(store, runs)


@pytest.mark.slow
def test_submitit_local_multirun(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    res = weyl_sweep(
        tmp_path,
        mlflow_store,
        f"+tags.test_id={test_id}",
        sweep=[
            "hydra/launcher=submitit_local",
            "hydra.launcher.timeout_min=10",
            "seed=1,2",
        ],
    )
    assert res.returncode == 0, res.stderr[-4000:]
    runs = sweep_runs(mlflow_store, test_id)
    assert sorted(r.data.tags["seed"] for r in runs) == ["1", "2"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert_one_finished_parent(mlflow_store, runs)


@pytest.mark.slow
def test_optuna_search_reports_the_best_and_goes_on_after_a_failed_trial(tmp_path, mlflow_store):
    """One Optuna search of 5 trials over the landscape_net space, with net width 0
    (rejected when the net is built) among the choices: the failed trials are named and
    told to Optuna as FAILED, the others finish, the sampler moves, and the best of the
    finished trials is in optimization_results.yaml and on the sweep's parent run."""
    test_id = uuid.uuid4().hex
    res = subprocess.run(
        [
            *cli_args(
                tmp_path,
                mlflow_store,
                # the search space includes data.batch_size: a fixed override would remove it
                *[a for a in TINY_TRAIN_OVERRIDES["landscape_net"] if "batch_size" not in a],
                *TINY_DATA,
                f"+tags.test_id={test_id}",
            ),
            "hparams_search=landscape_net_optuna",
            "hydra.sweeper.n_trials=5",
            "hydra.sweeper.sampler.n_startup_trials=3",
            "model.net.width=choice(0,1)",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    runs = sweep_runs(mlflow_store, test_id)
    failed = [ln for ln in res.stderr.splitlines() if ln.startswith("  job ")]
    assert failed and all("model.net.width=0" in ln for ln in failed), res.stderr[-4000:]
    assert len(runs) + len(failed) == 5, "every trial ran"
    assert len(runs) >= 2 and all(r.info.status == "FINISHED" for r in runs), res.stderr[-4000:]
    assert res.returncode == 1
    assert "Failed experiment" in res.stdout + res.stderr  # the sweeper tells Optuna
    assert len({r.data.params["model.optimizer.lr"] for r in runs}) == len(runs)  # it moved
    best_val = min(r.data.metrics["val_mse"] for r in runs)
    best = next((tmp_path / "logs" / "train" / "multiruns").rglob("optimization_results.yaml"))
    assert f"best_value: {best_val}" in best.read_text()
    parent = assert_one_finished_parent(mlflow_store, runs, status="FAILED")
    assert parent.data.metrics["optuna_best_value"] == best_val
    assert {"best.model.optimizer.lr", "best.data.batch_size", "best.model.net.width"} <= set(
        parent.data.params
    )


@pytest.mark.slow  # a Hydra multirun
def test_failing_jobs_do_not_stop_the_sweep(tmp_path, mlflow_store):
    """4 jobs (kind × scale range): job 1 fails at run time, inside its MLflow run (scale
    range [0, 1]: the geometric search grid cannot start at 0); jobs 2 and 3 fail on a
    config error before any run opens (kind parabolic). Job 0 still finishes, the failed
    run is FAILED, and the sweep exits 1 naming each failed job with its overrides."""
    test_id = uuid.uuid4().hex
    res = weyl_sweep(
        tmp_path,
        mlflow_store,
        "model.net.fit_scale=true",
        f"+tags.test_id={test_id}",
        sweep=[
            "model.net.kind=continuum,parabolic",
            "model.net.scale_range=[0.5,2],[0,1]",
        ],
    )
    assert res.returncode == 1, res.stderr[-4000:]
    runs = {r.data.params["model.net.scale_range"]: r for r in sweep_runs(mlflow_store, test_id)}
    assert sorted(runs) == ["[0, 1]", "[0.5, 2]"], "a config error opens no run"
    assert {r.data.params["model.net.kind"] for r in runs.values()} == {"continuum"}
    assert runs["[0, 1]"].info.status == "FAILED"
    ok = runs["[0.5, 2]"]
    assert ok.info.status == "FINISHED" and "test_mse" in ok.data.metrics
    assert "1 of 4 jobs finished" in res.stderr
    assert "3 job(s) failed" in res.stderr
    failed_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("  job ")]
    assert [ln.split()[1] for ln in failed_lines] == ["1", "2", "3"], failed_lines
    assert "model.net.scale_range=[0,1]" in failed_lines[0]
    assert "model.net.kind=continuum" in failed_lines[0]
    for line in failed_lines[1:]:
        assert "model.net.kind=parabolic" in line
    assert "config error: model.net.kind: must be 'continuum', 'lattice' or 'torus'" in res.stderr
    # one parent run for the sweep, FAILED because a child failed; every job its child
    client = MlflowClient(mlflow_store["uri"])
    parents = {r.data.tags["mlflow.parentRunId"] for r in runs.values()}
    assert len(parents) == 1
    parent = client.get_run(parents.pop())
    assert parent.data.tags["lnet.sweep"] == "true" and parent.info.status == "FAILED"
    assert parent.data.tags["lnet.failed_jobs"] == "1,2,3"  # the failed jobs by number
    assert parent.data.tags["lnet.swept"] == "model.net.kind,model.net.scale_range"
    assert "model.net.scale_range=[0.5,2],[0,1]" in parent.data.params["overrides"]
    # run names carry the swept values, so the UI tells the jobs apart
    assert ok.info.run_name.endswith("-model.net.kind=continuum,model.net.scale_range=[0.5,2]"), (
        ok.info.run_name
    )


@pytest.mark.slow  # a Hydra multirun
def test_a_sweep_is_one_parent_run_with_a_summary(tmp_path, mlflow_store):
    import io

    import mlflow
    import pandas as pd

    test_id = uuid.uuid4().hex
    res = weyl_sweep(
        tmp_path,
        mlflow_store,
        f"+tags.test_id={test_id}",
        "optimized_metric=val_mse",
        "model.net.fit_scale=false",  # the scale stays as swept: no ties
        sweep=[
            "model.net.kind=continuum,lattice",
            "model.net.scale=0.7,1.5",
        ],
    )
    assert res.returncode == 0, res.stderr[-4000:]
    runs = sweep_runs(mlflow_store, test_id)
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    assert len({r.info.run_name for r in runs}) == 4
    parent_id = runs[0].data.tags["mlflow.parentRunId"]
    assert all(r.data.tags["mlflow.parentRunId"] == parent_id for r in runs)
    client = MlflowClient(mlflow_store["uri"])
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent_id in res.stderr
    assert parent.data.tags["lnet.swept"] == "model.net.kind,model.net.scale"
    best = min(runs, key=lambda r: r.data.metrics["val_mse"])
    assert parent.data.tags["lnet.best_child"] == best.info.run_id
    assert parent.data.metrics["best_val_mse"] == best.data.metrics["val_mse"]
    mlflow.set_tracking_uri(mlflow_store["uri"])
    jobs = pd.read_csv(io.StringIO(mlflow.artifacts.load_text(f"runs:/{parent_id}/sweep/jobs.csv")))
    assert sorted(jobs["run_id"]) == sorted(r.info.run_id for r in runs)
    assert set(jobs["model.net.kind"]) == {"continuum", "lattice"}
    artifacts = {a.path for a in client.list_artifacts(parent_id, "sweep")}
    assert "sweep/params_vs_metric.png" in artifacts
    # compare.py takes the parent run id
    from lnet.comparison import main as compare_main

    out = tmp_path / "reports"
    assert (
        compare_main(
            [parent_id, "--tracking-uri", mlflow_store["uri"], "--out", str(out), "--no-log"]
        )
        == 0
    )
    csv = pd.read_csv(out / parent_id / "comparison.csv")
    assert csv["runs"].sum() == 4
