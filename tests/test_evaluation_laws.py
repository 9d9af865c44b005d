"""The ``eval.laws`` entries (lnet.evaluation.laws): the shifted Weyl law ``weyl_shifted``
and the kernel polynomial method ``kpm`` beside the landscape laws; the names the eval
group accepts; laws that count from V (KPM) get V wherever the evaluation counts."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lnet.errors import ConfigError
from lnet.evaluation.config import LAW_NAMES, eval_config, parse
from lnet.evaluation.lattices import lattice_curve
from lnet.evaluation.laws import evaluate_laws, fit_laws, law_counts, make_law_model
from lnet.models import KpmLaw, WeylLaw, WeylShiftedLaw
from lnet.models.protocol import COUNTING
from lnet.physics import count_eigenvalues, kpm_counts, landscape_potential, weyl_count
from lnet.predict import Predictor

LATTICES = {1: (24,), 2: (5, 4), 3: (3, 3, 2)}


def split(dim: int, seed: int, P: int = 3, m: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    V = rng.random((P, *LATTICES[dim])) + 0.1
    E = rng.uniform(0.1, 2.0 * dim, (P, m))
    return {
        "V": V,
        "W": landscape_potential(V, dim=dim),
        "E": E,
        "N": count_eigenvalues(V, E, dim=dim).astype(np.float64),
    }


# -- the config names ------------------------------------------------------------------------
def test_the_new_laws_are_eval_law_names():
    assert {"weyl_shifted", "kpm"} <= set(LAW_NAMES)
    assert parse({"laws": ["weyl_shifted", "kpm", "weyl_shifted"]}).laws == ["weyl_shifted", "kpm"]


def test_an_unknown_law_is_a_one_line_error_naming_the_key():
    with pytest.raises(ConfigError) as info:
        parse({"laws": ["weyl_shifted", "kmp"]})
    assert info.value.key == "eval.laws[1]"
    message = str(info.value)
    assert "\n" not in message and message.startswith("eval.laws[1]: unknown law 'kmp'")
    assert "'weyl_shifted'" in message and "'kpm'" in message  # the allowed names


def test_the_composed_eval_group_takes_them(compose_train):
    cfg = compose_train("eval.laws=[weyl_shifted,kpm]")
    assert eval_config(cfg, COUNTING).laws == ["weyl_shifted", "kpm"]
    with pytest.raises(ConfigError, match=r"^eval\.laws\[0\]: unknown law 'nope'"):
        eval_config(compose_train("eval.laws=[nope]"), COUNTING)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_every_name_makes_a_law_of_the_data_dimension(dim):
    for name in LAW_NAMES:
        assert make_law_model(name, dim).dim == dim
    assert type(make_law_model("weyl_shifted", dim)) is WeylShiftedLaw
    assert type(make_law_model("kpm", dim)) is KpmLaw
    with pytest.raises(ConfigError, match=r"eval\.laws"):
        make_law_model("weyl_sideways", dim)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_the_torus_law_counts_with_the_test_lattices_own_free_staircase(dim):
    s = split(dim, seed=20 + dim)
    law = make_law_model("weyl_torus", dim)
    assert law.fit(s["W"], s["E"], s["N"]) == {"scale": 1.0}  # nothing fitted
    want = weyl_count(s["W"], s["E"], kind="torus", dim=dim)
    np.testing.assert_array_equal(law_counts(law, s["W"], s["E"]), want)
    assert not np.allclose(want, weyl_count(s["W"], s["E"], kind="lattice", dim=dim))


# -- KPM as a law ----------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_kpm_law_counts_are_kpm_counts(dim):
    s = split(dim, seed=dim)
    law = make_law_model("kpm", dim)
    expected = kpm_counts(s["V"], s["E"], moments=256, vectors=8, seed=0, dim=dim)
    np.testing.assert_array_equal(law_counts(law, s["W"], s["E"], V=s["V"]), expected)
    # the forward (and so the Predictor) counts from V, not from W
    Vt, Wt = torch.from_numpy(s["V"]), torch.from_numpy(s["W"])
    np.testing.assert_array_equal(law(Vt, Wt, Wt, torch.from_numpy(s["E"])).numpy(), expected)
    np.testing.assert_array_equal(Predictor(law).predict_counts(s["V"], s["E"]), expected)
    with pytest.raises(ValueError, match="counts from the potential V"):
        law_counts(law, s["W"], s["E"])


def test_kpm_law_settings_are_checked_and_recorded():
    law = KpmLaw(moments=64, vectors=2, kernel="lorentz", seed=3)
    assert law.fit(None, None, None) == {"moments": 64, "vectors": 2, "seed": 3}
    assert KpmLaw.config_name() == "kpm"
    for kwargs, key in [
        (dict(moments=1), "model.net.moments"),
        (dict(vectors=0), "model.net.vectors"),
        (dict(seed=-1), "model.net.seed"),
        (dict(kernel="gauss"), "model.net.kernel"),
    ]:
        with pytest.raises(ConfigError) as info:
            KpmLaw(**kwargs)
        assert info.value.key == key


# -- the evaluation with them ----------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2])
def test_evaluate_laws_puts_them_beside_the_model(dim):
    train, test = split(dim, seed=10), split(dim, seed=11)
    dm = SimpleNamespace(
        arrays={"train": train, "test": test},
        spec=SimpleNamespace(n=int(np.prod(LATTICES[dim])), lattice=LATTICES[dim], dim=dim),
    )
    predictor = Predictor(WeylLaw(kind="lattice", dim=dim))
    pred = predictor.predict_counts(test["V"], test["E"])
    result = evaluate_laws(predictor, dm, pred, ["weyl_lattice", "weyl_shifted", "kpm"])
    shifted = result.table["weyl_shifted"]["fit"]
    assert shifted["train_mse"] <= shifted["train_mse_unshifted"]
    assert result.table["kpm"]["fit"] == {"moments": 256.0, "vectors": 8.0, "seed": 0.0}
    kpm = kpm_counts(test["V"], test["E"], moments=256, vectors=8, seed=0, dim=dim)
    assert result.metrics["law_kpm_test_mse"] == pytest.approx(np.mean((kpm - test["N"]) ** 2))
    assert {"law_weyl_shifted_test_rel_err", "law_kpm_test_rel_err"} <= set(result.metrics)
    # the same fit as fit_laws on the training split
    (law, params, _) = fit_laws(["weyl_shifted"], train, dim)["weyl_shifted"]
    assert params == shifted and float(result.laws["weyl_shifted"].c) == params["c"]


def test_the_lattice_curve_gives_kpm_its_potential():
    test = split(1, seed=12, P=2)
    test["lambda_top"] = np.array([2.0, 2.0])
    laws = {"kpm": KpmLaw(moments=32, vectors=2), "weyl_shifted": WeylShiftedLaw(c=1.2)}
    predictor = Predictor(WeylLaw(kind="lattice"))
    curve = lattice_curve(predictor, LATTICES[1], test, test["N"], laws, points=7)
    np.testing.assert_array_equal(
        curve.laws["kpm"][1], kpm_counts(test["V"][0], curve.E, moments=32, vectors=2)
    )


def test_the_figures_label_and_count_them():
    from lnet.tracking import plots

    s = split(2, seed=13, P=1)
    laws = {"weyl_shifted": WeylShiftedLaw(c=1.3, dim=2), "kpm": KpmLaw(dim=2)}
    assert plots.law_label("weyl_shifted", laws["weyl_shifted"]) == "Weyl (lattice, E/1.3)"
    assert plots.law_label("kpm", laws["kpm"]) == "KPM (M = 256, R = 8)"
    E = np.linspace(0.0, 3.0, 5)
    curves = plots.law_curves(laws, s["W"][0], E, s["V"][0])
    np.testing.assert_array_equal(curves["kpm"][1], kpm_counts(s["V"][0], E, 256, 8, dim=2))


def test_the_lattice_figure_of_one_lattice_has_a_range_around_it():
    """One lattice set equal to the training lattice (``eval.sizes=[1000]``): the log
    axis gets [n/2, 2n], not matplotlib's singular-limits warning."""
    import warnings

    import matplotlib.pyplot as plt

    from lnet.evaluation.lattices import LatticeResult
    from lnet.tracking import plots

    row = {"n": 1000, "status": "ok", "rel_err": 0.03, "laws": {}}
    result = LatticeResult(1, "m", [(1000,)], "uniform", {}, rows={"1000": row})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.rel_error_vs_lattice(result)
    assert fig.axes[0].get_xlim() == pytest.approx((500.0, 2000.0))
    plt.close(fig)


# -- a run ------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_a_2d_run_logs_them_beside_the_model(compose_train):
    """A 2-D law run with ``eval.laws=[weyl_shifted,kpm]`` and a shape set: the laws'
    metrics on the test split and the shape set, and the 2-D figures (which count the
    KPM law from V)."""
    from lnet.training import train

    cfg = compose_train(
        "model=weyl_2d",
        "model.net.kind=lattice",
        "data=counting_2d",
        "data.shape=[6,6]",
        "data.energies.count=6",
        "data.sizes.train=6",
        "data.sizes.val=3",
        "data.sizes.test=3",
        "data.energies_per_potential=3",
        "eval.laws=[weyl_shifted,kpm]",
        "eval.shapes=[[8,8]]",
        "eval.shape_potentials=2",
        "eval.shape_energies=3",
    )
    m = train(cfg).metrics
    for name in ("weyl_shifted", "kpm"):
        assert {f"law_{name}_test_rel_err", f"shape_8x8_law_{name}_rel_err"} <= set(m)
