"""experiment=landscape_net_3d end to end, shrunk to seconds: the 3-D weyl-on-the-torus
net trains, logs, scores every law on the same test set and a larger lattice, and its
metrics are recomputed independently from the logged model and the data."""

import numpy as np
import pytest

import lnet
from lnet.data.test_sets import lattice_test_set
from lnet.models import UniversalLandscapeNet
from lnet.models.metrics import relative_count_error
from lnet.physics import count_eigenvalues, weyl_count
from lnet.predict import Predictor
from tests.conftest import TINY_UNIVERSAL_NET

TINY_3D_RUN = (
    "experiment=landscape_net_3d",
    "data.shape=[4,4,4]",
    "data.energies.count=4",
    "data.sizes.train=6",
    "data.sizes.val=3",
    "data.sizes.test=3",
    "data.energies_per_potential=2",
    "data.batch_size=3",
    "data.extra_train=[{shape:[5,5,5],sizes:{train:3,val:1,test:1},"
    "energies:{mode:spectrum_fraction,count:3,fraction:0.1},batch_size:3}]",
    *TINY_UNIVERSAL_NET,
    "eval.shapes=[[6,5,4]]",
    "eval.shape_potentials=2",
    "eval.shape_energies=3",
)
LAWS = ("box", "weyl_continuum", "weyl_lattice", "weyl_torus", "weyl_shifted", "kpm")


@pytest.mark.e2e
def test_the_3d_experiment_trains_the_torus_weyl_net_and_scores_it_against_every_law(trained):
    result = trained(*TINY_3D_RUN)
    m, dm = result.metrics, result.datamodule
    net = result.module.net
    assert isinstance(net, UniversalLandscapeNet) and net.dim == 3
    assert (net.form, net.free_spectrum) == ("weyl", "torus")
    expected = {"test_mse", "test_mse_ci_low", "test_rel_err"}
    expected |= {f"law_{law}_test_{k}" for law in LAWS for k in ("mse", "rel_err")}
    expected |= {"shape_6x5x4_test_rel_err"} | {f"shape_6x5x4_law_{law}_rel_err" for law in LAWS}
    assert expected <= set(m), sorted(expected - set(m))
    assert all(np.isfinite(m[k]) for k in expected)
    # recomputed: the model's test error, and the parameter-free torus and lattice laws
    test = dm.arrays["test"]
    predictor = Predictor(net)
    pred = predictor.predict_counts(test["V"], test["E"])
    assert m["test_rel_err"] == pytest.approx(relative_count_error(pred, test["N"]))
    for kind in ("lattice", "torus"):
        law = weyl_count(test["W"], test["E"], kind=kind, dim=3)
        got = m[f"law_weyl_{kind}_test_rel_err"]
        assert got == pytest.approx(relative_count_error(law, test["N"]), rel=1e-9)
    # the larger lattice: exact counts, and the model's error on them
    s = lattice_test_set(dm.spec.potential, (6, 5, 4), 2, 3, dm.spec.seed)
    np.testing.assert_array_equal(s["N"], count_eigenvalues(s["V"], s["E"], dim=3))
    shape_pred = predictor.predict_counts(s["V"], s["E"])
    assert m["shape_6x5x4_test_rel_err"] == pytest.approx(relative_count_error(shape_pred, s["N"]))
    torus = relative_count_error(weyl_count(s["W"], s["E"], kind="torus", dim=3), s["N"])
    assert m["shape_6x5x4_law_weyl_torus_rel_err"] == pytest.approx(torus, rel=1e-9)
    # the logged model is the same 3-D net, for any 3-D lattice
    logged = lnet.load_model(result.model_uri)
    np.testing.assert_allclose(logged.predict_counts(test["V"], test["E"]), pred, rtol=1e-5)
    assert logged.predict_counts(np.random.default_rng(0).random((4, 5, 6)), [0.5, 1.0]).shape == (
        2,
    )
