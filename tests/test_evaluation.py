"""Generalisation tests (lnet.evaluation): the eval config group, other lattices (one
function for 1-D lengths and 2-D shapes), other potential families, and the Predictor's
lattice-length rule behind them."""

from __future__ import annotations

import itertools

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from lnet.data.families import make_law
from lnet.data.test_sets import lattice_test_set
from lnet.errors import ConfigError
from lnet.evaluation.config import eval_config, parse
from lnet.evaluation.families import default_label, family_entries, held_out_reason
from lnet.evaluation.lattices import evaluate_lattices
from lnet.models.metrics import generalization_metrics
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
        (["uniform", {"family": "nope"}], r"eval\.families\[1\]\.family: unknown family"),
        ([{"family": "uniform", "amplitude": -1}], r"eval\.families\[0\]\.amplitude: must be > 0"),
        ([{"family": "uniform", "wobble": 2}], r"eval\.families\[0\]\.wobble: unknown parameter"),
        ([{"amplitude": 2}], r"eval\.families\[0\]\.family: unknown family None"),
        ([3], r"eval\.families\[0\]: must be a family name or a mapping"),
        (["mixture"], r"eval\.families\[0\]\.family: must be a single family"),
        (["uniform", {"family": "uniform"}], r"eval\.families\[1\]: label 'uniform' is already"),
        ([{"family": "uniform", "label": ""}], r"eval\.families\[0\]\.label"),
        ("uniform", r"eval\.families: must be a list"),
    ],
)
def test_bad_family_entries_name_their_key(entries, key):
    with pytest.raises(ConfigError, match=key):
        family_entries(entries)
    with pytest.raises(ConfigError, match=key.replace("must be a list", "")):
        parse({"families": entries})  # the same check through the eval group


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


def test_the_eval_group_checks_each_key():
    settings = parse({"sizes": [100000, 32, 64, 32], "laws": ["box", "weyl_lattice", "box"]})
    assert settings.lattice_sets() == ([(32,), (64,), (100000,)], 10, 100)
    assert settings.laws == ["box", "weyl_lattice"]
    shapes = parse({"shapes": [[128, 128], [64, 64], [10, 6], [64, 64]], "shape_energies": 7})
    assert shapes.lattice_sets() == ([(10, 6), (64, 64), (128, 128)], 5, 7)
    assert parse(None) == parse({}) and parse(None).lattice_sets() == ([], 5, 20)
    assert (
        parse(None).max_potentials == 1000
        and parse({"max_potentials": None}).max_potentials is None
    )
    with pytest.raises(ConfigError, match=r"eval\.sizes\[1\]: must be an integer >= 3, got 2"):
        parse({"sizes": [32, 2]})
    with pytest.raises(ConfigError, match=r"eval\.shapes\[1\]\[0\]: must be an integer >= 2"):
        parse({"shapes": [[8, 8], [1, 8]]})
    with pytest.raises(ConfigError, match=r"eval\.laws\[1\]: unknown law 'boxes'"):
        parse({"laws": ["box", "boxes"]})
    with pytest.raises(ConfigError, match="eval.size_potentials: must be an integer >= 1"):
        parse({"sizes": [32], "size_potentials": 0})
    with pytest.raises(ConfigError, match="eval.max_potentials: must be an integer >= 1"):
        parse({"max_potentials": 0})


@pytest.mark.parametrize(
    "node, key, message",
    [
        ({"sizes": ["big"]}, "eval.sizes[0]", "could not be converted to Integer"),
        ({"sizes": [1e5]}, "eval.sizes[0]", "could not be converted to Integer"),
        ({"sizes": 1000}, "eval.sizes", "is not a ListConfig"),
        ({"shapes": [8, 8]}, "eval.shapes", "is not a ListConfig"),
        ({"size_energies": "many"}, "eval.size_energies", "could not be converted to Integer"),
        ({"sizez": [32]}, "eval.sizez", "not in 'EvalConfig'"),
    ],
)
def test_the_schema_rejects_wrong_types_and_unknown_keys(node, key, message):
    with pytest.raises(ConfigError) as info:
        parse(node)
    assert info.value.key == key and message in str(info.value)


@pytest.mark.parametrize(
    "override, key, message",
    [
        ("eval.sizes=[big]", "eval.sizes[0]", "could not be converted to Integer"),
        ("eval.sizez=[32]", "eval.sizez", "not in 'EvalConfig'"),
        ("eval.laws=box", "eval.laws", "is not a ListConfig"),
    ],
)
def test_hydra_rejects_them_when_composing(override, key, message, compose_train):
    """The schema is registered with Hydra: the composed config never holds a bad value."""
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException) as info:
        compose_train(override)
    cause = info.value.__cause__
    assert cause.full_key == key and message in str(cause)


def test_the_eval_group_fits_the_task_and_the_data(compose_train):
    with pytest.raises(ConfigError, match="eval.sizes: needs a counting model"):
        eval_config({"eval": {"sizes": [32]}}, "eigenvalues")
    with pytest.raises(ConfigError, match="eval.families: needs a counting model"):
        eval_config({"eval": {"families": ["uniform"]}}, "eigenvalues")
    with pytest.raises(ConfigError, match="eval.laws: needs a counting model"):
        eval_config({"eval": {"laws": ["box"]}}, "eigenvalues")
    eval_config({"eval": {"sizes": None, "families": None}}, "eigenvalues")
    two_d = {"data": {"dim": 2}}
    with pytest.raises(ConfigError, match=r"eval\.sizes: are lengths of the 1-D chain"):
        eval_config({**two_d, "eval": {"sizes": [32]}}, COUNTING)
    with pytest.raises(ConfigError, match=r"eval\.shapes\[1\]: must be a shape \[L1, L2\]"):
        eval_config({**two_d, "eval": {"shapes": [[8, 8], [4, 4, 4]]}}, COUNTING)
    with pytest.raises(ConfigError, match=r"eval\.shapes: are lattice shapes"):
        eval_config({"eval": {"shapes": [[8, 8]]}}, COUNTING)
    # every experiment's eval group passes the checks
    from hydra.utils import get_class

    from lnet.config import config_dir

    for path in sorted((config_dir() / "experiment").glob("*.yaml")):
        cfg = compose_train(f"experiment={path.stem}")
        eval_config(cfg, get_class(cfg.data._target_).task)


# -- the lattice test sets -----------------------------------------------------------------
def test_lattice_test_set_is_the_dataset_builders_test_split(data_dir):
    """Independent check against the dataset builder, which brackets every level below
    λ_⌈0.1 n⌉ (lowest_eigenvalues) instead of bisecting for that one level."""
    from lnet.data import CountingDataModule

    potential = {"family": "exponential", "amplitude": 0.5}
    got = lattice_test_set(potential, (90,), 3, 6, seed=4)
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
    "eval.sizes=[96,32,64]",
    "eval.size_potentials=3",
    "eval.size_energies=5",
    "eval.families=[uniform,{family:uniform,amplitude:20},{family:laplace,loc:0.5,label:lap}]",
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
    assert "eval.sizes.not_applicable" not in client.get_run(result.run_id).data.tags

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
    from lnet.tracking.results import log_result

    lattices, P, m = parse(
        {"sizes": [128, 32, 64], "size_potentials": 2, "size_energies": 4}
    ).lattice_sets()
    mlflow.set_tracking_uri(mlflow_store["uri"])
    with mlflow.start_run() as run:
        result = evaluate_lattices(
            Predictor(net), tiny_counting, lattices, P, m, "paper_landscape_net"
        )
        log_result(result)
    out = result.metrics
    assert set(out) == {f"size_64_test_{k}" for k in ("rel_err", "mse_per_1000", "mse", "mae")}
    client = MlflowClient(mlflow_store["uri"])
    logged = client.get_run(run.info.run_id).data.metrics
    # the logged numbers, recomputed from the set's exact and predicted counts (2 × 4)
    N, err = result.curve.N, result.curve.N_hat - result.curve.N
    assert N.shape == (2, 4) and result.curve.lattice == (64,)
    assert logged["size_64_test_mse"] == pytest.approx(np.mean(err**2), rel=1e-12)
    assert logged["size_64_test_mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
    assert logged["size_64_test_mse_per_1000"] == pytest.approx(
        np.mean(err**2) * 1000 / 64, rel=1e-12
    )
    assert logged["size_64_test_rel_err"] == pytest.approx(
        np.mean(np.abs(err) / np.maximum(N, 1)), rel=1e-12
    )
    assert client.get_run(run.info.run_id).data.tags["eval.sizes.not_applicable"] == "32,128"
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


class _SizeFreeAnyDim(_SizeFree):
    """:class:`_SizeFree` on a lattice of any dimension: the sum runs over every site."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, V, W, dW, E):  # noqa: ANN001, ANN201
        return super().forward(V, W.flatten(1), dW, E)


class _CountingCalls:
    """A Predictor that counts its predictions on whole sets (V with a batch axis)."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor, self.sets = predictor, 0

    def __getattr__(self, name):  # noqa: ANN001, ANN204
        return getattr(self.predictor, name)

    def predict_counts(self, V, E):  # noqa: ANN001, ANN201
        self.sets += np.ndim(V) == 1 + self.predictor.dim and np.ndim(E) == 2
        return self.predictor.predict_counts(V, E)


@pytest.mark.parametrize(
    "dim, lattices, extra_key",
    [(1, [(40,), (24,)], "size_40"), (2, [(6, 6), (8, 5)], "shape_8x5")],
)
def test_one_function_for_every_lattice_dimension(dim, lattices, extra_key, data_dir):
    """evaluate_lattices on 1-D lengths and 2-D shapes: each set is predicted once, and
    the metrics, the laws' metrics and the figure data share those predictions."""
    from lnet.data import CountingDataModule
    from lnet.models import WeylLaw, WeylLaw2D

    lattice = {"n": 16} if dim == 1 else {"n": None, "dim": 2, "shape": [4, 4]}
    dm = CountingDataModule(
        **lattice,
        energies={"mode": "between_eigenvalues", "count": 4},
        sizes={"train": 2, "val": 1, "test": 2},
        data_dir=data_dir,
        show_progress=False,
    )
    dm.setup()
    law = WeylLaw2D(kind="lattice") if dim == 2 else WeylLaw(kind="lattice")
    model = _CountingCalls(Predictor(_SizeFreeAnyDim(dim)))
    result = evaluate_lattices(model, dm, lattices, 2, 3, "size-free", {"weyl_lattice": law})
    assert model.sets == len(lattices)  # one prediction per set: the curve reuses it
    keys = sorted(lattices, key=lambda t: np.prod(t))
    assert list(result.rows) == ["x".join(map(str, t)) for t in keys]
    assert result.curve.lattice == keys[-1]
    test = lattice_test_set(dm.spec.potential, keys[-1], 2, 3, dm.spec.seed)
    np.testing.assert_array_equal(result.curve.N, test["N"])
    sites = int(np.prod(keys[-1]))
    expected = generalization_metrics(result.curve.N_hat, test["N"], sites)
    assert result.metrics[f"{extra_key}_test_mse"] == expected["mse"]
    weyl = generalization_metrics(
        Predictor(law).predict_counts(test["V"], test["E"]), test["N"], sites
    )
    assert result.metrics[f"{extra_key}_law_weyl_lattice_rel_err"] == weyl["rel_err"]
    assert (result.curve.exact is not None) == (dim == 1)  # the exact staircase: 1-D only
    table = result.table()
    assert table[f"{result.kind}s"] is result.rows and table["potentials"] == 2


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
    # the 95 % interval against the exact bootstrap distribution of the mean of 4
    # potentials (all 4⁴ resamples): each end lies between its 1 % and 5 % quantiles
    means = np.array([per_potential[list(i)].mean() for i in itertools.product(range(4), repeat=4)])
    lo, hi = m["family_uniform_amplitude20_test_mse_ci_low"], row["mse_ci_high"]
    assert (
        np.quantile(means, 0.01, method="inverted_cdf")
        <= lo
        <= np.quantile(means, 0.05, method="inverted_cdf")
    )
    assert (
        np.quantile(means, 0.95, method="inverted_cdf")
        <= hi
        <= np.quantile(means, 0.99, method="inverted_cdf")
    )
    assert lo <= m["family_uniform_amplitude20_test_mse"] <= hi


def test_a_bad_family_entry_fails_the_run_with_its_key(compose_train):
    cfg = compose_train(*tiny("weyl", "eval.families=[uniform,{family:uniform,amplitude:-1}]"))
    err = config_error_of(cfg)
    assert "eval.families[1].amplitude: must be > 0" in str(err)


def test_bad_eval_entries_fail_before_any_training(compose_train):
    """eval.sizes / eval.families are checked when the run is built, not after fit."""
    from lnet.training import build

    cfg = compose_train(*tiny("weyl", "eval.families=[no_such_law]"))
    with pytest.raises(ConfigError, match=r"eval\.families\[0\]"):
        build(cfg)
    cfg = compose_train(*tiny("weyl", "eval.sizes=[2]"))
    with pytest.raises(ConfigError, match=r"eval\.sizes\[0\]"):
        build(cfg)


def test_generated_test_sets_are_built_once_per_process(monkeypatch):
    """Scoring several models reuses a lattice set: the second call recomputes nothing
    and returns the very same arrays; another seed is a new set."""
    from lnet.data import test_sets

    class Recomputed(Exception):
        pass

    def no_count(*args, **kwargs):
        raise Recomputed

    potential = {"family": "uniform", "amplitude": 1.0}
    first = lattice_test_set(potential, (6, 5), 2, 3, seed=11)
    size_first = lattice_test_set(potential, [40], 2, 3, seed=11)
    monkeypatch.setattr(test_sets, "count_eigenvalues", no_count)
    again = lattice_test_set(potential, [6, 5], 2, 3, seed=11)
    assert again is not first and again["N"] is first["N"]
    assert again["spec"].name == first["spec"].name
    assert lattice_test_set(potential, (40,), 2, 3, seed=11)["N"] is size_first["N"]
    with pytest.raises(Recomputed):  # a new set reaches the exact count
        lattice_test_set(potential, (6, 5), 2, 3, seed=12)


def test_training_lattices_name_the_extra_training_sets(data_dir):
    from lnet.data import CountingDataModule
    from lnet.evaluation.lattices import trained_on, training_lattices
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


def test_evaluate_takes_a_shipped_model_by_its_pretrained_uri():
    """``models=[pretrained:<name>]``: the shipped ensemble as its users load it (its
    count rule included), without domain warnings; another dimension names the key."""
    from lnet.ensemble import EnsemblePredictor
    from lnet.evaluation.scoring import load_counting_model

    model = load_counting_model("pretrained:universal-1d", dim=1)
    assert isinstance(model, EnsemblePredictor) and model.domain is None
    assert model.integer_below == model.calibration.integer_below
    with pytest.raises(ConfigError, match="models"):
        load_counting_model("pretrained:universal-1d", dim=2)
