"""Which MLflow store lnet reads, and which failures it reports as "not found".

``lnet.load_model`` looks runs up in lnet's store (``MLFLOW_TRACKING_URI``, else the
project root's ``mlflow.db``) from any working directory, or in ``tracking_uri=``.
Only a missing run, model or artifact is "not found"; authentication and network
failures propagate from ``load_model``, ``compare.py`` and the registry.
"""

import http.server
import json
import os
import threading

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException

import lnet
from lnet import comparison as compare
from lnet.models import BoxCountingLaw
from lnet.tracking import registry
from lnet.tracking import run as tracking_run
from lnet.tracking.pyfunc import load_model, log_model

_URI_STATE = "mlflow.tracking._tracking_service.utils._tracking_uri"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite store in its own folder with one run holding a logged lnet model."""
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    net = BoxCountingLaw(c1=1.3, c2=0.8, fit=False)
    V = np.random.default_rng(0).random((2, 16)) + 0.1
    E = np.array([[0.2, 0.5, 1.0], [0.3, 0.6, 1.2]])
    with pytest.MonkeyPatch.context() as mp:  # the global tracking URI is put back after
        mp.setattr(_URI_STATE, None)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mlflow.set_tracking_uri(uri)
        exp = mlflow.create_experiment("store-test", artifact_location=str(root / "artifacts"))
        with mlflow.start_run(experiment_id=exp) as run:
            model_uri = log_model(net, V, E)
    expected = lnet.predict.Predictor(net).predict_counts(V, E)
    return {"root": root, "uri": uri, "model_uri": model_uri, "run": run, "V": V, "E": E,
            "expected": expected}  # fmt: skip


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working directory outside the project, and no tracking URI set in the process."""
    monkeypatch.setattr(_URI_STATE, None)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _predicts(predictor, store) -> None:
    got = predictor.predict_counts(store["V"], store["E"])
    np.testing.assert_array_equal(got, store["expected"])


def test_load_model_finds_the_project_store_from_any_folder(store, elsewhere, monkeypatch):
    monkeypatch.setattr(tracking_run, "project_root", lambda: store["root"])
    _predicts(lnet.load_model(store["model_uri"]), store)
    assert not (elsewhere / "mlflow.db").exists()  # no stray store in the working folder
    assert mlflow.get_tracking_uri() == f"sqlite:///{elsewhere / 'mlflow.db'}"  # untouched
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_load_model_follows_mlflow_tracking_uri_from_any_folder(store, elsewhere, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    _predicts(lnet.load_model(store["model_uri"]), store)


def test_load_model_takes_an_explicit_store(store, elsewhere, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere / 'other.db'}")
    _predicts(load_model(store["model_uri"], tracking_uri=store["uri"]), store)
    assert mlflow.get_tracking_uri() == f"sqlite:///{elsewhere / 'other.db'}"


def test_an_unknown_run_names_the_store_searched(store, elsewhere, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    with pytest.raises(ValueError) as info:
        lnet.load_model("runs:/0123456789abcdef/model")
    message = str(info.value)
    assert "Run with id=0123456789abcdef not found" in message
    assert store["uri"] in message
    assert "MLFLOW_TRACKING_URI" in message and "tracking_uri=" in message
    assert isinstance(info.value.__cause__, MlflowException)  # the cause is kept
    with pytest.raises(ValueError, match=r"lnet-nope.*searched the MLflow store"):
        lnet.load_model("models:/lnet-nope@champion")


def test_a_run_without_the_per_potential_file_has_no_interval(store, elsewhere, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    assert compare.per_potential_errors([store["run"].info.run_id]) is None


# -- failures that are not "not found" -------------------------------------------------------
class _Unauthorized(http.server.BaseHTTPRequestHandler):
    """An MLflow server that answers every request 401, as with a wrong token."""

    def _deny(self) -> None:
        body = json.dumps({"error_code": "UNAUTHENTICATED", "message": "bad token"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _deny

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def unauthorized(monkeypatch):
    """The tracking URI of a server that refuses every request with 401."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(_URI_STATE, None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield uri
    server.shutdown()
    server.server_close()


def test_load_model_raises_an_authentication_failure(unauthorized):
    with pytest.raises(MlflowException, match="bad token") as info:
        lnet.load_model("runs:/0123456789abcdef/model")
    assert not isinstance(info.value, ValueError)


def test_load_model_raises_a_network_failure(monkeypatch):
    monkeypatch.setattr(_URI_STATE, None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(MlflowException, match="API request to http://127.0.0.1:9") as info:
        lnet.load_model("runs:/0123456789abcdef/model")
    assert not isinstance(info.value, ValueError)


def test_compare_raises_an_authentication_failure(unauthorized):
    with pytest.raises(MlflowException, match="bad token"):
        compare.per_potential_errors(["0123456789abcdef"])


def test_promote_raises_an_authentication_failure(unauthorized):
    with pytest.raises(MlflowException, match="bad token"):
        registry.promote([(1.0, "0123456789abcdef")], "weyl")


def test_a_pretrained_build_raises_an_authentication_failure(unauthorized):
    """Not "run ... not found": the refusal itself, with its cause."""
    from lnet.pretrained.runs import load_member

    with pytest.raises(MlflowException, match="bad token"):
        load_member("0123456789abcdef", unauthorized)
