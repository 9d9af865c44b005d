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


def bootstrap_interval(
    values: np.ndarray, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(values)`` over the leading axis.

    ``values`` ``(P,)`` holds one number per test potential (e.g. its MSE over its
    energies), or ``(P, S)`` one per potential and training seed, in which case the
    statistic is the mean over seeds and potentials and the same potentials are
    resampled for every seed. Returns (low, high); with one potential both are its value.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or v.shape[0] == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    per_potential = v.reshape(v.shape[0], -1).mean(axis=1)
    if not np.all(np.isfinite(per_potential)):
        raise ValueError("bootstrap_interval got non-finite values")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per_potential), size=(resamples, len(per_potential)))
    means = per_potential[idx].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)
