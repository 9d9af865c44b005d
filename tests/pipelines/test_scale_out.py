"""Scale-out on existing engines: DDP on CPU (gloo) and an MLflow tracking server."""

import socket
import subprocess
import sys
import time
import uuid

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES
from tests.pipelines.test_train_cli import cli_args, find_run

pytestmark = pytest.mark.e2e  # starts DDP processes and tracking servers


@pytest.mark.slow
def test_ddp_two_cpu_processes_log_one_complete_run(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    res = subprocess.run(
        cli_args(
            tmp_path,
            mlflow_store,
            *TINY_TRAIN_OVERRIDES["landscape_net"],
            *TINY_DATA,
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            f"+tags.test_id={test_id}",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    client = MlflowClient(mlflow_store["uri"])
    exp = client.get_experiment_by_name("lnet")
    runs = client.search_runs([exp.experiment_id], f"tags.test_id = '{test_id}'")
    assert len(runs) == 1, "only rank 0 opens an MLflow run"
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert "test_mse" in run.data.metrics and run.data.params["trainer.strategy"] == "ddp"
    assert len(client.get_metric_history(run.info.run_id, "val/mse")) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_training_against_an_mlflow_server(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.communicate()[1][-3000:]
                time.sleep(0.5)
        test_id = uuid.uuid4().hex
        store = {"uri": uri, "artifacts": str(tmp_path / "unused")}
        res = subprocess.run(
            cli_args(
                tmp_path,
                store,
                *TINY_TRAIN_OVERRIDES["weyl"],
                *TINY_DATA,
                f"+tags.test_id={test_id}",
            ),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr[-4000:]
        run = find_run(store, test_id)
        assert run.info.status == "FINISHED" and "test_mse" in run.data.metrics
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        artifacts = {a.path for a in MlflowClient(uri).list_artifacts(run.info.run_id)}
        assert {"config.yaml", "plots"} <= artifacts
        assert any((tmp_path / "server-artifacts").rglob("config.yaml"))
    finally:
        server.terminate()
        server.wait(timeout=30)
