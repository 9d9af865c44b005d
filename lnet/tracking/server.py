"""A shared tracking server (``http(s)://``): credentials, HTTP retries, secrets kept out.

- :func:`check_access` makes one authenticated request before anything heavy starts, so
  that a wrong password is one line naming the server and its HTTP status (401, 403),
  not a traceback after the data is built. A server that does not answer at all is left
  to MLflow's retries (it may be restarting).
- :func:`apply_http_settings` turns ``logger.http`` (``conf/logger/mlflow.yaml``) into
  MLflow's ``MLFLOW_HTTP_REQUEST_*`` variables, which every later request reads: how
  often a failed request is retried (connection refused, 408, 429, 500, 502, 503, 504),
  the backoff between tries, and the timeout of one try.
- :func:`redact` hides the password of a ``scheme://user:password@host`` URI in what
  lnet logs (a ``postgresql://`` store URI, say).

Credentials come from the environment only (``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD``, or ``MLFLOW_TRACKING_TOKEN``), as MLflow reads them.
This module imports neither MLflow nor torch: the command lines call it first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from lnet.errors import ConfigError

#: logger.http key -> MLflow's environment variable, the largest value MLflow accepts
HTTP_SETTINGS = {
    "max_retries": ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 10),
    "backoff_factor": ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 120),
    "timeout": ("MLFLOW_HTTP_REQUEST_TIMEOUT", None),
}
CHECK_TIMEOUT_S = 5.0
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@/\s]*@")


class TrackingAccessError(ConfigError):
    """The tracking server refused the credentials (401) or the user (403)."""

    def __init__(self, message: str) -> None:
        super().__init__("logger.tracking_uri", message)


def is_server(tracking_uri: str | None) -> bool:
    """True for a tracking server (``http://`` or ``https://``), not a local store."""
    return str(tracking_uri or "").startswith(("http://", "https://"))


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    return _USERINFO.sub(r"\g<head>:***@", text)


def apply_http_settings(http: Mapping[str, Any] | None) -> dict[str, str]:
    """Set MLflow's HTTP retry variables from ``logger.http``; returns what was set.

    Keys (each optional, ``null`` leaves MLflow's own value): ``max_retries`` (0..10),
    ``backoff_factor`` (seconds, 0..120: the waits between tries are 0, 2·f, 4·f, ...,
    at most 120 s each, plus up to 1 s of jitter) and ``timeout`` (seconds per try, > 0).
    """
    if not http:
        return {}
    unknown = sorted(set(http) - set(HTTP_SETTINGS))
    if unknown:
        raise ConfigError(
            f"logger.http.{unknown[0]}", f"no such setting (allowed: {', '.join(HTTP_SETTINGS)})"
        )
    values: dict[str, str] = {}
    for key, (variable, limit) in HTTP_SETTINGS.items():
        value = http.get(key)
        if value is None:
            continue
        try:
            number = int(str(value))
        except ValueError:
            number = -1
        low = 1 if key == "timeout" else 0
        if number < low or (limit is not None and number > limit):
            allowed = f"an integer >= {low}" if limit is None else f"an integer in [{low}, {limit}]"
            raise ConfigError(f"logger.http.{key}", f"must be {allowed}, got {value!r}")
        values[variable] = str(number)
    os.environ.update(values)
    return values


def check_access(tracking_uri: str | None, timeout: float = CHECK_TIMEOUT_S) -> None:
    """One authenticated request to a tracking server (no retries, ``timeout`` seconds).

    Raises :class:`TrackingAccessError`, one line naming the server and the HTTP status,
    when it answers 401 or 403. Local stores, a server that cannot be reached in time,
    and any other answer pass: MLflow's own requests (and retries) take over.
    """
    if not is_server(tracking_uri):
        return
    import requests

    base = str(tracking_uri).rstrip("/")
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    auth = (user, password) if user and password else None
    headers = {"Authorization": f"Bearer {token}"} if token and auth is None else {}
    verify: bool | str = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or True
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        verify = False
    try:
        response = requests.get(
            f"{base}/api/2.0/mlflow/experiments/search",
            params={"max_results": 1},
            auth=auth,
            headers=headers,
            timeout=timeout,
            verify=verify,
        )
    except requests.RequestException:
        return
    if response.status_code not in (401, 403):
        return
    if auth is not None:
        who = f"user {user!r}"
    elif headers:
        who = "the token in MLFLOW_TRACKING_TOKEN"
    else:
        who = "a request without credentials"
    hint = (
        "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        if response.status_code == 401
        else "ask the server's admin for a permission"
    )
    raise TrackingAccessError(
        f"{redact(base)} answered HTTP {response.status_code} ({response.reason}) to {who}: {hint}"
    )
