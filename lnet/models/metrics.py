"""Error metrics, in numpy, shared by training, evaluation and the comparison report."""

from __future__ import annotations

import numpy as np

from lnet.tasks import COUNTING, TASKS


def counting_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MSE (counts², the slides' figure), MAE, max |error| and MAPE (%) of counts.

    ``pred`` (N̂) and ``target`` (N) have the same shape, any shape; every entry weighs
    the same. The MAPE is pooled over all entries with N > 0:

        mape = 100 · Σ_{N>0} |N̂ − N| / N  /  #{N > 0}

    so a potential counts in proportion to its number of energies with N > 0 (see
    :func:`errors_per_potential` for the same metrics split by potential).
    """
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


def errors_per_potential(pred: np.ndarray, target: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """The test MSE and MAPE split by potential, with the weights that pool them back.

    ``pred`` and ``target`` ``(P, m)``: counts N̂, N at m energies (``task`` "counting")
    or the k lowest eigenvalues λ̂, λ (``task`` "eigenvalues", m = k), one row per
    potential p. Returns ``(P,)`` arrays

        mse[p]  = mean_j (pred − target)²                  mse_weight[p]  = m
        mape[p] = 100 · mean_{j ∈ J_p} |pred − target| / |target|
                                                           mape_weight[p] = #J_p

    with J_p every j for eigenvalues and the j with N > 0 for counts (mape[p] = 0 where
    J_p is empty, with weight 0). :func:`pooled` of a metric with its weights is the
    metric of :func:`counting_metrics` / :func:`eigenvalue_metrics` over all P potentials:
    Σ_p w_p · v_p / Σ_p w_p = Σ over all entries / number of entries.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(
            f"pred and target must both have shape (P, m), got {pred.shape} and {target.shape}"
        )
    err = pred - target
    P, m = err.shape
    counted = target > 0 if task == COUNTING else np.ones(err.shape, dtype=bool)
    ape = np.where(counted, np.abs(err) / np.where(counted, np.abs(target), 1.0), 0.0)
    count = counted.sum(axis=1)
    return {
        "mse": np.mean(err**2, axis=1),
        "mse_weight": np.full(P, float(m)),
        "mape": 100 * ape.sum(axis=1) / np.maximum(count, 1),
        "mape_weight": count.astype(np.float64),
    }


def pooled(values: np.ndarray, weights: np.ndarray) -> float:
    """The weighted mean  Σ_p w_p · v_p / Σ_p w_p  of per-potential ``values`` ``(P,)``.

    With the weights of :func:`errors_per_potential` it is the metric over all entries.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    return float(np.sum(w * v) / np.sum(w))


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
    values: np.ndarray,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean over test potentials (the leading axis).

    ``values`` ``(P,)`` holds one number per test potential (e.g. its MSE over its
    energies), or ``(P, S)`` one per potential and training seed; the same potentials
    are resampled for every seed. Without ``weights`` the statistic is the plain mean
    over seeds and potentials. With ``weights`` (``(P,)``, or ``(P, S)`` like ``values``;
    >= 0) it is the seed-mean of the weighted mean over the resampled potentials,

        T = mean_s  Σ_p w_ps · v_ps / Σ_p w_ps,

    which on the sample itself is the pooled metric when v_p is a per-potential mean over
    w_p entries (:func:`errors_per_potential`, :func:`pooled`). Resamples in which some
    seed has Σ w = 0 are left out. Returns (low, high); with one potential both are its value.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or v.shape[0] == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    rng = np.random.default_rng(seed)
    alpha = (1 - level) / 2
    if weights is None:
        per_potential = v.reshape(v.shape[0], -1).mean(axis=1)
        if not np.all(np.isfinite(per_potential)):
            raise ValueError("bootstrap_interval got non-finite values")
        idx = rng.integers(0, len(per_potential), size=(resamples, len(per_potential)))
        means = per_potential[idx].mean(axis=1)
        low, high = np.quantile(means, [alpha, 1 - alpha])
        return float(low), float(high)
    v2 = v.reshape(v.shape[0], -1)  # (P, S)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape not in (v.shape[:1], v.shape):
        raise ValueError(f"weights have shape {w.shape}; values have shape {v.shape}")
    w2 = np.broadcast_to(w.reshape(w.shape[0], -1), v2.shape)
    if not (np.all(np.isfinite(w2)) and np.all(w2 >= 0)):
        raise ValueError("bootstrap_interval needs finite weights >= 0")
    if np.any(w2.sum(axis=0) == 0):
        raise ValueError("bootstrap_interval needs a positive weight for every seed")
    wv = np.where(w2 > 0, w2 * v2, 0.0)  # a value of weight 0 (e.g. no N > 0) does not count
    if not np.all(np.isfinite(wv)):
        raise ValueError("bootstrap_interval got non-finite values")
    idx = rng.integers(0, v2.shape[0], size=(resamples, v2.shape[0]))
    num, den = wv[idx].sum(axis=1), w2[idx].sum(axis=1)  # (resamples, S)
    kept = np.all(den > 0, axis=1)
    stats = (num[kept] / den[kept]).mean(axis=1)
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return float(low), float(high)
