"""experiment=universal_landscape_net_2d end to end, shrunk to seconds: the 2-D
weyl-on-the-torus net trains on the universal mixture, is scored on per-law test sets
(one of them a law the mixture never draws) and against the laws, and its family
metrics are recomputed independently from the logged model and the data."""

import numpy as np
import pytest

import lnet
from lnet.data.test_sets import family_test_set
from lnet.models import UniversalLandscapeNet
from lnet.models.metrics import relative_count_error
from lnet.physics import count_eigenvalues, weyl_count
from tests.conftest import TINY_UNIVERSAL_NET

TINY_UNIVERSAL_2D_RUN = (
    "experiment=universal_landscape_net_2d",
    "data.shape=[6,6]",
    "data.energies.count=4",
    "data.sizes.train=8",
    "data.sizes.val=3",
    "data.sizes.test=3",
    "data.energies_per_potential=2",
    "data.batch_size=4",
    "data.extra_train=[{shape:[8,8],sizes:{train:3,val:1,test:1},"
    "energies:{mode:spectrum_fraction,count:3,fraction:0.1},batch_size:3}]",
    *TINY_UNIVERSAL_NET,
    "eval.shapes=null",
    "eval.laws=[weyl_lattice,weyl_torus]",
    "eval.families=[uniform,laplace]",
)


@pytest.mark.e2e
def test_the_universal_2d_experiment_trains_on_the_mixture_and_scores_unseen_laws(trained):
    result = trained(*TINY_UNIVERSAL_2D_RUN)
    m, dm = result.metrics, result.datamodule
    net = result.module.net
    assert isinstance(net, UniversalLandscapeNet) and net.dim == 2
    assert (net.form, net.free_spectrum) == ("weyl", "torus")
    assert dm.spec.law.family == "mixture"
    logged = lnet.load_model(result.model_uri)
    for family in ("uniform", "laplace"):
        test, _ = family_test_set(dm.spec, {"family": family}, dm.data_dir)
        assert test["V"].shape[1:] == (6, 6)
        np.testing.assert_array_equal(test["N"], count_eigenvalues(test["V"], test["E"], dim=2))
        pred = logged.predict_counts(test["V"], test["E"])
        got = m[f"family_{family}_test_rel_err"]
        assert got == pytest.approx(relative_count_error(pred, test["N"]), rel=1e-5)
    for kind in ("lattice", "torus"):
        test = dm.arrays["test"]
        law = weyl_count(test["W"], test["E"], kind=kind, dim=2)
        got = m[f"law_weyl_{kind}_test_rel_err"]
        assert got == pytest.approx(relative_count_error(law, test["N"]), rel=1e-9)
