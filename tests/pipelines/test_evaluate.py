"""pipelines/evaluate.py: several logged models scored on identical generalisation sets."""

import subprocess
import sys

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import lnet
from lnet.config import project_root
from lnet.evaluation import size_test_set
from lnet.training import train
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES

ROOT = project_root()


def test_models_are_scored_on_the_same_sets(tmp_path, compose_train, mlflow_store):
    uris = {}
    for model in ("weyl", "box_counting"):
        result = train(compose_train(*TINY_TRAIN_OVERRIDES[model], *TINY_DATA))
        uris[model] = result.model_uri
    data_dir = tmp_path / "data"
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "evaluate.py"),
            f"models=[{uris['weyl']},{uris['box_counting']}]",
            "labels=[weyl,box]",
            "data.n=32",
            "data.energies.count=6",
            "data.sizes.test=3",
            "eval_sizes=[32,48]",
            "eval_size_potentials=2",
            "eval_size_energies=5",
            "eval_families=[uniform,{family: laplace, loc: 0.5}]",
            f"paths.data_dir={data_dir}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"report_dir={tmp_path / 'reports'}",
            f"logger.tracking_uri={mlflow_store['uri']}",
            f"logger.artifact_root={mlflow_store['artifacts']}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    report = next((tmp_path / "reports").glob("*.md")).read_text()
    assert report.splitlines()[0] == "| metric | weyl | box |"
    for key in (
        "size_48_test_rel_err",
        "family_uniform_test_mse",
        "family_laplace_loc0.5_test_mse",
    ):
        assert f"| {key} |" in report
    client = MlflowClient(mlflow_store["uri"])
    exp = client.get_experiment_by_name("lnet")
    runs = client.search_runs([exp.experiment_id], "tags.`lnet.evaluation` = 'true'")
    by_uri = {r.data.tags["model_uri"]: r for r in runs}
    # the logged numbers are the models' errors on the very same size set
    test = size_test_set({"family": "uniform", "amplitude": 1.0}, 48, 2, 5, 0)
    for uri in uris.values():
        pred = lnet.load_model(uri).predict_counts(test["V"], test["E"])
        mse = float(np.mean((pred - test["N"]) ** 2))
        run = by_uri[uri]
        assert run.info.status == "FINISHED"
        assert run.data.metrics["size_48_test_mse"] == pytest.approx(mse, rel=1e-9)


def test_no_models_is_a_one_line_config_error(tmp_path):
    res = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "evaluate.py"), f"paths.log_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "config error: models: give at least one model URI, e.g. 'models=[runs:/<id>/model]'"
    ]
