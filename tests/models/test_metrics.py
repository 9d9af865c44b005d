"""The numpy metrics: bootstrap intervals over test potentials."""

import numpy as np
import pytest

from lnet.models.metrics import bootstrap_interval


def test_interval_of_identical_values_is_that_value():
    assert bootstrap_interval(np.full(7, 2.5)) == (2.5, 2.5)


def test_interval_covers_the_mean_with_the_normal_theory_width():
    rng = np.random.default_rng(1)
    for P in (100, 1600):
        values = rng.exponential(1.0, P)
        lo, hi = bootstrap_interval(values, seed=3)
        assert lo < values.mean() < hi
        # close to the normal-theory interval mean ± 1.96 s/sqrt(P)
        assert hi - lo == pytest.approx(2 * 1.96 * values.std(ddof=1) / np.sqrt(P), rel=0.15)


def test_seeds_share_the_resampled_potentials():
    """(P, S): the interval is that of the per-potential seed-mean."""
    rng = np.random.default_rng(2)
    per_seed = rng.random((50, 3))
    assert bootstrap_interval(per_seed, seed=5) == bootstrap_interval(per_seed.mean(1), seed=5)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_interval(np.array([]))
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_interval(np.array([1.0, np.nan]))


def _validate(module, loader):
    import pytorch_lightning as pl

    trainer = pl.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu"
    )
    return trainer.validate(module, dataloaders=loader, verbose=False)[0]


def test_torch_counting_metrics_agree_with_numpy(tiny_counting):
    """The epoch metrics logged in training are the numpy evaluation metrics."""
    from lnet.models import BoxCountingLaw, CountingModule
    from lnet.models.metrics import counting_metrics, relative_count_error
    from lnet.predict import Predictor

    net = BoxCountingLaw(c1=1.3, c2=0.8, fit=False)
    logged = _validate(CountingModule(net), tiny_counting.val_dataloader())
    val = tiny_counting.arrays["val"]
    assert (val["N"] == 0).any() and (val["N"] > 0).any()  # MAPE must skip the zeros
    expected = counting_metrics(Predictor(net).predict_counts(val["V"], val["E"]), val["N"])
    for key in ("mse", "mae", "max_abs", "mape"):
        assert logged[f"val/{key}"] == pytest.approx(expected[key], rel=1e-6), key
    rel = relative_count_error(Predictor(net).predict_counts(val["V"], val["E"]), val["N"])
    assert logged["val/rel_err"] == pytest.approx(rel, rel=1e-6)
    # and both are the pooled MAPE, written out entry by entry: every (potential, energy)
    # with N > 0 counts once, whatever its potential
    pred = Predictor(net).predict_counts(val["V"], val["E"])
    ape = [
        abs(p - t) / t
        for p_row, t_row in zip(pred, val["N"], strict=True)
        for p, t in zip(p_row, t_row, strict=True)
        if t > 0
    ]
    assert logged["val/mape"] == pytest.approx(100 * sum(ape) / len(ape), rel=1e-6)


def test_torch_eigenvalue_metrics_agree_with_numpy(tiny_eigen):
    import torch

    from lnet.models import EigenModule, EigenNet
    from lnet.models.metrics import eigenvalue_metrics
    from lnet.predict import Predictor

    torch.manual_seed(0)
    dm = tiny_eigen
    net = EigenNet(n=dm.spec.n, k=dm.spec.k, channels=(4,), hidden=(8,))
    net.set_stats(dm.stats)
    module = EigenModule(net)
    logged = _validate(module, dm.val_dataloader())
    val = dm.arrays["val"]
    expected = eigenvalue_metrics(Predictor(net).predict_eigenvalues(val["V"]), val["eigenvalues"])
    for key in ("mape", "mse"):
        assert logged[f"val/{key}"] == pytest.approx(expected[key], rel=1e-5), key


# -- metrics that compare across lattice lengths ---------------------------------------------
def test_relative_count_error_by_hand():
    from lnet.models.metrics import relative_count_error

    pred = np.array([[0.5, 2.0, 4.0], [1.0, 10.0, 3.0]])
    target = np.array([[0, 1, 4], [2, 8, 3]])
    # |err| / max(N, 1): 0.5/1, 1/1, 0/4, 1/2, 2/8, 0/3 -> mean 2.25 / 6
    assert relative_count_error(pred, target) == pytest.approx(0.375, abs=1e-15)
    assert relative_count_error(pred[0], target[0]) == pytest.approx(0.5, abs=1e-15)
    assert relative_count_error(target, target) == 0.0
    with pytest.raises(ValueError, match="shape"):
        relative_count_error(pred, target[:1])
    with pytest.raises(ValueError, match="at least one"):
        relative_count_error(np.zeros(0), np.zeros(0))


def test_mse_per_1000_sites_by_hand():
    from lnet.models.metrics import mse_per_1000_sites

    pred = np.array([[0.5, 2.0, 4.0], [1.0, 10.0, 3.0]])
    target = np.array([[0, 1, 4], [2, 8, 3]])
    mse = (0.25 + 1 + 0 + 1 + 4 + 0) / 6
    assert mse_per_1000_sites(pred, target, 1000) == pytest.approx(mse, abs=1e-15)
    assert mse_per_1000_sites(pred, target, 250) == pytest.approx(4 * mse, abs=1e-15)
    assert mse_per_1000_sites(pred, target, 100_000) == pytest.approx(mse / 100, abs=1e-15)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            mse_per_1000_sites(pred, target, bad)


def test_generalization_metrics_extend_the_counting_metrics():
    from lnet.models.metrics import counting_metrics, generalization_metrics

    pred = np.array([[0.5, 2.0, 4.0], [1.0, 10.0, 3.0]])
    target = np.array([[0, 1, 4], [2, 8, 3]])
    got = generalization_metrics(pred, target, 500)
    assert got == {
        **counting_metrics(pred, target),
        "rel_err": pytest.approx(0.375),
        "mse_per_1000": pytest.approx(2 * 6.25 / 6),
    }
