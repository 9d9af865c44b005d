"""The MLflow model registry: ``lnet-<model>`` names and the ``champion`` alias.

``register=true`` registers a run's model as ``lnet-<model config name>`` (a new
version per run); ``compare.py --promote`` points the alias ``champion`` at the best
version by a validation metric, so ``lnet.load_model("models:/lnet-<model>@champion")``
loads the current best.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

CHAMPION = "champion"


def registered_name(model: str) -> str:
    """``lnet-<model config name>``, e.g. ``lnet-landscape_net``."""
    return f"lnet-{model}"


def register(model_uri: str, model: str) -> Any:
    """Register ``model_uri`` (``runs:/<id>/model``) as a new version of ``lnet-<model>``."""
    with contextlib.redirect_stdout(io.StringIO()):  # MLflow prints a line per version
        return mlflow.register_model(model_uri, registered_name(model))


def promote(run_ids_by_score: list[tuple[float, str]], model: str) -> Any | None:
    """Set ``champion`` on the registered version of the best run (lowest score).

    Only runs with a registered version of ``lnet-<model>`` compete; returns the
    version promoted, or None when none of the runs was registered. Failures other than
    a missing registered model (authentication, network) raise.
    """
    client = mlflow.MlflowClient()
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
