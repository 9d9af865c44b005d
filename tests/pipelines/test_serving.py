"""REST serving: `mlflow models serve` answers POST /invocations with lnet's predictions."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import lnet
from tests.conftest import tiny

pytestmark = pytest.mark.e2e  # starts model servers, and trains


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class Server:
    """`mlflow models serve -m <uri> --env-manager local` on 127.0.0.1."""

    def __init__(self, model_uri: str, tracking_uri: str) -> None:
        self.port = _free_port()
        bin_dir = str(Path(sys.executable).parent)  # uvicorn lives beside this python
        env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                model_uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )

    def __enter__(self) -> "Server":
        deadline = time.time() + 180
        while time.time() < deadline:
            assert self.proc.poll() is None, self.proc.communicate()[1][-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        raise AssertionError("the model server did not come up in 180 s")

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=30)


@pytest.mark.slow
def test_served_counting_model_answers_like_load_model(trained, mlflow_store):
    result = trained(*tiny("landscape_net"))
    test = result.datamodule.arrays["test"]
    V, E = test["V"][:3], test["E"][:3]
    expected = lnet.load_model(result.model_uri).predict_counts(V, E)
    with Server(result.model_uri, mlflow_store["uri"]) as server:
        status, body = _post(server.port, {"inputs": {"V": V.tolist(), "E": E.tolist()}})
        assert status == 200, body
        np.testing.assert_allclose(np.array(body["predictions"]), expected, rtol=1e-12)
        # bad requests: 4xx naming what is wrong
        status, body = _post(server.port, {"inputs": {"V": V[:, :60].tolist(), "E": E.tolist()}})
        assert status == 400 and "V has n = 60 sites but this model takes n = 64" in body["message"]
        bad = V.copy()
        bad[1, 7] = -0.5
        status, body = _post(server.port, {"inputs": {"V": bad.tolist(), "E": E.tolist()}})
        assert status == 400 and "V[1, 7] = -0.5 is negative" in body["message"], body
        status, body = _post(server.port, {"inputs": {"V": V.tolist()}})
        assert status == 400 and "'E'" in body["message"], body


@pytest.mark.slow
def test_served_eigenvalue_model_answers_like_load_model(trained, mlflow_store):
    result = trained(*tiny("eigen_net"))
    V = result.datamodule.arrays["test"]["V"][:2]
    expected = lnet.load_model(result.model_uri).predict_eigenvalues(V)
    with Server(result.model_uri, mlflow_store["uri"]) as server:
        status, body = _post(server.port, {"inputs": {"V": V.tolist()}})
        assert status == 200, body
        np.testing.assert_allclose(np.array(body["predictions"]), expected, rtol=1e-12)
