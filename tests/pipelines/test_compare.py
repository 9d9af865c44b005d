import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from lnet import comparison as compare
from lnet.models.metrics import bootstrap_interval
from lnet.predict import Predictor
from lnet.training import train
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES


def test_compare_report_over_seeds(compose_train, mlflow_store, tmp_path):
    metrics, results = [], {"weyl": [], "box_counting": []}
    for seed in (1, 2):
        for model in ("weyl", "box_counting"):
            cfg = compose_train(
                *TINY_TRAIN_OVERRIDES[model],
                *TINY_DATA,
                f"seed={seed}",
                "+tags.experiment=cmp_test",
            )
            result = train(cfg)
            results[model].append(result)
            metrics.append((model, result.metrics["test_mse"]))
    out = tmp_path / "reports"
    code = compare.main(["cmp_test", "--tracking-uri", mlflow_store["uri"], "--out", str(out)])
    assert code == 0
    csv = pd.read_csv(out / "cmp_test" / "comparison.csv")
    assert sorted(csv["model"]) == ["box_counting", "weyl"]
    assert list(csv["runs"]) == [2, 2]
    weyl = csv[csv["model"] == "weyl"].iloc[0]
    values = [m for name, m in metrics if name == "weyl"]
    assert weyl["test_mse_mean"] == sum(values) / 2
    # the interval is over test potentials of the seed-mean, from errors recomputed here
    per_seed = []
    for result in results["weyl"]:
        test = result.datamodule.arrays["test"]
        pred = Predictor(result.module.net).predict_counts(test["V"], test["E"])
        per_seed.append(np.mean((pred - test["N"]) ** 2, axis=1))
    per_seed = np.stack(per_seed, axis=1)
    np.testing.assert_allclose(per_seed.mean(), weyl["test_mse_mean"], rtol=1e-12)
    lo, hi = bootstrap_interval(per_seed)
    assert (weyl["test_mse_ci_low"], weyl["test_mse_ci_high"]) == pytest.approx((lo, hi))
    assert lo <= weyl["test_mse_mean"] <= hi and lo < hi
    md = (out / "cmp_test" / "comparison.md").read_text()
    assert "| weyl | 2 |" in md and "±" in md and "test MSE 95 % CI" in md
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


def test_compare_with_no_matching_runs(mlflow_store, tmp_path, compose_train):
    train(compose_train(*TINY_TRAIN_OVERRIDES["weyl"], *TINY_DATA))  # the experiment exists
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


def test_compare_takes_the_union_of_several_selectors(compose_train, mlflow_store, tmp_path):
    for model, tag in (("weyl", "cmp_union_a"), ("box_counting", "cmp_union_b")):
        train(compose_train(*TINY_TRAIN_OVERRIDES[model], *TINY_DATA, f"+tags.experiment={tag}"))
    out = tmp_path / "reports"
    args = ["cmp_union_a", "cmp_union_b", "--tracking-uri", mlflow_store["uri"], "--out", str(out)]
    assert compare.main([*args, "--no-log"]) == 0
    csv = pd.read_csv(out / "cmp_union_a+cmp_union_b" / "comparison.csv")
    assert sorted(csv["model"]) == ["cmp_union_a: weyl", "cmp_union_b: box_counting"]
    assert list(csv["runs"]) == [1, 1]
    assert compare.main(["cmp_union_a", *args[2:], "--no-log"]) == 0
    assert list(pd.read_csv(out / "cmp_union_a" / "comparison.csv")["model"]) == ["weyl"]


def test_register_promote_and_load_the_champion(compose_train, mlflow_store, tmp_path):
    import lnet
    from lnet.errors import ConfigError

    results = []
    for scale in (0.6, 1.0):
        cfg = compose_train(
            *TINY_TRAIN_OVERRIDES["weyl"],
            *TINY_DATA,
            "model.net.fit_scale=false",
            f"model.net.scale={scale}",
            "register=true",
            "+tags.experiment=cmp_registry",
        )
        results.append(train(cfg))
    client = MlflowClient(mlflow_store["uri"])
    versions = client.search_model_versions("name = 'lnet-weyl'")
    mine = {v.run_id: v for v in versions if v.run_id in {r.run_id for r in results}}
    assert len(mine) == 2
    args = ["cmp_registry", "--tracking-uri", mlflow_store["uri"], "--out", str(tmp_path)]
    assert compare.main([*args, "--no-log", "--promote"]) == 0
    best = min(results, key=lambda r: r.metrics["val_mse"])  # chosen on val, not test
    champion = client.get_model_version_by_alias("lnet-weyl", "champion")
    assert champion.run_id == best.run_id
    model = lnet.load_model("models:/lnet-weyl@champion")
    test = best.datamodule.arrays["test"]
    np.testing.assert_array_equal(
        model.predict_counts(test["V"], test["E"]),
        Predictor(best.module.net).predict_counts(test["V"], test["E"]),
    )
    with pytest.raises(ConfigError, match="register: needs logger.log_model=true"):
        train(
            compose_train(*TINY_TRAIN_OVERRIDES["weyl"], "register=true", "logger.log_model=false")
        )


def test_compare_by_a_swept_key_writes_a_scaling_curve(compose_train, mlflow_store, tmp_path):
    got: dict[int, list[float]] = {8: [], 12: []}
    for train_size, seed in ((8, 1), (8, 2), (12, 1)):
        cfg = compose_train(
            *TINY_TRAIN_OVERRIDES["weyl"],
            *TINY_DATA,
            f"data.sizes.train={train_size}",
            f"seed={seed}",
            "+tags.experiment=cmp_scaling",
        )
        got[train_size].append(train(cfg).metrics["test_mse"])
    out = tmp_path / "reports"
    args = ["cmp_scaling", "--tracking-uri", mlflow_store["uri"], "--out", str(out)]
    code = compare.main([*args, "--by", "data.sizes.train", "--metrics", "test_mse,val_mse"])
    assert code == 0
    curve = pd.read_csv(out / "cmp_scaling" / "scaling.csv")
    assert list(curve["data.sizes.train"]) == [8, 12]  # sorted numerically
    assert list(curve["runs"]) == [2, 1]
    assert curve["test_mse_mean"].tolist() == pytest.approx([np.mean(got[8]), got[12][0]])
    assert curve["test_mse_std"].tolist() == pytest.approx([np.std(got[8], ddof=1), 0.0])
    # the comparison table keeps the values apart too
    rows = pd.read_csv(out / "cmp_scaling" / "comparison.csv").set_index("model")
    assert rows.loc["weyl (data.sizes.train=8)", "runs"] == 2
    assert rows.loc["weyl (data.sizes.train=12)", "test_mse_mean"] == pytest.approx(got[12][0])
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
def test_compare_by_names_a_bad_key_or_metric(
    compose_train, mlflow_store, tmp_path, extra, message
):
    train(compose_train(*TINY_TRAIN_OVERRIDES["weyl"], *TINY_DATA, "+tags.experiment=cmp_bad_by"))
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
