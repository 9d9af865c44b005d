"""lnet: Landscape Net, machine learning of the eigenvalue counting function of random
Schrödinger operators from the localization landscape."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lnet.predict import Predictor


def load_model(model_uri: str, tracking_uri: str | None = None) -> Predictor:
    """Load a trained model (``"runs:/<run_id>/model"``, ``"models:/lnet-<model>@champion"``)
    from ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else the project's ``mlflow.db``;
    see :func:`lnet.tracking.pyfunc.load_model`.

    ``"pretrained:<name>"`` loads a model shipped with lnet (:func:`lnet.pretrained.load`:
    an :class:`lnet.ensemble.EnsemblePredictor` with calibrated intervals; no MLflow).
    """
    if isinstance(model_uri, str) and model_uri.startswith("pretrained:"):
        from lnet.pretrained import load as _load_pretrained

        return _load_pretrained(model_uri.removeprefix("pretrained:"))
    from lnet.tracking.pyfunc import load_model as _load

    return _load(model_uri, tracking_uri)


__all__ = ["__version__", "load_model"]
