"""A tracking server that dies between a response's headers and its body: the run write
is sent again, a create is not."""

import http.server
import threading

import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lnet.tracking import broken_responses


class _BreaksFirst(http.server.BaseHTTPRequestHandler):
    """Answers ``{}`` (200), except that the first request to each endpoint gets headers
    announcing a body and then a closed connection, as from a SIGKILLed server."""

    protocol_version = "HTTP/1.1"
    seen: list[str]

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        first = self.path not in self.seen
        self.seen.append(self.path)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if first:
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def breaking_server(monkeypatch):
    """(uri, list of request paths) of a server whose first answer per endpoint breaks."""
    handler = type("Handler", (_BreaksFirst,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")  # it always answers: no waits
    monkeypatch.setattr(broken_responses, "WAIT_S", 0.0)
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def installed(monkeypatch):
    """:func:`broken_responses.install` for one test, MLflow's own function afterwards."""
    from mlflow.utils import rest_utils

    monkeypatch.setattr(rest_utils, "http_request", rest_utils.http_request)
    assert broken_responses.install() is True
    assert broken_responses.install() is False  # once per process


def _log_point(uri: str) -> None:
    MlflowClient(uri).log_batch("0123456789abcdef", metrics=[Metric("loss", 1.5, 1000, 3)])


def test_without_the_wrapper_mlflow_fails_the_write(breaking_server):
    uri, seen = breaking_server
    with pytest.raises(MlflowException, match="Connection broken"):
        _log_point(uri)
    assert seen == ["/api/2.0/mlflow/runs/log-batch"]


def test_a_broken_metric_write_is_sent_again(breaking_server, installed):
    uri, seen = breaking_server
    _log_point(uri)
    assert seen == ["/api/2.0/mlflow/runs/log-batch"] * 2


def test_max_retries_0_sends_nothing_twice(breaking_server, installed, monkeypatch):
    uri, seen = breaking_server
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # logger.http.max_retries=0
    with pytest.raises(MlflowException, match="Connection broken"):
        _log_point(uri)
    assert seen == ["/api/2.0/mlflow/runs/log-batch"]


def test_a_broken_create_is_not_sent_again(breaking_server, installed):
    uri, seen = breaking_server
    with pytest.raises(MlflowException, match="Connection broken"):
        MlflowClient(uri).create_experiment("once")
    assert seen == ["/api/2.0/mlflow/experiments/create"]


@pytest.mark.parametrize(
    ("endpoint", "method", "repeatable"),
    [
        ("/api/2.0/mlflow/runs/log-batch", "POST", True),
        ("/api/2.0/mlflow/runs/update", "POST", True),
        ("/api/2.0/mlflow/runs/get", "GET", True),
        ("/api/2.0/mlflow/runs/create", "POST", False),
        ("/api/2.0/mlflow/model-versions/create", "POST", False),
        ("/api/2.0/mlflow/runs/log-inputs", "POST", False),
    ],
)
def test_only_requests_that_can_be_applied_twice_are_repeatable(endpoint, method, repeatable):
    assert broken_responses.is_repeatable(endpoint, method) is repeatable


def test_other_failures_are_not_retried(monkeypatch):
    calls = []

    def refuse(host_creds, endpoint, method, **kwargs):
        calls.append(endpoint)
        raise MlflowException("API request failed: 401 bad token")

    send = broken_responses.with_retries(refuse, sleep=lambda s: None)
    with pytest.raises(MlflowException, match="bad token"):
        send(None, "/api/2.0/mlflow/runs/log-batch", "POST", json={})
    assert calls == ["/api/2.0/mlflow/runs/log-batch"]


def test_a_response_that_keeps_breaking_fails_after_the_retries(monkeypatch):
    from requests.exceptions import ChunkedEncodingError

    calls, waits = [], []

    def breaks(host_creds, endpoint, method, **kwargs):
        calls.append(endpoint)
        try:
            raise ChunkedEncodingError("Connection broken: IncompleteRead(0 bytes read)")
        except ChunkedEncodingError as exc:
            raise MlflowException(f"API request failed with exception {exc}")  # noqa: B904 as MLflow does

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")  # MLflow's default
    send = broken_responses.with_retries(breaks, sleep=waits.append)
    with pytest.raises(MlflowException, match="IncompleteRead"):
        send(None, "/api/2.0/mlflow/runs/log-batch", "POST", json={})
    assert len(calls) == broken_responses.RETRIES + 1
    assert waits == [broken_responses.WAIT_S * k for k in range(1, broken_responses.RETRIES + 1)]
