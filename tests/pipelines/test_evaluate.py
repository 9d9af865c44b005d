"""pipelines/evaluate.py: several logged models scored on identical generalisation sets.

The pipeline's library (:mod:`lnet.evaluation.scoring`) runs in this process (its
``main`` on a composed config, as the command line calls it); one test runs the command
line for its exit status and one-line error. The models scored are the session's shared
tiny runs (e2e), or models logged directly into runs (fast)."""

import subprocess
import sys

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import lnet
from lnet.config import project_root
from lnet.data.test_sets import lattice_test_set
from lnet.evaluation import scoring
from lnet.models import BoxCountingLaw2D
from lnet.physics import box_count
from tests.conftest import compose_config, run_cli_main

ROOT = project_root()


def _evaluate_here(tmp_path, mlflow_store, capsys, *overrides: str):
    """``python pipelines/evaluate.py <overrides>`` in this process: (exit code, stdout
    lines, stderr lines)."""
    cfg = compose_config(
        "evaluate", tmp_path, mlflow_store, f"report_dir={tmp_path / 'reports'}", *overrides
    )
    return run_cli_main(scoring.main, cfg, capsys)


def _evaluate(tmp_path, mlflow_store, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "evaluate.py"),
            f"paths.data_dir={tmp_path / 'data'}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"report_dir={tmp_path / 'reports'}",
            f"logger.tracking_uri={mlflow_store['uri']}",
            f"logger.artifact_root={mlflow_store['artifacts']}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_models_are_scored_on_the_same_sets(tmp_path, mlflow_store, capsys):
    """Two models logged directly into runs (no training): a Weyl law and a box law with
    set constants, scored on the same size and family sets."""
    from lnet.models import BoxCountingLaw, WeylLaw
    from tests.pipelines.test_compare import finished_run

    nets = {"weyl": WeylLaw(scale=1.3), "box_counting": BoxCountingLaw(c1=0.8, c2=1.5)}
    uris = {
        model: "runs:/{}/model".format(
            finished_run(mlflow_store, model=model, experiment="evaluate_direct", net=net)
        )
        for model, net in nets.items()
    }
    code, out, err = _evaluate_here(
        tmp_path,
        mlflow_store,
        capsys,
        f"models=[{uris['weyl']},{uris['box_counting']}]",
        "labels=[weyl,box]",
        "data.n=32",
        "data.energies.count=6",
        "data.sizes.test=3",
        "eval.sizes=[32,48]",
        "eval.size_potentials=2",
        "eval.size_energies=5",
        "eval.families=[uniform,{family: laplace, loc: 0.5}]",
    )
    assert code == 0, err[-20:]
    report = next((tmp_path / "reports").glob("*.md")).read_text()
    assert report.splitlines()[0] == "| metric | weyl | box |"
    for key in (
        "size_48_test_rel_err",
        "family_uniform_test_mse",
        "family_laplace_loc0.5_test_mse",
    ):
        assert f"| {key} |" in report
    (figure,) = (tmp_path / "reports").glob("*.png")  # beside the report, no temp left
    assert figure.stat().st_size > 5000 and f"figure: {figure}" in out
    client = MlflowClient(mlflow_store["uri"])
    exp = client.get_experiment_by_name("lnet")
    runs = client.search_runs([exp.experiment_id], "tags.`lnet.evaluation` = 'true'")
    by_uri = {r.data.tags["model_uri"]: r for r in runs}
    # the logged numbers are the models' errors on the very same size set
    test = lattice_test_set({"family": "uniform", "amplitude": 1.0}, (48,), 2, 5, 0)
    for uri in uris.values():
        pred = lnet.load_model(uri).predict_counts(test["V"], test["E"])
        mse = float(np.mean((pred - test["N"]) ** 2))
        run = by_uri[uri]
        assert run.info.status == "FINISHED"
        assert run.data.metrics["size_48_test_mse"] == pytest.approx(mse, rel=1e-9)


@pytest.mark.e2e
def test_no_models_is_a_one_line_config_error(tmp_path):
    """The command line: exit status 2 and the one line, nothing else."""
    res = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "evaluate.py"), f"paths.log_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "config error: models: give at least one model URI, e.g. 'models=[runs:/<id>/model]' (or eval.laws)"
    ]


# the 2-D data of tests/test_training_2d.py's tiny experiment
TINY_2D_DATA = [
    "data=counting_2d",
    "data.shape=[6,6]",
    "data.energies.count=6",
    "data.sizes.train=6",
    "data.sizes.val=3",
    "data.sizes.test=3",
]


@pytest.mark.e2e
def test_2d_models_and_laws_are_scored_on_the_same_shape_sets(
    tmp_path, trained, mlflow_store, capsys
):
    from tests.test_training_2d import TINY_2D_RUN

    net = trained(*TINY_2D_RUN)
    code, _, err = _evaluate_here(
        tmp_path,
        mlflow_store,
        capsys,
        f"models=[{net.model_uri}]",
        "labels=[net]",
        *TINY_2D_DATA,
        "eval.shapes=[[8,8],[10,6]]",
        "eval.shape_potentials=2",
        "eval.shape_energies=3",
        "eval.laws=[box,weyl_lattice]",
    )
    assert code == 0, err[-20:]
    report = next((tmp_path / "reports").glob("*.md")).read_text()
    assert report.splitlines()[0] == "| metric | net | law_box | law_weyl_lattice |"
    assert "| shape_10x6_test_rel_err |" in report
    client = MlflowClient(mlflow_store["uri"])
    exp = client.get_experiment_by_name("lnet")
    runs = client.search_runs([exp.experiment_id], "tags.`lnet.evaluation` = 'true'")
    by_name = {r.info.run_name: r for r in runs}
    test = lattice_test_set({"family": "uniform", "amplitude": 1.0}, (10, 6), 2, 3, 0)
    assert test["V"].shape == (2, 10, 6)
    net_pred = lnet.load_model(net.model_uri).predict_counts(test["V"], test["E"])
    box = by_name["evaluate-law_box"]
    c1, c2 = float(box.data.tags["law.c1"]), float(box.data.tags["law.c2"])
    box_pred = c1 * box_count(test["W"], c2 * test["E"], dim=2)
    for name, pred in (("evaluate-net", net_pred), ("evaluate-law_box", box_pred)):
        mse = float(np.mean((pred - test["N"]) ** 2))
        assert by_name[name].data.metrics["shape_10x6_test_mse"] == pytest.approx(mse, rel=1e-9)
    # the box law's constants are those a box_counting_2d fit on the same training split finds
    train_a = net.datamodule.arrays["train"]
    fitted = BoxCountingLaw2D().fit(train_a["W"], train_a["E"], train_a["N"])
    assert (fitted["c1"], fitted["c2"]) == pytest.approx((c1, c2), rel=1e-12)


def test_default_sets_are_chosen_by_the_data_dimension(tmp_path, mlflow_store):
    for data, key, value in (
        ("counting", "sizes", [1000, 10000, 100000]),
        ("counting_2d", "shapes", [[32, 32], [64, 64], [128, 128]]),
    ):
        cfg = compose_config("evaluate", tmp_path, mlflow_store, f"data={data}")
        assert scoring.apply_default_sets(cfg) == f"eval.{key}"
        assert cfg.eval[key] == value
    given = compose_config("evaluate", tmp_path, mlflow_store, "eval.families=[uniform]")
    assert scoring.apply_default_sets(given) is None and given.eval.sizes is None


@pytest.mark.slow  # exact counts on the default 128x128 lattice
def test_default_sets_follow_the_data_dimension(tmp_path, mlflow_store, capsys):
    code, out, err = _evaluate_here(
        tmp_path,
        mlflow_store,
        capsys,
        "eval.laws=[weyl_continuum]",
        *TINY_2D_DATA,
        "eval.shape_potentials=1",
        "eval.shape_energies=2",
    )
    assert code == 0, err[-20:]
    assert "sets: eval.shapes=[[32, 32], [64, 64], [128, 128]] (the default for this data)" in out
    report = next((tmp_path / "reports").glob("*.md")).read_text()
    assert "| shape_128x128_test_rel_err |" in report


def test_no_models_is_a_config_error(tmp_path, mlflow_store, capsys):
    code, out, err = _evaluate_here(tmp_path, mlflow_store, capsys)
    assert code == 2 and out == []
    assert err == [
        "config error: models: give at least one model URI, e.g. 'models=[runs:/<id>/model]' (or eval.laws)"
    ]


def test_a_2d_model_on_1d_data_is_a_config_error(tmp_path, mlflow_store, capsys):
    from lnet.models import WeylLaw2D
    from lnet.tracking.pyfunc import log_model

    mlflow.set_tracking_uri(mlflow_store["uri"])
    rng = np.random.default_rng(0)
    with mlflow.start_run(experiment_id=mlflow.create_experiment(f"logged-2d-{tmp_path.name}")):
        uri = log_model(WeylLaw2D(), rng.random((2, 4, 4)) + 0.1, rng.uniform(0, 2, (2, 3)))
    code, _, err = _evaluate_here(
        tmp_path, mlflow_store, capsys, f"models=[{uri}]", "eval.sizes=[32]"
    )
    assert code == 2
    assert err[-1] == (
        f"config error: models: {uri} is a 2-D model but the data is 1-D "
        "(data.dim=1); use data=counting_2d"
    )


def test_report_figure_draws_what_the_results_hold(tmp_path):
    results = {
        "net": {
            "size_1000_test_rel_err": 0.1,
            "size_10000_test_rel_err": 0.12,
            "family_uniform_test_mse": 2.0,
        },
        "fixed_n": {"family_uniform_test_mse": 3.0},  # a fixed-length model: no size line
        "law_box": {"size_1000_test_rel_err": 0.2, "size_10000_test_rel_err": 0.2},
    }
    path = tmp_path / "r.png"
    assert scoring.report_figure(results, path)
    assert path.stat().st_size > 5000 and [p.name for p in tmp_path.iterdir()] == ["r.png"]
    assert not scoring.report_figure({"net": {"test_mse": 1.0}}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()
    shapes = {"net": {"shape_32x32_test_rel_err": 0.2, "shape_64x64_test_rel_err": 0.1}}
    assert scoring.report_figure(shapes, tmp_path / "shapes.png")  # 2-D sets: the same panel
