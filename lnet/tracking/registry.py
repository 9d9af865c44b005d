"""The MLflow model registry: ``lnet-<model>`` names and the ``champion`` alias.

``register=true`` registers a run's model as ``lnet-<model config name>`` (a new
version per run); ``compare.py --promote`` points the alias ``champion`` at the best
version by a validation metric, so ``lnet.load_model("models:/lnet-<model>@champion")``
loads the current best.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

CHAMPION = "champion"


def registered_name(model: str) -> str:
    """``lnet-<model config name>``, e.g. ``lnet-landscape_net``."""
    return f"lnet-{model}"


def registry_uri() -> str:
    """The registry lnet writes to: ``MLFLOW_REGISTRY_URI`` when the user set it, else the
    current tracking store (the run's own), never a registry URI left behind in-process."""
    return os.environ.get("MLFLOW_REGISTRY_URI") or mlflow.get_tracking_uri()


@contextlib.contextmanager
def _registry_of_this_store() -> Iterator[str]:
    """Point MLflow's process-wide registry URI at :func:`registry_uri` for the block and
    put the previous URI (and ``MLFLOW_REGISTRY_URI``) back afterwards."""
    from mlflow.tracking._model_registry import utils

    uri = registry_uri()
    previous, variable = utils._registry_uri, os.environ.get("MLFLOW_REGISTRY_URI")
    mlflow.set_registry_uri(uri)
    try:
        yield uri
    finally:
        utils._registry_uri = previous
        if variable is None:
            os.environ.pop("MLFLOW_REGISTRY_URI", None)
        else:
            os.environ["MLFLOW_REGISTRY_URI"] = variable


def registry_client() -> mlflow.MlflowClient:
    """A client on the current tracking store and :func:`registry_uri`."""
    return mlflow.MlflowClient(registry_uri=registry_uri())


def register(model_uri: str, model: str) -> Any:
    """Register ``model_uri`` (``runs:/<id>/model``) as a new version of ``lnet-<model>`` in
    :func:`registry_uri`."""
    with _registry_of_this_store(), contextlib.redirect_stdout(io.StringIO()):
        return mlflow.register_model(model_uri, registered_name(model))  # prints a line


def promote(run_ids_by_score: list[tuple[float, str]], model: str) -> Any | None:
    """Set ``champion`` on the registered version of the best run (lowest score).

    Only runs with a registered version of ``lnet-<model>`` compete; returns the
    version promoted, or None when none of the runs was registered. Failures other than
    a missing registered model (authentication, network) raise.
    """
    client = registry_client()
    name = registered_name(model)
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:  # no such model: nothing to promote; auth, network: raise
        if exc.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        return None
    by_run = {v.run_id: v for v in versions}
    for _, run_id in sorted(run_ids_by_score):
        if run_id in by_run:
            version = by_run[run_id]
            client.set_registered_model_alias(name, CHAMPION, version.version)
            return version
    return None
