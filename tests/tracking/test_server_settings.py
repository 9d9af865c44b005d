"""lnet's side of a team tracking server, without one: the credentials check against a
stand-in that answers 401, the HTTP retry settings, and passwords kept out of the logs.
The real server (PostgreSQL, basic auth, faults) is tests/tracking/test_team_server.py."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time

import mlflow
import pytest

from lnet.cli import precheck
from lnet.errors import ConfigError
from lnet.tracking import server
from lnet.tracking.run import log_config

RETRY_VARIABLES = [variable for variable, _ in server.HTTP_SETTINGS.values()]


class _Refuses(http.server.BaseHTTPRequestHandler):
    """Answers every request as a basic-auth MLflow server answers a wrong password."""

    status = 401
    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append(self.headers.get("Authorization"))
        body = json.dumps({"error_code": "UNAUTHENTICATED", "message": "bad"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def refusing():
    _Refuses.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def clean_env(monkeypatch):
    """None of these variables set, and whatever the code under test sets (the retry
    variables) undone afterwards."""
    for key in (
        *RETRY_VARIABLES,
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.setenv(key, "")  # records the value to restore, even "unset"
        monkeypatch.delenv(key)
    return monkeypatch


def test_a_refused_password_is_one_line_naming_server_status_and_user(refusing, clean_env):
    clean_env.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    clean_env.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-pw")
    with pytest.raises(server.TrackingAccessError) as info:
        server.check_access(refusing + "/")
    message = str(info.value)
    assert message == (
        f"logger.tracking_uri: {refusing} answered HTTP 401 (Unauthorized) to user 'alice': "
        "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
    )
    assert "s3cret-pw" not in message
    assert _Refuses.seen and _Refuses.seen[0].startswith("Basic ")  # it did authenticate
    assert isinstance(info.value, ConfigError)


def test_without_credentials_or_with_a_token_it_says_so(refusing, clean_env):
    with pytest.raises(server.TrackingAccessError, match="to a request without credentials"):
        server.check_access(refusing)
    clean_env.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    with pytest.raises(server.TrackingAccessError, match="the token in MLFLOW_TRACKING_TOKEN"):
        server.check_access(refusing)
    assert _Refuses.seen[-1] == "Bearer tok"


def test_local_stores_and_unreachable_servers_pass_at_once(clean_env):
    t0 = time.monotonic()
    server.check_access("sqlite:///nowhere.db")
    server.check_access(None)
    server.check_access("http://127.0.0.1:9")  # nothing listens: MLflow's retries decide
    assert time.monotonic() - t0 < 5


def test_the_command_line_check_fails_in_one_line_with_exit_2(refusing, clean_env, capsys):
    clean_env.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    clean_env.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
    for argv in (
        [f"logger.tracking_uri={refusing}"],
        ["-m", f"logger.tracking_uri={refusing}", "seed=1,2", "hydra/launcher=joblib"],
    ):
        with pytest.raises(SystemExit) as info:
            precheck("train", argv)
        assert info.value.code == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"config error: logger.tracking_uri: {refusing} answered HTTP 401 (Unauthorized) "
            "to user 'alice': check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        ]


def test_the_command_line_applies_the_retry_settings(clean_env):
    precheck("train", ["-m", "logger.http.max_retries=3", "logger.http.timeout=30", "seed=1,2"])
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "2"  # the default


def test_retry_settings_default_to_the_environment(clean_env):
    from hydra import compose, initialize_config_dir

    from lnet.config import config_dir

    clean_env.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train")
    assert server.apply_http_settings(cfg.logger.http) == {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "120",
    }


@pytest.mark.parametrize(
    ("http", "message"),
    [
        ({"max_retries": 11}, "logger.http.max_retries: must be an integer in [0, 10], got 11"),
        ({"max_retries": -1}, "logger.http.max_retries: must be an integer in [0, 10], got -1"),
        ({"backoff_factor": 1.5}, "logger.http.backoff_factor: must be an integer in [0, 120]"),
        ({"timeout": 0}, "logger.http.timeout: must be an integer >= 1, got 0"),
        ({"retries": 3}, "logger.http.retries: no such setting (allowed: max_retries, "),
    ],
)
def test_bad_retry_settings_name_the_key(http, message, clean_env):
    with pytest.raises(ConfigError) as info:
        server.apply_http_settings(http)
    assert str(info.value).startswith(message)
    assert not any(v in os.environ for v in RETRY_VARIABLES)


def test_null_settings_leave_mlflows_own(clean_env):
    assert server.apply_http_settings({"max_retries": None, "timeout": 60}) == {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"
    }
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            "postgresql+psycopg://lnet:pw@db:5432/mlflow",
            "postgresql+psycopg://lnet:***@db:5432/mlflow",
        ),
        ("https://alice:s3cret@mlflow.example.org", "https://alice:***@mlflow.example.org"),
        ("http://127.0.0.1:5000/x", "http://127.0.0.1:5000/x"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
        ("a: postgresql://u:p@h/d, b: http://h:1", "a: postgresql://u:***@h/d, b: http://h:1"),
    ],
)
def test_passwords_in_uris_are_redacted(text, redacted):
    assert server.redact(text) == redacted


@pytest.mark.slow  # opens MLflow runs in a fresh store (1.2 s)
def test_logged_config_holds_no_password_of_a_uri(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'm.db'}")
    exp = mlflow.create_experiment("redact", artifact_location=str(tmp_path / "art"))
    cfg = OmegaConf.create({"logger": {"tracking_uri": "postgresql://lnet:hunter2@db/mlflow"}})
    with mlflow.start_run(experiment_id=exp) as run:
        log_config(cfg)
    logged = mlflow.get_run(run.info.run_id).data.params
    assert logged["logger.tracking_uri"] == "postgresql://lnet:***@db/mlflow"
    text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/config.yaml")
    assert "hunter2" not in text and "lnet:***@db" in text
