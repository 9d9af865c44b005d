"""Use a trained model: a ``Predictor`` with the shapes of :mod:`lnet.physics`.

``Predictor.predict_counts(V, E)`` takes potentials only: it computes W = 1/u and W'
itself and applies the normalisation stored in the model, exactly as in training.
Models are saved as a small torch file (class name, constructor config, state dict)
and logged to MLflow as a pyfunc model; :func:`load_model` gets one back.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from lnet.physics import landscape_potential, periodic_derivative
from lnet.physics.validation import as_energies, as_potential

COUNTING, EIGENVALUES = "counting", "eigenvalues"


def _net_kind(net: nn.Module) -> str:
    return EIGENVALUES if getattr(net, "task", COUNTING) == EIGENVALUES else COUNTING


def save_net(net: nn.Module, path: str | os.PathLike) -> None:
    """Write class name, constructor config and state dict (no pickled code)."""
    torch.save(
        {"class": type(net).__name__, "config": net.config, "state_dict": net.state_dict()}, path
    )


def load_net(path: str | os.PathLike) -> nn.Module:
    from lnet.models import NETS

    blob = torch.load(path, map_location="cpu", weights_only=True)
    cls = NETS.get(blob.get("class"))
    if cls is None:
        raise ValueError(
            f"{path}: unknown model class {blob.get('class')!r}; known: {sorted(NETS)}"
        )
    net = cls(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    return net.eval()


class Predictor:
    """Predictions from a trained counting model or EigenNet, in float64 numpy."""

    def __init__(self, net: nn.Module, batch_size: int = 256) -> None:
        self.net = net.eval()
        self.kind = _net_kind(net)
        self.batch_size = batch_size

    @property
    def n(self) -> int | None:
        n = getattr(self.net, "n", None)
        return None if n is None else int(n)

    def _potential(self, V: Any) -> np.ndarray:
        Va = as_potential(V)
        if self.n is not None and Va.shape[-1] != self.n:
            raise ValueError(
                f"V has n = {Va.shape[-1]} sites but this model takes n = {self.n} "
                f"(its lattice length); pass potentials of shape (n,) or (B, n) with n = {self.n}"
            )
        return Va

    @torch.no_grad()
    def predict_counts(self, V: Any, E: Any) -> np.ndarray:
        """Predicted N_V(E): V ``(n,)`` with E ``(m,)`` -> ``(m,)``; ``(B, n)``, ``(B, m)`` -> ``(B, m)``."""
        if self.kind != COUNTING:
            raise ValueError("this is an eigenvalue model: use predict_eigenvalues(V)")
        Va = self._potential(V)
        Ea = as_energies(E, Va)
        V2, E2 = np.atleast_2d(Va), np.atleast_2d(Ea)
        W = landscape_potential(V2)
        dW = periodic_derivative(W)
        B, m = E2.shape
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        if getattr(self.net, "multi_energy", False):
            # whole potentials with up to batch_size energies per pass (bounded memory;
            # with m > batch_size a potential is encoded once per chunk of energies)
            out = np.empty((B, m))
            p_step, e_step = max(1, self.batch_size // m), min(m, self.batch_size)
            for s in range(0, B, p_step):
                fields = (t(V2[s : s + p_step]), t(W[s : s + p_step]), t(dW[s : s + p_step]))
                for j in range(0, m, e_step):
                    pred = self.net(*fields, t(E2[s : s + p_step, j : j + e_step]))
                    out[s : s + p_step, j : j + e_step] = pred.double().cpu().numpy()
            return out[0] if Va.ndim == 1 else out
        pot = np.repeat(np.arange(B), m)
        energies = E2.ravel()
        out = np.empty(B * m)
        for s in range(0, B * m, self.batch_size):
            p = pot[s : s + self.batch_size]
            pred = self.net(t(V2[p]), t(W[p]), t(dW[p]), t(energies[s : s + self.batch_size]))
            out[s : s + len(p)] = pred.double().cpu().numpy()
        out = out.reshape(B, m)
        return out[0] if Va.ndim == 1 else out

    @torch.no_grad()
    def predict_eigenvalues(self, V: Any) -> np.ndarray:
        """Predicted k lowest eigenvalues: V ``(n,)`` -> ``(k,)``; ``(B, n)`` -> ``(B, k)``."""
        if self.kind != EIGENVALUES:
            raise ValueError("this is a counting model: use predict_counts(V, E)")
        Va = self._potential(V)
        V2 = np.atleast_2d(Va)
        W = landscape_potential(V2)
        out = []
        for s in range(0, len(V2), self.batch_size):
            pred = self.net(
                torch.from_numpy(V2[s : s + self.batch_size]),
                torch.from_numpy(W[s : s + self.batch_size]),
            )
            out.append(pred.double().cpu().numpy())
        res = np.concatenate(out)
        return res[0] if Va.ndim == 1 else res


def load_model(model_uri: str) -> Predictor:
    """Load a model logged by ``pipelines/train.py``, e.g. ``"runs:/<run_id>/model"``.

    Returns a :class:`Predictor`.  Raises ValueError with the URI when nothing
    loadable is there (wrong URI, run without a model, not an lnet model).
    """
    import mlflow

    from lnet.tracking.pyfunc import LnetPyfunc

    if not isinstance(model_uri, str) or not model_uri:
        raise ValueError(
            f"model_uri must be a non-empty string such as 'runs:/<run_id>/model', got {model_uri!r}"
        )
    try:
        loaded = mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:  # MlflowException, OSError, ...: one clear message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot load an lnet model from {model_uri!r}: {first}") from None
    inner = loaded.unwrap_python_model()
    if not isinstance(inner, LnetPyfunc):
        raise ValueError(
            f"{model_uri!r} is an MLflow model but not an lnet model ({type(inner).__name__})"
        )
    return inner.predictor
