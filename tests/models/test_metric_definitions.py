"""One definition per metric: the per-potential file, its bootstrap interval and the
comparison report all estimate the pooled test metrics of ``counting_metrics``."""

from types import SimpleNamespace

import numpy as np
import pytest

from lnet import comparison as compare
from lnet import training
from lnet.models.metrics import (
    bootstrap_interval,
    counting_metrics,
    eigenvalue_metrics,
    errors_per_potential,
    pooled,
)
from lnet.tasks import COUNTING, EIGENVALUES


def _uneven_counts() -> tuple[np.ndarray, np.ndarray]:
    """20 potentials, 10 energies each: ten with one N > 0 (APE 100 %), ten with nine
    N > 0 (exact). Pooled MAPE: 100 · 10 / (10 + 90) = 10 %; the plain mean of the
    per-potential MAPEs would be 50 %."""
    few = np.r_[np.zeros(9), 1.0]
    many = np.arange(10.0)
    target = np.stack([few] * 10 + [many] * 10)
    pred = target.copy()
    pred[:10, -1] = 2.0
    return pred, target


def _interval_metrics(monkeypatch, task: str, pred: np.ndarray, target: np.ndarray):
    """training._interval_metrics on arrays, with the file it logs captured."""
    logged = {}
    monkeypatch.setattr(
        training.mlflow, "log_dict", lambda d, path: logged.update({path: d}), raising=True
    )
    key = "N" if task == COUNTING else "eigenvalues"
    dm = SimpleNamespace(arrays={"test": {key: target}})
    out = training._interval_metrics(SimpleNamespace(task=task), dm, pred, seed=3)
    return out, logged["eval/test_per_potential.json"]


def test_the_logged_interval_estimates_the_pooled_mape(monkeypatch):
    pred, target = _uneven_counts()
    headline = counting_metrics(pred, target)["mape"]
    assert headline == pytest.approx(10.0)
    out, per = _interval_metrics(monkeypatch, COUNTING, pred, target)
    assert per["mape_weight"] == [1.0] * 10 + [9.0] * 10
    assert pooled(per["mape"], per["mape_weight"]) == pytest.approx(headline, rel=1e-12)
    assert pooled(per["mse"], per["mse_weight"]) == pytest.approx(
        counting_metrics(pred, target)["mse"], rel=1e-12
    )
    assert out["test_mape_ci_low"] <= headline <= out["test_mape_ci_high"]
    assert out["test_mape_ci_high"] < 30  # nowhere near the unweighted 50 %


def test_the_logged_eigenvalue_errors_pool_to_the_eigenvalue_metrics(monkeypatch, rng):
    target = np.sort(rng.uniform(0.1, 2.0, (12, 4)), axis=1)
    pred = target * rng.uniform(0.8, 1.2, target.shape)
    out, per = _interval_metrics(monkeypatch, EIGENVALUES, pred, target)
    expected = eigenvalue_metrics(pred, target)
    for name in ("mse", "mape"):
        assert pooled(per[name], per[f"{name}_weight"]) == pytest.approx(expected[name])
        assert out[f"test_{name}_ci_low"] < expected[name] < out[f"test_{name}_ci_high"]


def test_no_positive_count_gives_no_mape_interval(monkeypatch):
    target = np.zeros((3, 4))
    out, per = _interval_metrics(monkeypatch, COUNTING, target + 0.5, target)
    assert np.isnan(out["test_mape_ci_low"]) and np.isnan(out["test_mape_ci_high"])
    assert out["test_mse_ci_low"] == out["test_mse_ci_high"] == pytest.approx(0.25)
    assert per["mape_weight"] == [0.0] * 3


def test_errors_per_potential_pool_to_the_headline_metrics(rng):
    target = rng.integers(0, 4, (30, 7)).astype(float)  # rows with 0..7 entries N > 0
    pred = target + rng.normal(0, 0.7, target.shape)
    per = errors_per_potential(pred, target, COUNTING)
    assert len(set(per["mape_weight"])) > 3
    assert np.array_equal(per["mape_weight"], (target > 0).sum(axis=1))
    expected = counting_metrics(pred, target)
    for name in ("mse", "mape"):
        assert pooled(per[name], per[f"{name}_weight"]) == pytest.approx(expected[name], rel=1e-12)
    with pytest.raises(ValueError, match=r"\(P, m\)"):
        errors_per_potential(pred[0], target[0], COUNTING)
    with pytest.raises(ValueError, match="task"):
        errors_per_potential(pred, target, "nope")


# -- the weighted bootstrap ------------------------------------------------------------------
def _by_hand(values, weights, seed, resamples=2000, level=0.95):
    """The percentile interval of Σ w·v / Σ w (mean over seeds), one resample at a time."""
    v = np.asarray(values, dtype=float).reshape(len(values), -1)
    w = np.broadcast_to(np.asarray(weights, dtype=float).reshape(len(values), -1), v.shape)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(v), size=(resamples, len(v)))
    stats = []
    for rows in draws:
        ratios = []
        for s in range(v.shape[1]):
            num = sum(w[p, s] * v[p, s] for p in rows)
            den = sum(w[p, s] for p in rows)
            ratios.append(num / den)
        stats.append(sum(ratios) / len(ratios))
    a = (1 - level) / 2
    return tuple(np.quantile(stats, [a, 1 - a]))


def test_weighted_bootstrap_by_hand(rng):
    values = rng.exponential(10.0, 25)
    weights = rng.integers(1, 9, 25).astype(float)
    got = bootstrap_interval(values, seed=4, weights=weights, resamples=500)
    assert got == pytest.approx(_by_hand(values, weights, seed=4, resamples=500), rel=1e-12)


def test_weighted_bootstrap_over_seeds_by_hand(rng):
    values = rng.exponential(10.0, (15, 3))
    weights = rng.integers(1, 9, (15, 3)).astype(float)
    got = bootstrap_interval(values, seed=7, weights=weights, resamples=300)
    assert got == pytest.approx(_by_hand(values, weights, seed=7, resamples=300), rel=1e-12)
    # (P,) weights are shared by every seed
    shared = bootstrap_interval(values, seed=7, weights=weights[:, 0], resamples=300)
    assert shared == pytest.approx(
        _by_hand(values, weights[:, :1], seed=7, resamples=300), rel=1e-12
    )


def test_weighted_bootstrap_special_cases(rng):
    weights = rng.integers(0, 9, 40).astype(float)
    weights[0] = 3.0
    # a constant ratio: every resample has it
    assert bootstrap_interval(np.full(40, 4.5), weights=weights) == pytest.approx((4.5, 4.5))
    # equal weights: the plain mean
    values = rng.random(40)
    assert bootstrap_interval(values, weights=np.full(40, 2.0), seed=1) == pytest.approx(
        bootstrap_interval(values, seed=1), rel=1e-12
    )
    # a value of weight 0 does not count, whatever it is
    v = values.copy()
    v[weights == 0] = np.nan
    assert bootstrap_interval(v, weights=weights, seed=1) == pytest.approx(
        bootstrap_interval(values, weights=weights, seed=1), rel=1e-12
    )
    with pytest.raises(ValueError, match="weights >= 0"):
        bootstrap_interval(values, weights=-weights)
    with pytest.raises(ValueError, match="positive weight"):
        bootstrap_interval(values, weights=np.zeros(40))
    with pytest.raises(ValueError, match="shape"):
        bootstrap_interval(values, weights=weights[:5])


# -- the comparison report reads the same estimator --------------------------------------------
def _tables(monkeypatch, tables):
    by_run = dict(tables)
    monkeypatch.setattr(
        compare.mlflow.artifacts, "load_dict", lambda uri: by_run[uri.split("/")[1]]
    )


def test_compare_bootstraps_the_pooled_mape_over_seeds(monkeypatch, rng):
    pred, target = _uneven_counts()
    runs = []
    for seed in range(3):
        noisy = pred + rng.normal(0, 0.2, pred.shape)
        per = errors_per_potential(noisy, target, COUNTING)
        runs.append((f"run{seed}", {k: v.tolist() for k, v in per.items()}))
    _tables(monkeypatch, runs)
    errors = compare.per_potential_errors([r for r, _ in runs])
    values, weights = errors["mape"]
    assert values.shape == weights.shape == (20, 3)
    seed_means = [pooled(values[:, s], weights[:, s]) for s in range(3)]
    lo, hi = bootstrap_interval(values, weights=weights)
    assert lo <= np.mean(seed_means) <= hi and hi < 30


def test_compare_reads_files_without_weights(monkeypatch, rng):
    old = [
        (f"old{s}", {"mse": rng.random(6).tolist(), "mape": rng.random(6).tolist()}) for s in (1, 2)
    ]
    new_per = errors_per_potential(rng.random((6, 4)), rng.integers(0, 3, (6, 4)), COUNTING)
    new = ("new", {k: v.tolist() for k, v in new_per.items()})
    _tables(monkeypatch, [*old, new])
    errors = compare.per_potential_errors(["old1", "old2"])
    assert errors["mape"][1] is None and errors["mape"][0].shape == (6, 2)
    # old and new runs on the same potentials: the logged weights serve every run
    errors = compare.per_potential_errors(["old1", "new"])
    np.testing.assert_array_equal(errors["mape"][1][:, 0], new_per["mape_weight"])
    np.testing.assert_array_equal(errors["mape"][1][:, 1], new_per["mape_weight"])
