"""2-D runs end to end: the landscape_net_2d experiment (tiny), its baselines and shape
generalisation, and the config errors that keep 1-D and 2-D pieces apart."""

import subprocess
import sys
import uuid
import warnings

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import lnet
from lnet.config import project_root
from lnet.data.test_sets import lattice_test_set
from lnet.errors import OutOfRangeWarning
from lnet.models import BoxCountingLaw, BoxCountingLaw2D
from lnet.models.metrics import counting_metrics, relative_count_error
from lnet.physics import count_eigenvalues, weyl_count
from lnet.predict import Predictor
from lnet.training import train
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES, config_error_of

# the landscape_net_2d experiment shrunk to seconds: 6×6 lattice, 6/3/3 potentials with 6
# energies and 4 more training potentials at 8×8, a 4-channel net, 2 short epochs, shape
# sets of 2 potentials × 3 energies
TINY_2D_RUN = [
    "experiment=landscape_net_2d",
    "data.shape=[6,6]",
    "data.energies.count=6",
    "data.sizes.train=6",
    "data.sizes.val=3",
    "data.sizes.test=3",
    "data.energies_per_potential=3",
    "data.batch_size=3",
    "data.extra_train=[{shape:[8,8],sizes:{train:4,val:1,test:1},"
    "energies:{mode:spectrum_fraction,count:4,fraction:0.1},batch_size:2}]",
    "model.net.encoder_channels=[4,4]",
    "model.net.dilations=[1,2]",
    "model.net.decider_channels=[8]",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "callbacks.rich_progress_bar=null",
    "eval.shapes=[[8,8],[10,6]]",
    "eval.shape_potentials=2",
    "eval.shape_energies=3",
]
LAWS = ("box", "weyl_continuum", "weyl_lattice")


@pytest.mark.e2e
def test_experiment_cli_run_trains_logs_and_evaluates(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    res = subprocess.run(
        [
            sys.executable,
            str(project_root() / "pipelines" / "train.py"),
            f"paths.data_dir={tmp_path / 'data'}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"logger.tracking_uri={mlflow_store['uri']}",
            f"logger.artifact_root={mlflow_store['artifacts']}",
            *TINY_2D_RUN,
            f"+tags.test_id={test_id}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    client = MlflowClient(mlflow_store["uri"])
    exp = client.get_experiment_by_name("lnet")
    run = client.search_runs([exp.experiment_id], f"tags.test_id = '{test_id}'")[0]
    assert run.info.status == "FINISHED" and run.info.run_id in res.stdout
    assert run.info.run_name.startswith("universal_landscape_net_2d-counting-uniform-6x6-")
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["experiment"] == "landscape_net_2d" and tags["data.name"].startswith(
        "counting-uniform-6x6-"
    )
    assert run.data.params["data.dim"] == "2" and run.data.params["data.shape"] == "[6, 6]"
    assert tags["data.extra_train.0.name"].startswith("counting-uniform-8x8-")
    assert run.data.params["model.loss"] == "poisson"
    expected = {"test_mse", "test_mse_ci_low", "test_rel_err", "law_box_c1", "law_box_c2"}
    expected |= {f"law_{law}_test_{m}" for law in LAWS for m in ("mse", "rel_err", "mape")}
    for shape in ("8x8", "10x6"):
        expected |= {f"shape_{shape}_test_{m}" for m in ("rel_err", "mse", "mse_per_1000")}
        expected |= {f"shape_{shape}_law_{law}_rel_err" for law in LAWS}
    assert expected <= set(metrics), sorted(expected - set(metrics))
    assert all(np.isfinite(metrics[k]) for k in expected)
    assert len(client.get_metric_history(run.info.run_id, "val/mse")) == 2  # per epoch
    artifacts = {
        a.path
        for d in ("", "eval", "generalization", "plots")
        for a in client.list_artifacts(run.info.run_id, d)
    }
    assert {
        "eval/laws.json",
        "generalization/shapes.json",
        "plots/counting_curves.png",
        "plots/landscape_2d.png",
        "plots/scatter_test.png",
        "plots/rel_error_vs_shape.png",
        "plots/counting_curve_8x8.png",
        "checkpoints",
    } <= artifacts
    assert "data/extra_train_0_manifest.json" in {
        a.path for a in client.list_artifacts(run.info.run_id, "data")
    }
    mlflow.set_tracking_uri(mlflow_store["uri"])  # the run was logged by another process
    table = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/generalization/shapes.json")
    assert set(table["shapes"]) == {"8x8", "10x6"} and table["train_shape"] == [6, 6]
    assert table["extra_train_shapes"] == [[8, 8]]
    assert table["shapes"]["10x6"]["n"] == 60 and set(table["shapes"]["10x6"]["laws"]) == set(LAWS)
    # the logged model is a 2-D counting model of any lattice size
    model = lnet.load_model(tags["lnet.model_uri"])
    V = np.random.default_rng(0).random((2, 8, 8))
    E = np.array([[0.3, 0.8, 1.2], [0.5, 0.9, 1.5]])
    assert model.predict_counts(V, E).shape == (2, 3)
    assert model.predict_counts(V[0], E[0]).shape == (3,)
    generic = mlflow.pyfunc.load_model(tags["lnet.model_uri"]).predict({"V": V, "E": E})
    np.testing.assert_allclose(generic, model.predict_counts(V, E))


@pytest.mark.e2e
def test_baselines_and_shapes_are_honest(trained):
    """The logged law and shape metrics recomputed independently from the same data."""
    result = trained(*TINY_2D_RUN)
    m = result.metrics
    dm = result.datamodule
    train_a, test = dm.arrays["train"], dm.arrays["test"]
    net = Predictor(result.module.net)
    pred = net.predict_counts(test["V"], test["E"])
    assert m["test_rel_err"] == pytest.approx(relative_count_error(pred, test["N"]))
    # the box law is the one model=box_counting_2d would fit on the same training split
    box = BoxCountingLaw2D()
    fitted = box.fit(train_a["W"], train_a["E"], train_a["N"])
    assert (m["law_box_c1"], m["law_box_c2"]) == pytest.approx((fitted["c1"], fitted["c2"]))
    box_pred = Predictor(box).predict_counts(test["V"], test["E"])
    assert m["law_box_test_mse"] == pytest.approx(counting_metrics(box_pred, test["N"])["mse"])
    for kind in ("continuum", "lattice"):
        weyl = weyl_count(test["W"], test["E"], dim=2, kind=kind)
        got = m[f"law_weyl_{kind}_test_rel_err"]
        assert got == pytest.approx(relative_count_error(weyl, test["N"]), rel=1e-6)
    # a shape set: the test split of the 2-D spectrum_fraction dataset at that shape
    s = lattice_test_set(dm.spec.potential, (10, 6), 2, 3, dm.spec.seed)
    assert s["V"].shape == (2, 10, 6) and s["spec"].shape == (10, 6)
    np.testing.assert_array_equal(s["N"], count_eigenvalues(s["V"], s["E"], dim=2))
    assert np.all(s["E"] <= s["lambda_top"][:, None]) and np.all(s["E"] >= 0)
    # trained on 6×6 and (data.extra_train) 8×8: the size-free net takes the larger 10×6
    # lattice without a word about its sides, and warns about a smaller one
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shape_pred = net.predict_counts(s["V"], s["E"])
    lattice_stats = {"sites", "L1", "L2"}
    assert not [w for w in caught if getattr(w.message, "statistic", None) in lattice_stats]
    small = np.random.default_rng(5).random((1, 4, 7))
    with pytest.warns(
        OutOfRangeWarning, match=r"side L1 .* 4; .* range is \[6, 8\] \(accepted: \[6, ∞\)\)"
    ):
        net.predict_counts(small, np.array([[0.5]]))
    assert m["shape_10x6_test_rel_err"] == pytest.approx(relative_count_error(shape_pred, s["N"]))
    box_shape = relative_count_error(Predictor(box).predict_counts(s["V"], s["E"]), s["N"])
    assert m["shape_10x6_law_box_rel_err"] == pytest.approx(box_shape)


@pytest.mark.e2e
def test_eval_laws_work_in_1d_too(compose_train):
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["weyl"], *TINY_DATA, "eval.laws=[box,weyl_lattice]")
    result = train(cfg)
    train_a = result.datamodule.arrays["train"]
    fitted = BoxCountingLaw().fit(train_a["W"], train_a["E"], train_a["N"])  # the exact 1-D fit
    assert result.metrics["law_box_c2"] == pytest.approx(fitted["c2"])
    assert {"law_weyl_lattice_test_mse", "test_rel_err"} <= set(result.metrics)
    assert "law_weyl_continuum_test_mse" not in result.metrics


@pytest.mark.parametrize(
    "overrides, key, message",
    [
        (["model=universal_landscape_net_2d"], "model", "is a 2-D model but the data is 1-D"),
        (["data=counting_2d"], "model", "is a 1-D model but the data is 2-D"),
        ([*TINY_2D_RUN, "eval.sizes=[100]"], "eval.sizes", "use eval.shapes"),
        ([*TINY_TRAIN_OVERRIDES["weyl"], "eval.shapes=[[8,8]]"], "eval.shapes", "data=counting_2d"),
        ([*TINY_2D_RUN, "eval.shapes=[[8]]"], "eval.shapes[0]", "must be a shape [L1, L2]"),
        ([*TINY_2D_RUN, "eval.shapes=[[8,8,8]]"], "eval.shapes[0]", "must be a shape [L1, L2]"),
        ([*TINY_2D_RUN, "eval.shapes=[[8,1]]"], "eval.shapes[0][1]", "integer >= 2"),
        ([*TINY_2D_RUN, "eval.laws=[box,boxes]"], "eval.laws[1]", "unknown law 'boxes'"),
        ([*TINY_2D_RUN, "eval.shape_potentials=0"], "eval.shape_potentials", "integer >= 1"),
        ([*TINY_2D_RUN, "data.shape=[6,1]"], "data.shape[1]", "integer >= 2"),
        ([*TINY_2D_RUN, "data.dim=4"], "data.dim", "must be 1, 2 or 3"),
        ([*TINY_2D_RUN, "data.dim=3"], "model", "is a 2-D model but the data is 3-D"),
    ],
)
def test_config_errors_name_the_key(overrides, key, message, compose_train):
    err = config_error_of(compose_train(*overrides))
    assert err.key == key
    assert message in str(err)
