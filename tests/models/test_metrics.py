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
