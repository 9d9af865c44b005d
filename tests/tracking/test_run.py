import subprocess

import pytest

from lnet.tracking.run import git_info


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.mark.e2e  # runs git
def test_git_info_reports_the_code_the_process_started_with(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one")
    _git(tmp_path, "add", "a.txt")
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    _git(tmp_path, *env, "commit", "-qm", "first")
    first = git_info(tmp_path)
    assert len(first["git.commit"]) == 40 and first["git.dirty"] == "false"
    # the checkout moves on while the process runs: later jobs still report the first state
    (tmp_path / "a.txt").write_text("two")
    _git(tmp_path, *env, "commit", "-qam", "second")
    assert git_info(tmp_path) == first
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    assert head != first["git.commit"]


def test_git_info_outside_a_repository_is_unknown(tmp_path):
    assert git_info(tmp_path / "nowhere") == {"git.commit": "unknown", "git.dirty": "unknown"}


def test_experiments_are_model_training_experiments(tmp_path):
    """MLflow 3's UI opens a custom_model_development experiment on its runs table."""
    import mlflow

    from lnet.tracking.run import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, setup_experiment

    uri = f"sqlite:///{tmp_path / 'kind.db'}"
    exp_id = setup_experiment(uri, "fresh", str(tmp_path / "mlruns"))
    client = mlflow.MlflowClient(uri)
    assert client.get_experiment(exp_id).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    # an experiment made without the tag (older lnet) gets it; a kind set by hand stays
    old = client.create_experiment("old")
    mine = client.create_experiment("mine", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    setup_experiment(uri, "old", None)
    setup_experiment(uri, "mine", None)
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert client.get_experiment(mine).tags[EXPERIMENT_KIND_TAG] == "genai_development"


@pytest.mark.e2e
def test_training_logs_system_metrics(compose_train, mlflow_store):
    """MLflow's own system metrics reach the run that Lightning's logger writes to."""
    import mlflow

    from lnet.training import train
    from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES

    cfg = compose_train(
        *TINY_TRAIN_OVERRIDES["landscape_net"], *TINY_DATA, "logger.system_metrics_interval=0.2"
    )
    result = train(cfg)
    client = mlflow.MlflowClient(mlflow_store["uri"])
    metrics = client.get_run(result.run_id).data.metrics
    assert "system/cpu_utilization_percentage" in metrics
    assert "system/system_memory_usage_megabytes" in metrics
    history = client.get_metric_history(result.run_id, "system/cpu_utilization_percentage")
    assert len(history) >= 2, "sampled while training, not once"


def test_system_metrics_interval_is_checked(compose_train):
    from tests.conftest import config_error_of, tiny

    err = config_error_of(compose_train(*tiny("weyl", "logger.system_metrics_interval=0")))
    assert "logger.system_metrics_interval: must be > 0" in str(err)


def test_artifacts_live_beside_the_sqlite_store_they_belong_to(tmp_path, monkeypatch):
    """A store named by MLFLOW_TRACKING_URI keeps its artifacts next to it, not in the
    checkout."""
    import mlflow

    from lnet.tracking.run import setup_experiment

    elsewhere = tmp_path / "elsewhere"
    uri = f"sqlite:///{elsewhere / 'store.db'}"
    exp_id = setup_experiment(uri, "beside", None)
    location = mlflow.MlflowClient(uri).get_experiment(exp_id).artifact_location
    assert location == (elsewhere / "mlruns" / "beside").resolve().as_uri()
    # the training config leaves it to that rule unless logger.artifact_root is given
    from hydra import compose, initialize_config_dir

    from lnet.config import config_dir

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train")
    assert cfg.logger.tracking_uri == uri and cfg.logger.artifact_root is None


def test_log_input_retries_only_the_dataset_insert_race(monkeypatch):
    """Two jobs registering one dataset at once: the loser's unique-key violation is
    retried (the row then exists); any other store error is raised at once."""
    from mlflow.exceptions import MlflowException

    from lnet.tracking import run as run_module

    calls = []
    race = MlflowException(
        "BAD_REQUEST: (psycopg.errors.UniqueViolation) duplicate key value violates unique "
        'constraint "dataset_pk"'
    )

    def flaky(dataset, context, tags):
        calls.append((dataset, context, tags))
        if len(calls) == 1:
            raise race

    monkeypatch.setattr(run_module.mlflow, "log_input", flaky)
    run_module.log_input("ds", context="train", tags={"key": "k"})
    assert calls == [("ds", "train", {"key": "k"})] * 2

    def denied(dataset, context, tags):
        calls.append(dataset)
        raise MlflowException("PERMISSION_DENIED: no write access")

    calls.clear()
    monkeypatch.setattr(run_module.mlflow, "log_input", denied)
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        run_module.log_input("ds", context="train", tags={})
    assert calls == ["ds"]

    def always_racing(dataset, context, tags):
        calls.append(dataset)
        raise race

    calls.clear()
    monkeypatch.setattr(run_module.mlflow, "log_input", always_racing)
    with pytest.raises(MlflowException, match="UniqueViolation"):
        run_module.log_input("ds", context="train", tags={}, attempts=3)
    assert len(calls) == 3
