"""Universal nets saved before the 1-D and 2-D classes became one still load and predict
the same numbers (files written by the code of commit f32fdce: tests/models/data/)."""

from pathlib import Path

import numpy as np
import pytest

from lnet.models import UniversalLandscapeNet
from lnet.predict import Predictor, load_net

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name", ["1d", "1d_decider", "2d", "2d_small"])
def test_a_net_saved_by_the_old_classes_predicts_the_same(name):
    net = load_net(DATA / f"legacy_universal_{name}.pt")
    assert isinstance(net, UniversalLandscapeNet)
    assert net.dim == (2 if name.startswith("2d") else 1)
    saved = np.load(DATA / f"legacy_universal_{name}.npz")
    assert np.count_nonzero(saved["pred"]) >= 3  # a comparison of more than zeros
    pred = Predictor(net).predict_counts(saved["V"], saved["E"])
    # float32 nets: the convolution kernels (and so the last bits) depend on the CPU's
    # instruction set; a weight loaded into the wrong place changes counts by O(1)
    np.testing.assert_allclose(pred, saved["pred"], rtol=1e-5, atol=1e-6)
