"""Retry a tracking-server request whose response broke off mid-body.

MLflow retries a request that could not connect, or whose server answered 429/5xx, with
urllib3's backoff. It does not retry a response that breaks off after its headers, as
when the server is killed between sending the status line and the body: ``requests``
then raises ``ChunkedEncodingError`` ("Connection broken: IncompleteRead") while it
reads the body, outside urllib3's retries, and one metric write ends the training.

Whether the server applied such a request is unknown, so only requests that give the
same result when applied twice are sent again: reads (GET) and the run writes whose
repeat MLflow ignores or overwrites (:data:`IDEMPOTENT_POSTS`: a metric point already
stored is not stored twice, a param or tag of the same value is a no-op, a status
update sets the same status). Creating a run, an experiment or a model version is
never repeated: it could make two.

:func:`install` wraps :func:`mlflow.utils.rest_utils.http_request`, the call every
REST store request goes through; ``lnet.tracking.run.setup_experiment`` installs it for
``http(s)://`` stores.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

#: POST endpoints (suffixes of ``/api/2.0/mlflow/...``) that are safe to send twice
IDEMPOTENT_POSTS = (
    "runs/log-batch",
    "runs/log-metric",
    "runs/log-parameter",
    "runs/set-tag",
    "runs/delete-tag",
    "runs/update",
    "experiments/set-experiment-tag",
)
RETRIES = 3  # each retry first meets MLflow's own connect retries while the server restarts
WAIT_S = 1.0


def retries() -> int:
    """:data:`RETRIES`, or fewer when ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` (``logger.http.
    max_retries``) allows fewer: 0 there means no request is sent twice."""
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES

    return max(0, min(RETRIES, MLFLOW_HTTP_REQUEST_MAX_RETRIES.get()))


def is_repeatable(endpoint: str, method: str) -> bool:
    """True when sending ``method endpoint`` twice has the effect of sending it once."""
    return method.upper() == "GET" or endpoint.rstrip("/").endswith(IDEMPOTENT_POSTS)


def broke_mid_body(exc: BaseException) -> bool:
    """True when ``exc`` (MLflow's wrapper, or the ``requests`` error itself) is a
    response that broke off after its headers."""
    from requests.exceptions import ChunkedEncodingError

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ChunkedEncodingError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def with_retries(request: Callable[..., Any], sleep: Callable[[float], None] = time.sleep):
    """``request`` (``http_request``'s signature) sent up to :func:`retries` more times
    when its response broke off mid-body and the request :func:`is_repeatable`."""

    @functools.wraps(request)
    def send(host_creds: Any, endpoint: str, method: str, *args: Any, **kwargs: Any) -> Any:
        most = retries()
        for attempt in range(most + 1):
            try:
                return request(host_creds, endpoint, method, *args, **kwargs)
            except Exception as exc:
                if attempt == most or not (broke_mid_body(exc) and is_repeatable(endpoint, method)):
                    raise
                sleep(WAIT_S * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    send.lnet_retries_broken_responses = True
    return send


def install() -> bool:
    """Wrap MLflow's ``http_request`` once per process; returns True when it did now."""
    from mlflow.utils import rest_utils

    if getattr(rest_utils.http_request, "lnet_retries_broken_responses", False):
        return False
    rest_utils.http_request = with_retries(rest_utils.http_request)
    return True
