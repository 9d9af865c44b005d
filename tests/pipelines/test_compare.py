"""pipelines/compare.py reads finished runs from MLflow: the runs here are written
directly (the params, metrics, tags and ``eval/test_per_potential.json`` a training run
logs, see ``lnet.training``), so every number in a report is known in advance. One e2e
test trains with ``register=true`` to show what the registry test assumes."""

import os
import shlex

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from lnet import comparison as compare
from lnet.tracking.run import setup_experiment
from tests.conftest import config_error_of, tiny


def experiment_id(store) -> str:
    """The experiment 'lnet' of the session's store, as training creates it."""
    return setup_experiment(store["uri"], "lnet", store["artifacts"])


def finished_run(
    store,
    *,
    model: str,
    experiment: str,
    per_potential: dict[str, list[float]] | None = None,
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    seed: int = 1,
    net=None,
) -> str:
    """A FINISHED run as a training run leaves it: tags ``model``, ``seed`` and
    ``experiment``, flattened config params, final metrics, the per-potential test
    errors (test_mse/test_mape are their means unless given) and, with ``net``, the
    logged model. Returns the run id."""
    from lnet.tracking.pyfunc import log_model

    exp = experiment_id(store)
    metrics = dict(metrics or {})
    if per_potential is not None:
        metrics.setdefault("test_mse", float(np.mean(per_potential["mse"])))
        metrics.setdefault("test_mape", float(np.mean(per_potential["mape"])))
    params = {"seed": str(seed), "model.net.kind": "continuum", **(params or {})}
    tags = {"model": model, "seed": str(seed), "experiment": experiment}
    with mlflow.start_run(experiment_id=exp, run_name=f"{model}-s{seed}", tags=tags) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        if per_potential is not None:
            mlflow.log_dict(per_potential, "eval/test_per_potential.json")
        if net is not None:
            rng = np.random.default_rng(0)
            log_model(net, rng.random((2, 16)) + 0.1, rng.uniform(0.0, 2.0, (2, 5)))
    assert MlflowClient(store["uri"]).get_run(run.info.run_id).info.status == "FINISHED"
    return run.info.run_id


def percentile_bootstrap(values: np.ndarray, resamples: int = 20000) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``values``, by resampling written out here
    (another generator and ten times the resamples of the report's)."""
    rng = np.random.default_rng(987654321)
    means = np.array(
        [rng.choice(values, size=values.size, replace=True).mean() for _ in range(resamples)]
    )
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_compare_report_over_seeds(mlflow_store, tmp_path):
    P = 30
    rng = np.random.default_rng(4)
    # weyl: two seeds scattered around a per-potential error `base`; the interval is that
    # of the seed-mean (= base) over potentials, the same potentials for both seeds
    base = rng.uniform(3.0, 5.0, P)
    spread = rng.uniform(-2.0, 2.0, P)
    weyl_seeds = [base + spread, base - spread]
    # box_counting: the seeds' errors differ per potential, but their mean is 2 on every
    # potential (exact in binary): resampling the same potentials for both seeds gives
    # exactly [2, 2]; resampling the seeds independently would not
    wiggle = np.arange(P) / 8.0 - np.mean(np.arange(P) / 8.0)
    box_seeds = [2.0 + wiggle, 2.0 - wiggle]
    for seed in (1, 2):
        for model, errors in (("weyl", weyl_seeds), ("box_counting", box_seeds)):
            mse = errors[seed - 1]
            finished_run(
                mlflow_store,
                model=model,
                experiment="cmp_test",
                seed=seed,
                per_potential={"mse": mse.tolist(), "mape": (10 * mse).tolist()},
                metrics={"train_mse": 1.0 + seed, "val_mse": 2.0 + seed, "test_mae": 0.5},
            )
    out = tmp_path / "reports"
    code = compare.main(["cmp_test", "--tracking-uri", mlflow_store["uri"], "--out", str(out)])
    assert code == 0
    csv = pd.read_csv(out / "cmp_test" / "comparison.csv")
    assert sorted(csv["model"]) == ["box_counting", "weyl"]
    assert list(csv["runs"]) == [2, 2]
    weyl = csv[csv["model"] == "weyl"].iloc[0]
    test_mse = [float(np.mean(e)) for e in weyl_seeds]
    assert weyl["test_mse_mean"] == pytest.approx(np.mean(base), rel=1e-12)
    assert weyl["test_mse_std"] == pytest.approx(abs(test_mse[0] - test_mse[1]) / np.sqrt(2))
    assert weyl["train_mse_mean"] == 2.5 and weyl["val_mse_mean"] == 3.5
    lo, hi = weyl["test_mse_ci_low"], weyl["test_mse_ci_high"]
    ref_lo, ref_hi = percentile_bootstrap(base)
    assert lo == pytest.approx(ref_lo, abs=0.1 * (ref_hi - ref_lo))
    assert hi == pytest.approx(ref_hi, abs=0.1 * (ref_hi - ref_lo))
    assert lo < np.mean(base) < hi
    # the MAPE interval is the MSE's scaled by 10 (percentiles commute with scaling)
    assert weyl["test_mape_ci_low"] == pytest.approx(10 * lo, rel=1e-12)
    assert weyl["test_mape_ci_high"] == pytest.approx(10 * hi, rel=1e-12)
    box = csv[csv["model"] == "box_counting"].iloc[0]
    assert (box["test_mse_ci_low"], box["test_mse_ci_high"]) == (2.0, 2.0)
    md = (out / "cmp_test" / "comparison.md").read_text()
    assert "| weyl | 2 |" in md and "±" in md and "test MSE 95 % CI" in md
    assert f"[{lo:.3g}, {hi:.3g}]" in md and "[2, 2]" in md
    assert (out / "cmp_test" / "comparison.png").stat().st_size > 1000
    client = MlflowClient(mlflow_store["uri"])
    exp = client.get_experiment_by_name("lnet")
    reports = client.search_runs(
        [exp.experiment_id], "tags.`lnet.report` = 'true' and tags.selector = 'cmp_test'"
    )
    assert len(reports) == 1
    assert {a.path for a in client.list_artifacts(reports[0].info.run_id, "report")} == {
        "report/comparison.md",
        "report/comparison.csv",
        "report/comparison.png",
    }


def test_runs_without_per_potential_errors_get_no_interval(mlflow_store, tmp_path):
    finished_run(mlflow_store, model="weyl", experiment="cmp_no_ci", metrics={"test_mse": 3.0})
    out = tmp_path / "reports"
    args = ["cmp_no_ci", "--tracking-uri", mlflow_store["uri"], "--out", str(out), "--no-log"]
    assert compare.main(args) == 0
    row = pd.read_csv(out / "cmp_no_ci" / "comparison.csv").iloc[0]
    assert row["test_mse_mean"] == 3.0 and np.isnan(row["test_mse_ci_low"])
    assert "| weyl | 1 |" in (out / "cmp_no_ci" / "comparison.md").read_text()


def test_compare_with_no_matching_runs(mlflow_store, tmp_path):
    experiment_id(mlflow_store)  # the experiment exists
    assert (
        compare.main(
            [
                "no_such_experiment_tag",
                "--tracking-uri",
                mlflow_store["uri"],
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )


def test_compare_takes_the_union_of_several_selectors(mlflow_store, tmp_path):
    for model, tag in (("weyl", "cmp_union_a"), ("box_counting", "cmp_union_b")):
        finished_run(mlflow_store, model=model, experiment=tag, metrics={"test_mse": 1.0})
    out = tmp_path / "reports"
    args = ["cmp_union_a", "cmp_union_b", "--tracking-uri", mlflow_store["uri"], "--out", str(out)]
    assert compare.main([*args, "--no-log"]) == 0
    csv = pd.read_csv(out / "cmp_union_a+cmp_union_b" / "comparison.csv")
    assert sorted(csv["model"]) == ["cmp_union_a: weyl", "cmp_union_b: box_counting"]
    assert list(csv["runs"]) == [1, 1]
    assert compare.main(["cmp_union_a", *args[2:], "--no-log"]) == 0
    assert list(pd.read_csv(out / "cmp_union_a" / "comparison.csv")["model"]) == ["weyl"]


def test_promote_aliases_the_best_registered_run_on_val(mlflow_store, tmp_path):
    """Two registered Weyl laws (scales 0.6 and 1.0): the champion is the one with the
    lower val MSE although its test MSE is higher, and loads as that law."""
    import lnet
    from lnet.models import WeylLaw
    from lnet.physics import landscape_potential, weyl_count
    from lnet.tracking.registry import register

    run_ids = {}
    for scale, val_mse, test_mse in ((0.6, 2.0, 9.0), (1.0, 5.0, 1.0)):
        run_id = finished_run(
            mlflow_store,
            model="weyl",
            experiment="cmp_registry",
            metrics={"val_mse": val_mse, "test_mse": test_mse},
            net=WeylLaw(scale=scale),
        )
        register(f"runs:/{run_id}/model", "weyl")  # what register=true does after training
        run_ids[scale] = run_id
    # an unregistered run with a better val score does not compete
    finished_run(mlflow_store, model="weyl", experiment="cmp_registry", metrics={"val_mse": 0.1})
    client = MlflowClient(mlflow_store["uri"])
    mine = [
        v
        for v in client.search_model_versions("name = 'lnet-weyl'")
        if v.run_id in run_ids.values()
    ]
    assert len(mine) == 2
    args = ["cmp_registry", "--tracking-uri", mlflow_store["uri"], "--out", str(tmp_path)]
    assert compare.main([*args, "--no-log", "--promote"]) == 0
    champion = client.get_model_version_by_alias("lnet-weyl", "champion")
    assert champion.run_id == run_ids[0.6]
    model = lnet.load_model("models:/lnet-weyl@champion")
    rng = np.random.default_rng(1)
    V, E = rng.random((3, 16)) + 0.1, rng.uniform(0.0, 2.0, (3, 4))
    np.testing.assert_allclose(
        model.predict_counts(V, E), weyl_count(landscape_potential(V), 0.6 * E), rtol=1e-12
    )


def test_register_writes_to_the_runs_store_unless_mlflow_registry_uri_says_otherwise(
    mlflow_store, tmp_path, monkeypatch
):
    """A process-wide registry URI left behind (here: another store) is not followed;
    ``MLFLOW_REGISTRY_URI`` set by the user is; either way MLflow's global registry URI
    is as it was afterwards."""
    from mlflow.tracking._model_registry import utils

    from lnet.models import WeylLaw
    from lnet.tracking.registry import register

    other = f"sqlite:///{tmp_path / 'other-registry.db'}"
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setattr(utils, "_registry_uri", other)  # as a stopped server's handlers leave it
    run_id = finished_run(mlflow_store, model="weyl", experiment="cmp_reg_uri", net=WeylLaw())
    version = register(f"runs:/{run_id}/model", "weyl")
    assert MlflowClient(mlflow_store["uri"], registry_uri=mlflow_store["uri"]).get_model_version(
        "lnet-weyl", version.version
    ).run_id == (run_id)
    assert utils._registry_uri == other and "MLFLOW_REGISTRY_URI" not in os.environ

    monkeypatch.setattr(utils, "_registry_uri", None)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", other)
    version = register(f"runs:/{run_id}/model", "weyl")
    assert (
        MlflowClient(mlflow_store["uri"], registry_uri=other)
        .get_model_version("lnet-weyl", version.version)
        .run_id
        == run_id
    )
    assert int(version.version) == 1  # the other store's first version of lnet-weyl
    assert utils._registry_uri is None and os.environ["MLFLOW_REGISTRY_URI"] == other


def test_register_needs_a_logged_model(compose_train):
    err = config_error_of(compose_train(*tiny("weyl", "register=true", "logger.log_model=false")))
    assert "register: needs logger.log_model=true" in str(err)


@pytest.mark.e2e
def test_training_with_register_true_registers_a_version(compose_train, mlflow_store):
    import lnet
    from lnet.training import train

    result = train(compose_train(*tiny("weyl", "register=true")))
    client = MlflowClient(mlflow_store["uri"])
    (version,) = [
        v for v in client.search_model_versions("name = 'lnet-weyl'") if v.run_id == result.run_id
    ]
    tags = client.get_run(result.run_id).data.tags
    assert tags["lnet.registered"] == f"lnet-weyl/{version.version}"
    test = result.datamodule.arrays["test"]
    np.testing.assert_array_equal(
        lnet.load_model(f"models:/lnet-weyl/{version.version}").predict_counts(
            test["V"], test["E"]
        ),
        lnet.load_model(result.model_uri).predict_counts(test["V"], test["E"]),
    )


def test_compare_by_a_swept_key_writes_a_scaling_curve(mlflow_store, tmp_path):
    # test MSE per run: 1 and 3 at data.sizes.train=8 (mean 2, std √2), 0.5 at 12
    for train_size, seed, test_mse in ((8, 1, 1.0), (8, 2, 3.0), (12, 1, 0.5)):
        finished_run(
            mlflow_store,
            model="weyl",
            experiment="cmp_scaling",
            seed=seed,
            params={"data.sizes.train": str(train_size)},
            metrics={"test_mse": test_mse, "val_mse": 2 * test_mse},
        )
    out = tmp_path / "reports"
    args = ["cmp_scaling", "--tracking-uri", mlflow_store["uri"], "--out", str(out)]
    code = compare.main([*args, "--by", "data.sizes.train", "--metrics", "test_mse,val_mse"])
    assert code == 0
    curve = pd.read_csv(out / "cmp_scaling" / "scaling.csv")
    assert list(curve["data.sizes.train"]) == [8, 12]  # sorted numerically
    assert list(curve["runs"]) == [2, 1]
    assert curve["test_mse_mean"].tolist() == pytest.approx([2.0, 0.5])
    assert curve["test_mse_std"].tolist() == pytest.approx([np.sqrt(2.0), 0.0])
    assert curve["val_mse_mean"].tolist() == pytest.approx([4.0, 1.0])
    # the comparison table keeps the values apart too
    rows = pd.read_csv(out / "cmp_scaling" / "comparison.csv").set_index("model")
    assert rows.loc["weyl (data.sizes.train=8)", "runs"] == 2
    assert rows.loc["weyl (data.sizes.train=12)", "test_mse_mean"] == pytest.approx(0.5)
    md = (out / "cmp_scaling" / "scaling.md").read_text()
    assert "| weyl | 8 | 2 |" in md and "±" in md
    assert (out / "cmp_scaling" / "scaling.png").stat().st_size > 1000
    client = MlflowClient(mlflow_store["uri"])
    exp = client.get_experiment_by_name("lnet")
    (report,) = client.search_runs(
        [exp.experiment_id], "tags.`lnet.report` = 'true' and tags.selector = 'cmp_scaling'"
    )
    logged = {a.path for a in client.list_artifacts(report.info.run_id, "report")}
    assert {"report/scaling.md", "report/scaling.csv", "report/scaling.png"} <= logged


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--by", "data.no_such_key"], "--by data.no_such_key: no selected run logged"),
        (["--by", "model._target_"], "--by model._target_: not a number"),
        (
            ["--by", "data.sizes.train", "--metrics", "test_mse,nope"],
            "--metrics: no selected run logged nope",
        ),
    ],
)
def test_compare_by_names_a_bad_key_or_metric(mlflow_store, tmp_path, extra, message):
    finished_run(
        mlflow_store,
        model="weyl",
        experiment="cmp_bad_by",
        params={"data.sizes.train": "8", "model._target_": "lnet.models.CountingModule"},
        metrics={"test_mse": 1.0, "val_mse": 1.0},
    )
    out = tmp_path / "reports"
    with pytest.raises(SystemExit, match=message):
        compare.main(
            [
                "cmp_bad_by",
                "--tracking-uri",
                mlflow_store["uri"],
                "--out",
                str(out),
                "--no-log",
                *extra,
            ]
        )
    assert not (out / "cmp_bad_by").exists()  # nothing half-written


def test_filter_keeps_only_the_selected_runs_that_match_it(mlflow_store, tmp_path):
    for epochs, mse in (("24", 4.0), ("24", 6.0), ("64", 2.0)):
        finished_run(
            mlflow_store,
            model="universal_landscape_net",
            experiment="cmp_filter",
            metrics={"test_mse": mse},
            params={"trainer.max_epochs": epochs},
        )
    out = tmp_path / "reports"
    args = ["cmp_filter", "--tracking-uri", mlflow_store["uri"], "--out", str(out), "--no-log"]
    assert compare.main([*args, "--filter", "params.`trainer.max_epochs` = '24'"]) == 0
    csv = pd.read_csv(out / "cmp_filter" / "comparison.csv")
    assert list(csv["runs"]) == [2] and csv["test_mse_mean"].tolist() == [5.0]
    page = tmp_path / "page.md"
    filt = "params.`trainer.max_epochs` = '64'"
    assert compare.main([*args, "--filter", filt, "--page", str(page)]) == 0
    text = page.read_text()
    command = next(line for line in text.splitlines() if line.startswith("python pipelines"))
    assert shlex.split(command)[3:5] == ["--filter", filt]  # the page's command reruns it
    assert "universal_landscape_net | 1 |" in text
    assert compare.main([*args, "--filter", "params.`trainer.max_epochs` = '12'"]) == 1


def test_a_bad_filter_is_named(mlflow_store):
    experiment_id(mlflow_store)
    with pytest.raises(SystemExit, match="--filter 'params.x ==== 1'"):
        compare.main(["--filter", "params.x ==== 1", "--tracking-uri", mlflow_store["uri"]])
