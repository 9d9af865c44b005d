"""A training killed with SIGKILL is resumed into the same MLflow run, history intact."""

import subprocess
import time
import uuid

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES
from tests.pipelines.test_train_cli import cli_args, find_run


@pytest.mark.slow
def test_sigkill_then_resume_continues_the_run(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    base = [
        *TINY_TRAIN_OVERRIDES["landscape_net"],
        *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
    ]
    first = subprocess.Popen(
        cli_args(
            tmp_path, mlflow_store, *base, "trainer.max_epochs=100000", f"+tags.test_id={test_id}"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = MlflowClient(mlflow_store["uri"])
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            run = find_run(mlflow_store, test_id)
            if run is not None and len(client.get_metric_history(run.info.run_id, "val/mse")) >= 3:
                break
            assert first.poll() is None, first.communicate()[1][-3000:]
            time.sleep(0.5)
        first.kill()  # SIGKILL: nothing can mark the run, it stays RUNNING
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    run_id = run.info.run_id
    before = client.get_metric_history(run_id, "val/mse")
    assert client.get_run(run_id).info.status == "RUNNING"

    res = subprocess.run(
        cli_args(
            tmp_path,
            mlflow_store,
            *base,
            f"trainer.max_epochs={len(before) + 3}",
            f"resume={run_id}",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    after = client.get_metric_history(run_id, "val/mse")
    assert client.get_run(run_id).info.status == "FINISHED"
    assert len(after) > len(before)
    # the history before the kill is still there, and training went on past it
    assert [(m.step, m.value) for m in after[: len(before)]] == [(m.step, m.value) for m in before]
    assert max(m.step for m in after) > max(m.step for m in before)
    assert "test_mse" in client.get_run(run_id).data.metrics


def test_resume_of_unknown_run_is_a_config_error(tmp_path, mlflow_store):
    res = subprocess.run(
        cli_args(
            tmp_path,
            mlflow_store,
            *TINY_TRAIN_OVERRIDES["landscape_net"],
            *TINY_DATA,
            "resume=0123abcd",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2 and "config error: resume: no MLflow run '0123abcd'" in res.stderr
