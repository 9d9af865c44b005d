"""The energy-shifted lattice Weyl law N ≈ N^W_Weyl,lattice(E / c) (WeylShiftedLaw) and
its one-constant fit (lnet.models.law_fit.weyl_shift_c), on tiny lattices in 1-, 2- and
3-D."""

import numpy as np
import pytest
import torch

from lnet.errors import ConfigError
from lnet.models import WeylLaw, WeylShiftedLaw
from lnet.models.law_fit import weyl_shift_c
from lnet.physics import count_eigenvalues, landscape_potential, weyl_count
from lnet.predict import load_net, save_net

LATTICES = {1: (40,), 2: (6, 5), 3: (4, 4, 3)}


def tiny_split(dim: int, seed: int = 0, P: int = 4, m: int = 8):
    """V, W, E and exact counts N on a tiny lattice: energies across the low half of
    the spectrum, so that the counts vary with c."""
    rng = np.random.default_rng(seed)
    V = rng.random((P, *LATTICES[dim])) * 2.0
    W = landscape_potential(V, dim=dim)
    E = rng.uniform(0.1, 2.0 * dim + 1.0, (P, m))
    N = count_eigenvalues(V, E, dim=dim).astype(np.float64)
    return V, W, E, N


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("c0", [0.8, 1.37])
def test_the_fit_recovers_a_known_shift(dim, c0):
    """Counts made by the law itself with c = c0 give back c0."""
    _, W, E, _ = tiny_split(dim)
    N = weyl_count(W, E / c0, kind="lattice", dim=dim)
    law = WeylShiftedLaw(dim=dim)
    params = law.fit(W, E, N)
    assert params["c"] == pytest.approx(c0, rel=1e-5)
    assert float(law.c) == params["c"]
    assert params["train_mse"] < 1e-10 < params["train_mse_unshifted"]


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_at_least_as_accurate_as_the_unshifted_law_on_its_training_data(dim):
    """It nests the lattice Weyl law at c = 1 (c = 1 is among the points it tries)."""
    _, W, E, N = tiny_split(dim, seed=1)
    law = WeylShiftedLaw(dim=dim)
    params = law.fit(W, E, N)
    unshifted = WeylLaw(kind="lattice", dim=dim).predict_numpy(W, E)
    mse_unshifted = float(np.mean((unshifted - N) ** 2))
    mse = float(np.mean((law.predict_numpy(W, E) - N) ** 2))
    assert mse == pytest.approx(params["train_mse"], rel=1e-12)
    assert params["train_mse_unshifted"] == pytest.approx(mse_unshifted, rel=1e-12)
    assert mse <= mse_unshifted


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_the_fit_is_deterministic(dim):
    _, W, E, N = tiny_split(dim, seed=2)
    first = WeylShiftedLaw(dim=dim).fit(W, E, N)
    assert WeylShiftedLaw(dim=dim).fit(W.copy(), E.copy(), N.copy()) == first


def test_c_one_is_the_lattice_weyl_law_and_the_forward_matches():
    V, W, E, _ = tiny_split(2, seed=3)
    np.testing.assert_array_equal(
        WeylShiftedLaw(fit=False, dim=2).predict_numpy(W, E),
        weyl_count(W, E, kind="lattice", dim=2),
    )
    law = WeylShiftedLaw(c=1.25, fit=False, dim=2)
    assert law.fit(W, E, E) == {"c": 1.25}  # fit=False keeps c
    Vt, Wt = torch.from_numpy(V), torch.from_numpy(W)
    out = law(Vt, Wt, Wt, torch.from_numpy(E)).numpy()
    np.testing.assert_array_equal(out, weyl_count(W, E / 1.25, kind="lattice", dim=2))


def test_the_fitted_shift_is_saved_and_named(tmp_path):
    _, W, E, _ = tiny_split(1)
    law = WeylShiftedLaw()
    law.fit(W, E, weyl_count(W, E / 1.2, kind="lattice"))
    save_net(law, tmp_path / "law.pt")
    loaded = load_net(tmp_path / "law.pt")
    assert type(loaded) is WeylShiftedLaw and float(loaded.c) == float(law.c)
    assert WeylShiftedLaw.config_name() == "weyl_shifted"


def test_the_grid_includes_c_one_and_the_range_is_respected():
    _, W, E, N = tiny_split(1, seed=4)
    c, mse, unshifted = weyl_shift_c(W, E, N, 1.5, 3.0)
    assert 1.5 <= c <= 3.0 and mse == pytest.approx(
        float(np.mean((weyl_count(W, E / c, kind="lattice") - N) ** 2))
    )
    assert unshifted == pytest.approx(float(np.mean((weyl_count(W, E, kind="lattice") - N) ** 2)))


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(c_range=(2.0, 1.0)), "model.net.c_range"),
        (dict(c_range=(0.0, 1.0)), "model.net.c_range"),
        (dict(c=0.0), "model.net.c"),
        (dict(c=True), "model.net.c"),
        (dict(dim=4), "model.net.dim"),
    ],
)
def test_bad_settings_name_their_key(kwargs, key):
    with pytest.raises(ConfigError) as info:
        WeylShiftedLaw(**kwargs)
    assert info.value.key == key
