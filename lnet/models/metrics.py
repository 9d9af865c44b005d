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


def relative_count_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean relative count error, comparable across lattice lengths n.

        rel_err = mean over all entries of |N̂ - N| / max(N, 1)

    ``pred`` (predicted counts N̂) and ``target`` (exact counts N >= 0) have the same
    shape, any shape (``(m,)`` for one potential, ``(P, m)`` for P potentials); every
    entry weighs the same. The floor max(N, 1) keeps energies below the spectrum
    (N = 0) finite: there the absolute error is counted. Unlike the MSE, which grows
    like n² with the counts, it does not depend on n for a model of fixed quality.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if pred.size == 0:
        raise ValueError("relative_count_error needs at least one count")
    return float(np.mean(np.abs(pred - target) / np.maximum(target, 1.0)))


def mse_per_1000_sites(pred: np.ndarray, target: np.ndarray, n: int) -> float:
    """MSE of the counts per 1000 lattice sites:  mse_per_1000 = mean((N̂ - N)²) · 1000 / n.

    ``pred`` and ``target`` have the same shape (any, e.g. ``(P, m)``), counts on a
    lattice of ``n`` sites. At n = 1000 it is the plain MSE, the slides' figure; the
    rescaling makes an error variance that grows linearly with n (independent errors
    per stretch of lattice) comparable across lattice lengths.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer (lattice sites), got {n!r}")
    return float(np.mean((pred - target) ** 2) * 1000.0 / int(n))


def generalization_metrics(pred: np.ndarray, target: np.ndarray, n: int) -> dict[str, float]:
    """:func:`counting_metrics` plus ``rel_err`` (:func:`relative_count_error`) and
    ``mse_per_1000`` (:func:`mse_per_1000_sites`) of counts on a lattice of n sites."""
    out = counting_metrics(pred, target)
    out["rel_err"] = relative_count_error(pred, target)
    out["mse_per_1000"] = mse_per_1000_sites(pred, target, n)
    return out


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
