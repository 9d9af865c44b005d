"""Error metrics, in numpy, shared by training, evaluation and the comparison report."""

from __future__ import annotations

import numpy as np


def counting_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MSE (counts², the slides' figure), MAE, max |error|, MAPE (%) over targets > 0."""
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    err = pred - target
    pos = target > 0
    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "max_abs": float(np.max(np.abs(err))),
        "mape": float(100 * np.mean(np.abs(err[pos]) / target[pos])) if pos.any() else float("nan"),
    }


def eigenvalue_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MAPE (%) overall and per eigenvalue index (mape_01 .. mape_k), plus MSE."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    ape = 100 * np.abs(pred - target) / np.abs(target)
    out = {"mape": float(ape.mean()), "mse": float(np.mean((pred - target) ** 2))}
    for j, v in enumerate(ape.mean(axis=0), start=1):
        out[f"mape_{j:02d}"] = float(v)
    return out
