"""A tracking server that lets no one in who does not belong: MLflow's basic-auth app.

The server runs on 127.0.0.1 with a sqlite store, served artifacts and an auth database,
all in tmp_path. Every secret (admin password, Flask secret key, the user's password) is
generated here and reaches the server and the client through the environment or a file
in tmp_path, never a tracked file.
"""

import os
import secrets
import socket
import subprocess
import sys
import time

import mlflow
import numpy as np
import pytest
import requests
from mlflow.tracking import MlflowClient

import lnet
from lnet.models import WeylLaw
from lnet.physics import landscape_potential, weyl_count
from lnet.tracking.pyfunc import log_model
from lnet.tracking.run import setup_experiment

pytestmark = pytest.mark.e2e  # starts a tracking server

ADMIN = "admin"
SEARCH = "/api/2.0/mlflow/experiments/search"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-4000:]


@pytest.fixture
def auth_server(tmp_path):
    """``mlflow server --app-name basic-auth`` on 127.0.0.1; yields its URI and admin login."""
    admin_password = secrets.token_urlsafe(24)
    config = tmp_path / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{tmp_path / 'auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        f"admin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    config.chmod(0o600)
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_TRACKING_", "MLFLOW_AUTH_"))
    }
    env |= {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
    }
    log = open(tmp_path / "server.log", "w+", encoding="utf-8")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--app-name",
            "basic-auth",
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
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            assert server.poll() is None, "server exited:\n" + _tail(log)
            try:
                if requests.get(f"{uri}/health", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.time() < deadline, "server never answered:\n" + _tail(log)
            time.sleep(0.5)
        yield {"uri": uri, "admin": (ADMIN, admin_password), "log": lambda: _tail(log)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


def _create_user(uri: str, admin: tuple[str, str], username: str) -> str:
    password = secrets.token_urlsafe(24)
    res = requests.post(
        f"{uri}/api/2.0/mlflow/users/create",
        json={"username": username, "password": password},
        auth=admin,
        timeout=30,
    )
    assert res.status_code == 200, res.text
    return password


@pytest.mark.slow
def test_basic_auth_server_refuses_strangers_and_keeps_a_users_runs_private(
    auth_server, monkeypatch, tmp_path
):
    uri, admin = auth_server["uri"], auth_server["admin"]
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(key, raising=False)

    # no credentials, wrong credentials: refused before any store is touched
    assert requests.get(f"{uri}{SEARCH}?max_results=1", timeout=30).status_code == 401
    wrong = (ADMIN, admin[1] + "x")
    assert requests.get(f"{uri}{SEARCH}?max_results=1", auth=wrong, timeout=30).status_code == 401
    ok = requests.get(f"{uri}{SEARCH}?max_results=1", auth=admin, timeout=30)
    assert ok.status_code == 200, ok.text
    # only the admin manages users
    assert (
        requests.post(
            f"{uri}/api/2.0/mlflow/users/create",
            json={"username": "mallory", "password": secrets.token_urlsafe(24)},
            timeout=30,
        ).status_code
        == 401
    )

    # a non-admin user logs a run and an lnet model through the server, with credentials
    # from the environment (training through a basic-auth server: the team-server tests)
    alice = ("alice", _create_user(uri, admin, "alice"))
    bob = ("bob", _create_user(uri, admin, "bob"))
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", alice[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", alice[1])
    experiment_id = setup_experiment(uri, "alice-only", None)
    (tmp_path / "config.yaml").write_text("model: weyl\n")
    rng = np.random.default_rng(0)
    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_metric("test_mse", 1.5)
        mlflow.log_artifact(str(tmp_path / "config.yaml"))
        model_uri = log_model(WeylLaw(scale=0.8), rng.random((2, 16)), rng.random((2, 3)))
    run_id = active.info.run_id

    client = MlflowClient(uri)  # authenticated as alice through the environment
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED", auth_server["log"]()
    assert run.data.metrics["test_mse"] == 1.5
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert "config.yaml" in {a.path for a in client.list_artifacts(run_id)}
    assert any((tmp_path / "server-artifacts").rglob("config.yaml"))  # served, not local
    assert not (tmp_path / "mlruns").exists()
    # the logged model downloads through the server with alice's credentials
    V, E = rng.random((3, 16)) + 0.1, rng.uniform(0.0, 2.0, (3, 4))
    np.testing.assert_allclose(
        lnet.load_model(model_uri, tracking_uri=uri).predict_counts(V, E),
        weyl_count(landscape_potential(V), 0.8 * E),
        rtol=1e-12,
    )

    # the run is alice's: strangers get 401, other users 403 (default_permission =
    # NO_PERMISSIONS), the admin may read it
    get_run = f"{uri}/api/2.0/mlflow/runs/get?run_id={run_id}"
    assert requests.get(get_run, timeout=30).status_code == 401
    assert requests.get(get_run, auth=bob, timeout=30).status_code == 403
    assert requests.get(get_run, auth=admin, timeout=30).status_code == 200
    artifact_list = f"{uri}/api/2.0/mlflow/artifacts/list?run_id={run_id}"
    assert requests.get(artifact_list, timeout=30).status_code == 401
    assert requests.get(artifact_list, auth=bob, timeout=30).status_code == 403
    # bob's searches do not even show alice's experiment
    seen = requests.get(f"{uri}{SEARCH}?max_results=100", auth=bob, timeout=30).json()
    assert run.info.experiment_id not in {e["experiment_id"] for e in seen.get("experiments", [])}
