"""Generalisation tests (lnet.evaluation): other lattice lengths, other potential families,
and the Predictor's lattice-length rule behind them."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from lnet.data.families import make_law
from lnet.errors import ConfigError
from lnet.evaluation import (
    check_config,
    check_sizes,
    default_label,
    evaluate_sizes,
    family_entries,
    held_out_reason,
    shape_test_set,
    size_test_set,
)
from lnet.models.metrics import bootstrap_interval
from lnet.models.protocol import COUNTING, LnetModel
from lnet.physics import (
    box_count,
    count_eigenvalues,
    landscape_potential,
    weyl_count,
)
from lnet.predict import Predictor
from tests.conftest import config_error_of, tiny


# -- the Predictor's lattice length ----------------------------------------------------------
class _SizeFree(LnetModel):
    """A counting model of any lattice length: N̂ = Σ_x (E - W(x))_+."""

    task = COUNTING

    def __init__(self, n: int | None = None) -> None:
        super().__init__()
        self.n = n

    def forward(self, V, W, dW, E):  # noqa: ANN001, ANN201
        En = E if E.ndim == 2 else E[:, None]
        out = torch.clamp(En[:, :, None] - W[:, None, :], min=0).sum(-1)
        return out if E.ndim == 2 else out[:, 0]


class _NoLength(_SizeFree):
    """No ``n`` attribute at all."""

    def __init__(self) -> None:
        super().__init__()
        del self.n


@pytest.mark.parametrize("net", [_SizeFree(None), _NoLength()], ids=["n=None", "no n"])
def test_a_size_free_model_takes_any_lattice_length(net):
    p = Predictor(net)
    assert p.n is None
    rng = np.random.default_rng(0)
    for n in (3, 5, 64, 1001):
        assert p.accepts(n)
        V = rng.random((2, n)) + 0.1
        E = rng.uniform(0, 2, (2, 4))
        W = landscape_potential(V)
        expected = np.maximum(E[:, :, None] - W[:, None, :], 0).sum(-1)
        np.testing.assert_allclose(p.predict_counts(V, E), expected, rtol=1e-12)
    assert not p.accepts(2)
    with pytest.raises(ValueError, match="n >= 3"):
        p.predict_counts(np.ones(2), [0.1])


def test_a_fixed_length_model_keeps_its_clear_error():
    from lnet.models import PaperLandscapeNet

    p = Predictor(PaperLandscapeNet(n=64, box_strides=(4, 4, 4)))
    assert p.n == 64 and p.accepts(64) and not p.accepts(128)
    with pytest.raises(ValueError, match="n = 128 sites but this model takes n = 64"):
        p.predict_counts(np.ones(128), [0.1])
    # a size-free model that says so with n = None is not caught by the rule
    assert Predictor(_SizeFree(64)).n == 64 and not Predictor(_SizeFree(64)).accepts(65)


def test_the_landscape_laws_are_size_free():
    """The laws carry no lattice length and their math is defined on any lattice: the
    predictor gives exactly the physics functions at every n, and the Weyl sum of a
    potential repeated k times (whose landscape is the repeated landscape) is k times
    the Weyl sum of one copy."""
    from lnet.models import BoxCountingLaw, WeylLaw

    rng = np.random.default_rng(1)
    box, weyl = BoxCountingLaw(c1=1.3, c2=0.7, fit=False), WeylLaw(kind="lattice")
    for net in (box, weyl):
        assert not hasattr(net, "n") and Predictor(net).n is None
    for n in (3, 32, 500):
        V = rng.random((2, n))
        E = rng.uniform(0, 1, (2, 6))
        W = landscape_potential(V)
        np.testing.assert_array_equal(
            Predictor(box).predict_counts(V, E), 1.3 * box_count(W, 0.7 * E)
        )
        np.testing.assert_array_equal(
            Predictor(weyl).predict_counts(V, E), weyl_count(W, E, kind="lattice")
        )
    V = rng.random(40)
    E = np.array([0.05, 0.2, 0.8])
    one, three = (
        Predictor(weyl).predict_counts(V, E),
        Predictor(weyl).predict_counts(np.tile(V, 3), E),
    )
    np.testing.assert_allclose(three, 3 * one, rtol=1e-9)


# -- config ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "entries, key",
    [
        (["uniform", {"family": "nope"}], r"eval_families\[1\]\.family: unknown family"),
        ([{"family": "uniform", "amplitude": -1}], r"eval_families\[0\]\.amplitude: must be > 0"),
        ([{"family": "uniform", "wobble": 2}], r"eval_families\[0\]\.wobble: unknown parameter"),
        ([{"amplitude": 2}], r"eval_families\[0\]\.family: unknown family None"),
        ([3], r"eval_families\[0\]: must be a family name or a mapping"),
        (["mixture"], r"eval_families\[0\]\.family: must be a single family"),
        (["uniform", {"family": "uniform"}], r"eval_families\[1\]: label 'uniform' is already"),
        ([{"family": "uniform", "label": ""}], r"eval_families\[0\]\.label"),
        ("uniform", r"eval_families: must be a list"),
    ],
)
def test_bad_family_entries_name_their_key(entries, key):
    with pytest.raises(ConfigError, match=key):
        family_entries(entries)


def test_family_entries_and_labels():
    entries = family_entries(
        [
            "laplace",
            {"family": "uniform", "amplitude": 20},
            {"family": "bernoulli", "p": 0.25, "amplitude": 1e6},
            {"family": "normal", "loc": -1.5, "label": "normal below zero!"},
        ]
    )
    assert [e.label for e in entries] == [
        "laplace",
        "uniform_amplitude20",
        "bernoulli_p0.25_amplitude1e06",
        "normal_below_zero",
    ]
    assert entries[1].law.params == {"amplitude": 20.0}
    assert entries[3].law.params == {"loc": -1.5, "amplitude": 1.0}
    assert default_label(make_law({"family": "speckle"})) == "speckle"


def test_held_out_by_family_or_by_parameter_range():
    mixture = make_law(
        {
            "family": "mixture",
            "components": {"uniform": {"amplitude": [0.5, 2.0]}, "bernoulli": {"p": [0.2, 0.8]}},
        }
    )
    assert held_out_reason(make_law({"family": "uniform", "amplitude": 1.5}), mixture) is None
    assert "amplitude = 3 outside" in held_out_reason(
        make_law({"family": "uniform", "amplitude": 3}), mixture
    )
    assert "p = 0.9 outside the training value [0.2, 0.8]" in held_out_reason(
        make_law({"family": "bernoulli", "p": 0.9}), mixture
    )
    assert "not drawn in training" in held_out_reason(make_law({"family": "laplace"}), mixture)
    log_uniform = make_law(
        {"family": "mixture", "components": {"uniform": {"amplitude": {"log_uniform": [0.1, 10]}}}}
    )
    assert held_out_reason(make_law({"family": "uniform", "amplitude": 10}), log_uniform) is None
    assert "amplitude = 20 outside the training value [0.1, 10]" in held_out_reason(
        make_law({"family": "uniform", "amplitude": 20}), log_uniform
    )
    single = make_law({"family": "uniform"})
    assert held_out_reason(make_law({"family": "uniform"}), single) is None
    assert "outside the training value 1" in held_out_reason(
        make_law({"family": "uniform", "amplitude": 20}), single
    )


def test_eval_sizes_config():
    assert check_sizes([100000.0, 32, 64, 32]) == [32, 64, 100000]  # 1e5 from the command line
    assert check_sizes(None) == []
    with pytest.raises(ConfigError, match=r"eval_sizes\[1\]: must be an integer >= 3, got 2"):
        check_sizes([32, 2])
    with pytest.raises(ConfigError, match=r"eval_sizes\[0\]"):
        check_sizes(["big"])
    with pytest.raises(ConfigError, match="eval_sizes: must be a list"):
        check_sizes(1000)
    with pytest.raises(ConfigError, match="eval_size_potentials"):
        check_config({"eval_sizes": [32], "eval_size_potentials": 0}, COUNTING)
    with pytest.raises(ConfigError, match="eval_sizes: needs a counting model"):
        check_config({"eval_sizes": [32]}, "eigenvalues")
    with pytest.raises(ConfigError, match="eval_families: needs a counting model"):
        check_config({"eval_families": ["uniform"]}, "eigenvalues")
    check_config({"eval_sizes": None, "eval_families": None}, "eigenvalues")


# -- the size test sets --------------------------------------------------------------------
def test_size_test_set_is_the_dataset_builders_test_split(data_dir):
    """Independent check against the dataset builder, which brackets every level below
    λ_⌈0.1 n⌉ (lowest_eigenvalues) instead of bisecting for that one level."""
    from lnet.data import CountingDataModule

    potential = {"family": "exponential", "amplitude": 0.5}
    got = size_test_set(potential, 90, 3, 6, seed=4)
    dm = CountingDataModule(
        n=90,
        potential=potential,
        energies={"mode": "spectrum_fraction", "count": 6, "fraction": 0.1},
        sizes={"train": 1, "val": 1, "test": 3},
        seed=4,
        data_dir=data_dir,
        show_progress=False,
    )
    ref = dm.load().arrays["test"]
    assert got["spec"].key == dm.spec.key
    np.testing.assert_array_equal(got["V"], ref["V"])
    np.testing.assert_array_equal(got["W"], ref["W"])
    np.testing.assert_allclose(got["E"], ref["E"], rtol=1e-11)
    np.testing.assert_array_equal(got["N"], ref["N"])
    np.testing.assert_array_equal(got["N"], count_eigenvalues(got["V"], got["E"]))
    assert np.all(got["E"] <= got["lambda_top"][:, None])


# one tiny Weyl-law run with both generalisation tests, shared by the tests below
WEYL_EVAL = tiny(
    "weyl",
    "logger.log_model=false",
    "eval_sizes=[96,32,64]",
    "eval_size_potentials=3",
    "eval_size_energies=5",
    "eval_families=[uniform,{family:uniform,amplitude:20},{family:laplace,loc:0.5,label:lap}]",
)


@pytest.mark.e2e
def test_eval_sizes_logs_metrics_table_and_plots(trained, mlflow_store):
    result = trained(*WEYL_EVAL)
    client = MlflowClient(mlflow_store["uri"])
    logged = client.get_run(result.run_id).data.metrics
    for n in (32, 64, 96):
        for k in ("rel_err", "mse_per_1000", "mse", "mae"):
            assert f"size_{n}_test_{k}" in logged, (n, k)
    table = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/generalization/sizes.json")
    assert table["train_n"] == 64 and list(table["sizes"]) == ["32", "64", "96"]
    assert table["energies"] == {"mode": "spectrum_fraction", "count": 5, "fraction": 0.1}
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert {"plots/rel_error_vs_n.png", "plots/counting_curve_n96.png"} <= plots
    assert "eval_sizes.not_applicable" not in client.get_run(result.run_id).data.tags

    # the numbers are honest: recompute them from the dataset builder's sets, by hand
    from lnet.data import CountingDataModule

    predictor = Predictor(result.module.net)
    dm = result.datamodule
    for n in (32, 64, 96):
        ref = CountingDataModule(
            n=n,
            potential=dm.spec.potential,
            energies={"mode": "spectrum_fraction", "count": 5, "fraction": 0.1},
            sizes={"train": 1, "val": 1, "test": 3},
            seed=dm.spec.seed,
            data_dir=dm.data_dir,
            show_progress=False,
        )
        test = ref.load().arrays["test"]
        N = count_eigenvalues(test["V"], test["E"])
        pred = predictor.predict_counts(test["V"], test["E"])
        err = pred - N
        row = table["sizes"][str(n)]
        assert row["status"] == "ok" and row["dataset"] == ref.spec.name
        assert logged[f"size_{n}_test_rel_err"] == pytest.approx(
            np.mean(np.abs(err) / np.maximum(N, 1)), rel=1e-9
        )
        assert logged[f"size_{n}_test_mse"] == pytest.approx(np.mean(err**2), rel=1e-9)
        assert logged[f"size_{n}_test_mse_per_1000"] == pytest.approx(
            np.mean(err**2) * 1000 / n, rel=1e-9
        )
        assert logged[f"size_{n}_test_mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-9)
        assert row["rel_err"] == pytest.approx(logged[f"size_{n}_test_rel_err"])


def test_a_fixed_length_model_skips_the_lengths_it_cannot_take(tiny_counting, mlflow_store):
    from lnet.models import PaperLandscapeNet

    torch.manual_seed(0)
    net = PaperLandscapeNet(
        n=64,
        decider_channels=(4,),
        kernel_size=3,
        box_channels=(4, 4, 4),
        box_strides=(4, 4, 4),
        head=(4,),
    )
    net.set_stats(tiny_counting.stats)
    cfg = {"eval_sizes": [32, 64, 128], "eval_size_potentials": 2, "eval_size_energies": 4}
    mlflow.set_tracking_uri(mlflow_store["uri"])
    with mlflow.start_run() as run:
        out = evaluate_sizes(cfg, Predictor(net), tiny_counting, "paper_landscape_net")
    assert set(out) == {f"size_64_test_{k}" for k in ("rel_err", "mse_per_1000", "mse", "mae")}
    client = MlflowClient(mlflow_store["uri"])
    assert client.get_run(run.info.run_id).data.tags["eval_sizes.not_applicable"] == "32,128"
    table = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/generalization/sizes.json")
    assert table["sizes"]["32"] == {
        "n": 32,
        "status": "not applicable",
        "note": "the model takes n = 64 only",
    }
    assert table["sizes"]["128"]["status"] == "not applicable"
    assert table["sizes"]["64"]["status"] == "ok"
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/rel_error_vs_n.png", "plots/counting_curve_n64.png"}


@pytest.mark.e2e
def test_eval_families_with_parameters_and_labels(trained, mlflow_store):
    result = trained(*WEYL_EVAL)
    m = result.metrics
    for label in ("uniform", "uniform_amplitude20", "lap"):
        for k in ("mse", "mae", "mape", "rel_err"):
            assert f"family_{label}_test_{k}" in m, (label, k)
    table = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/family_generalization.json")
    assert table["uniform"]["held_out"] == 0.0 and table["uniform"]["held_out_reason"] is None
    assert table["uniform_amplitude20"]["held_out"] == 1.0
    assert "amplitude = 20" in table["uniform_amplitude20"]["held_out_reason"]
    assert table["lap"]["held_out"] == 1.0 and table["lap"]["family"] == "laplace"
    assert table["lap"]["params"] == {"loc": 0.5, "amplitude": 1.0}
    client = MlflowClient(mlflow_store["uri"])
    assert "plots/family_generalization.png" in {
        a.path for a in client.list_artifacts(result.run_id, "plots")
    }
    # recompute the out-of-range amplitude's numbers from its own cached test set
    from lnet.data import CountingDataModule

    dm = CountingDataModule(
        n=64,
        potential={"family": "uniform", "amplitude": 20},
        energies={"mode": "between_eigenvalues", "count": 8},
        sizes={"train": 1, "val": 1, "test": 4},
        seed=0,
        data_dir=result.datamodule.data_dir,
        show_progress=False,
    )
    test = dm.load().arrays["test"]
    assert dm.entry.hit  # the evaluation built and cached it
    err = Predictor(result.module.net).predict_counts(test["V"], test["E"]) - test["N"]
    assert m["family_uniform_amplitude20_test_mse"] == pytest.approx(np.mean(err**2), rel=1e-12)
    assert m["family_uniform_amplitude20_test_rel_err"] == pytest.approx(
        np.mean(np.abs(err) / np.maximum(test["N"], 1)), rel=1e-12
    )
    per_potential = np.mean(err**2, axis=1)
    row = table["uniform_amplitude20"]
    np.testing.assert_allclose(row["mse_per_potential"], per_potential, rtol=1e-12)
    lo, hi = bootstrap_interval(per_potential)
    assert (m["family_uniform_amplitude20_test_mse_ci_low"], row["mse_ci_high"]) == pytest.approx(
        (lo, hi)
    )
    assert lo <= m["family_uniform_amplitude20_test_mse"] <= hi


def test_a_bad_family_entry_fails_the_run_with_its_key(compose_train):
    cfg = compose_train(*tiny("weyl", "eval_families=[uniform,{family:uniform,amplitude:-1}]"))
    err = config_error_of(cfg)
    assert "eval_families[1].amplitude: must be > 0" in str(err)


def test_bad_eval_entries_fail_before_any_training(compose_train):
    """eval_sizes / eval_families are checked when the run is built, not after fit."""
    from lnet.training import build

    cfg = compose_train(*tiny("weyl", "eval_families=[no_such_law]"))
    with pytest.raises(ConfigError, match=r"eval_families\[0\]"):
        build(cfg)
    cfg = compose_train(*tiny("weyl", "eval_sizes=[2]"))
    with pytest.raises(ConfigError, match="eval_sizes"):
        build(cfg)


def test_generated_test_sets_are_built_once_per_process(monkeypatch):
    """Scoring several models reuses a size/shape set: the second call recomputes nothing
    and returns the very same arrays; another seed is a new set."""
    from lnet import evaluation

    class Recomputed(Exception):
        pass

    def no_count(*args, **kwargs):
        raise Recomputed

    potential = {"family": "uniform", "amplitude": 1.0}
    first = shape_test_set(potential, (6, 5), 2, 3, seed=11)
    size_first = size_test_set(potential, 40, 2, 3, seed=11)
    monkeypatch.setattr(evaluation, "count_eigenvalues", no_count)
    again = shape_test_set(potential, (6, 5), 2, 3, seed=11)
    assert again is not first and again["N"] is first["N"]
    assert again["spec"].name == first["spec"].name
    assert size_test_set(potential, 40, 2, 3, seed=11)["N"] is size_first["N"]
    with pytest.raises(Recomputed):  # a new set reaches the exact count
        shape_test_set(potential, (6, 5), 2, 3, seed=12)


def test_training_lattices_name_the_extra_training_sets(data_dir):
    from lnet.data import CountingDataModule
    from lnet.evaluation import trained_on, training_lattices
    from tests.data.test_datamodules_2d import EXTRA_8X8
    from tests.data.test_spec_2d import TINY_2D

    dm = CountingDataModule(**TINY_2D, data_dir=data_dir, show_progress=False)
    assert training_lattices(dm) == [(6, 6)] and trained_on(dm) == "6×6"
    dm = CountingDataModule(**TINY_2D, data_dir=data_dir, extra_train=[EXTRA_8X8])
    assert training_lattices(dm) == [(6, 6), (8, 8)] and trained_on(dm) == "6×6 + 8×8"
    energies = {"mode": "between_eigenvalues", "count": 4}
    extra = [{"n": 20}, {"n": 9}]
    one_d = CountingDataModule(n=12, energies=energies, data_dir=data_dir, extra_train=extra)
    assert trained_on(one_d) == "n = 12 + 20 + 9"
