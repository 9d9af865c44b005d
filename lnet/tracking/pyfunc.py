"""The MLflow pyfunc flavour of an lnet model.

The model directory holds ``net.pt`` (class, config, state dict and the input domain
of the training data, :mod:`lnet.domain`; see :func:`lnet.predict.save_net`), so the
loaded :class:`lnet.predict.Predictor` warns about inputs outside that domain.  Generic MLflow consumers call ``predict`` with a
dict ``{"V": (B, n), "E": (B, m)}`` (counting) or ``{"V": (B, n)}`` (eigenvalues);
a 2-D model (``dim = 2``) takes ``{"V": (B, L1, L2), "E": (B, m)}`` (counting) or
``{"V": (B, L1, L2)}`` (eigenvalues; in JSON, V as nested lists, one L1 × L2 grid per
potential);
:func:`load_model` (re-exported as ``lnet.load_model``) unwraps it to a
:class:`lnet.predict.Predictor`. Dependencies point one way: this module imports
:mod:`lnet.predict`, never the reverse.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow.models import ModelSignature
from mlflow.types.schema import Schema, TensorSpec
from torch import nn

import lnet
from lnet.predict import Predictor, load_net, save_net
from lnet.tasks import COUNTING

# loading a model downloads its artifacts: no progress bars for every model loaded
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@contextlib.contextmanager
def _without_type_hint_advice() -> Iterator[None]:
    """Drop MLflow's advice to add type hints to ``predict`` while a model class is made.

    Our ``predict`` takes a dict of arrays, which MLflow's type-hint validation cannot
    describe. MLflow emits the advice under its own ``simplefilter("once")``, so a
    warnings filter cannot silence it; only the display of that one message is dropped.
    """
    show = warnings.showwarning

    def filtered(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if "type hints to the `predict` method" not in str(message):
            show(message, category, filename, lineno, file, line)

    warnings.showwarning = filtered
    try:
        yield
    finally:
        warnings.showwarning = show


with _without_type_hint_advice():

    class LnetPyfunc(mlflow.pyfunc.PythonModel):
        predictor: Predictor

        # no type hints on these two: MLflow would try to validate dict inputs against them
        def load_context(self, context):  # noqa: ANN001, ANN201
            self.predictor = Predictor(load_net(context.artifacts["net"]))

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
            """``{"V": (B, n)[, "E": (B, m)]}`` -> counts (B, m) or eigenvalues (B, k).

            2-D counting models: ``{"V": (B, L1, L2), "E": (B, m)}`` -> counts (B, m).
            Bad input raises MlflowException(INVALID_PARAMETER_VALUE) naming the field, which
            the REST server answers with status 400.
            """
            try:
                fields = ["V", "E"] if self.predictor.task == COUNTING else ["V"]
                v_shape = _batch_shape(self.predictor)
                missing = [f for f in fields if f not in model_input]
                if missing:
                    raise ValueError(
                        f"missing field {missing[0]!r}: this {self.predictor.task} model takes "
                        + (f"V {v_shape} and E (B, m)" if len(fields) == 2 else f"V {v_shape}")
                    )
                V = np.asarray(model_input["V"], dtype=np.float64)
                d = self.predictor.dim
                if d >= 2 and V.ndim != d + 1:  # (B, n) is a 1-D model's batch
                    sides = " × ".join(f"L{i + 1}" for i in range(d))
                    raise ValueError(
                        f"V has shape {V.shape} but this {d}-D model takes a batch of potentials "
                        f"on the periodic {sides} lattice, V {v_shape}"
                    )
                if self.predictor.task == COUNTING:
                    E = np.asarray(model_input["E"], dtype=np.float64)
                    return self.predictor.predict_counts(V, E)
                return self.predictor.predict_eigenvalues(V)
            except (ValueError, TypeError) as exc:
                from mlflow.exceptions import MlflowException
                from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

                raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None


def _batch_shape(predictor: Predictor) -> str:
    """The shape of V the pyfunc model takes, in words: (B, n), (B, L1, L2) in 2-D or
    (B, L1, L2, L3) in 3-D."""
    if predictor.dim == 1:
        return "(B, n)"
    return "(B, " + ", ".join(f"L{i + 1}" for i in range(predictor.dim)) + ")"


def _signature(predictor: Predictor) -> ModelSignature:
    """V (B, n) [+ E (B, m)] -> (B, m) counts or (B, k) eigenvalues, float64.

    2-D models: V (B, L1, L2), 3-D models V (B, L1, L2, L3). B, the sides and m are left free: the model itself
    checks the lattice and answers a wrong size with an error that names it (MLflow's
    own shape check would not); MLflow checks the number of dimensions of V.
    """
    f64 = np.dtype("float64")
    inputs = [TensorSpec(f64, (-1,) * (1 + predictor.dim), "V")]
    if predictor.task == COUNTING:
        inputs.append(TensorSpec(f64, (-1, -1), "E"))
    return ModelSignature(Schema(inputs), Schema([TensorSpec(f64, (-1, -1))]))


# what loading and running a logged model imports (lnet's own code travels with it)
RUNTIME_DISTRIBUTIONS = ("torch", "numpy", "scipy", "numba", "mlflow", "pytorch-lightning", "rich")


def requirements() -> list[str]:
    """Pinned requirements of a logged model: the versions it was trained with."""
    from importlib.metadata import version

    pins = []
    for dist in RUNTIME_DISTRIBUTIONS:
        v = torch.__version__ if dist == "torch" else version(dist)
        pins.append(f"{dist}=={v.split('+')[0]}")
    return pins


def log_model(
    net: nn.Module, example_V: np.ndarray, example_E: np.ndarray | None, name: str = "model"
) -> str:
    """Log ``net`` as a pyfunc model with a signature from a small example; returns its URI."""
    predictor = Predictor(net)
    example = {"V": example_V} if predictor.task != COUNTING else {"V": example_V, "E": example_E}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.pt")
        save_net(net, path)
        with warnings.catch_warnings():  # MLflow asks for type hints it cannot use for dict inputs
            warnings.simplefilter("ignore", UserWarning)
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(Path(__file__).with_name("pyfunc_model.py")),
                input_example=example,
                artifacts={"net": path},
                signature=_signature(predictor),
                pip_requirements=requirements(),
                # the lnet package travels with the model: it loads without a checkout
                code_paths=[str(Path(lnet.__file__).parent)],
            )
    run = mlflow.active_run()
    return f"runs:/{run.info.run_id}/{name}" if run else info.model_uri


@contextlib.contextmanager
def _tracking_store(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI set to ``uri`` for the duration, then put back as it
    was: the URI set in the process (if any) and the ``MLFLOW_TRACKING_URI`` variable.

    MLflow 3 finds a run's logged model through the global URI even when a download is
    given ``tracking_uri``, so loading has to point the global URI at the store. Not
    thread-safe: like ``mlflow.set_tracking_uri``, it changes process-wide state.
    """
    from mlflow.tracking._tracking_service import utils

    previous, variable = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # None unsets the URI and the variable
        if variable is not None:
            os.environ["MLFLOW_TRACKING_URI"] = variable


def load_model(model_uri: str, tracking_uri: str | None = None) -> Predictor:
    """Load a model logged by ``pipelines/train.py``, e.g. ``"runs:/<run_id>/model"``.

    ``runs:/`` and ``models:/`` URIs are looked up in ``tracking_uri`` when given, else
    in lnet's store, found as ``pipelines/train.py`` finds it
    (:func:`lnet.tracking.run.default_tracking_uri`: ``MLFLOW_TRACKING_URI`` when set,
    else the project root's ``mlflow.db``), from any working directory; the registry is
    ``MLFLOW_REGISTRY_URI`` when set, else that store. MLflow's global tracking URI is
    put back as it was afterwards. Returns a :class:`lnet.predict.Predictor`.

    Raises ValueError with the URI when nothing loadable is there (no such run, model
    or path, a run without a model, not an lnet model), naming the store searched; other
    failures (authentication, network) propagate as they are.
    """
    if not isinstance(model_uri, str) or not model_uri:
        raise ValueError(
            f"model_uri must be a non-empty string such as 'runs:/<run_id>/model', got {model_uri!r}"
        )
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    from lnet.tracking.run import default_tracking_uri

    store = tracking_uri or default_tracking_uri()
    try:
        with _tracking_store(store):
            loaded = mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, FileNotFoundError) as exc:
        if isinstance(exc, MlflowException) and exc.error_code != ErrorCode.Name(
            RESOURCE_DOES_NOT_EXIST
        ):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = (
            f" (searched the MLflow store {store}; set MLFLOW_TRACKING_URI or pass "
            "tracking_uri=... to search another)"
            if model_uri.startswith(("runs:", "models:"))
            else ""
        )
        raise ValueError(f"cannot load an lnet model from {model_uri!r}: {first}{where}") from exc
    inner = loaded.unwrap_python_model()
    if not isinstance(inner, LnetPyfunc):
        raise ValueError(
            f"{model_uri!r} is an MLflow model but not an lnet model ({type(inner).__name__})"
        )
    return inner.predictor
