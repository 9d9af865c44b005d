"""The box law and the Weyl law on the periodic L1 × L2 lattice (``dim=2``).

Uses the 2-D physics API: landscape_potential, box_count, weyl_count, count_eigenvalues
with ``dim=2``. The dimension checks at the top need no physics.
"""

import numpy as np
import pytest
import torch

from lnet.errors import ConfigError
from lnet.models import BoxCountingLaw, BoxCountingLaw2D, CountingModule, WeylLaw, WeylLaw2D
from lnet.models.law_fit import box_law_c2_grid
from lnet.physics import box_count, count_eigenvalues, landscape_potential, weyl_count
from lnet.predict import load_net, save_net


@pytest.mark.parametrize("law", [BoxCountingLaw, WeylLaw])
@pytest.mark.parametrize("dim", [0, 4, "2", True])
def test_dim_must_be_one_two_or_three(law, dim):
    with pytest.raises(ConfigError, match=r"model\.net\.dim"):
        law(dim=dim)


@pytest.mark.parametrize("law", [BoxCountingLaw, WeylLaw])
def test_dim_is_recorded_and_reloaded(law, tmp_path):
    assert law().dim == 1 and law().config["dim"] == 1  # the 1-D default is unchanged
    net = law(dim=2)
    save_net(net, tmp_path / "law.pt")
    loaded = load_net(tmp_path / "law.pt")
    assert loaded.dim == 2 and loaded.config == net.config


@pytest.mark.parametrize(
    "law, base, name",
    [(BoxCountingLaw2D, BoxCountingLaw, "box_counting_2d"), (WeylLaw2D, WeylLaw, "weyl_2d")],
)
def test_2d_law_classes_are_the_laws_with_dim_2(law, base, name, tmp_path):
    """Their own config names (conf/model/<name>.yaml, run names); otherwise base(dim=2)."""
    net = law()
    assert isinstance(net, base) and net.dim == 2 and net.config["dim"] == 2
    assert law.config_name() == name and base.config_name() != name
    assert {k: v for k, v in base(dim=2).config.items() if k in net.config} == net.config
    save_net(net, tmp_path / "law.pt")
    assert type(load_net(tmp_path / "law.pt")) is law
    with pytest.raises(ConfigError, match=r"model\.net\.dim"):
        law(dim=1)


@pytest.mark.parametrize("law", [BoxCountingLaw, WeylLaw])
def test_a_landscape_of_the_other_dimension_is_refused(law):
    E = torch.full((2, 3), 0.5, dtype=torch.float64)
    W2 = torch.ones(2, 4, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"1-D law .* \(b, n\)"):
        law(dim=1)(W2, W2, W2, E)
    W1 = torch.ones(2, 20, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"2-D law .* \(b, L1, L2\)"):
        law(dim=2)(W1, W1, W1, E)


def counts_2d(seed: int, P: int = 4, shape=(8, 6), m: int = 6):
    rng = np.random.default_rng(seed)
    V = rng.random((P, *shape)) * 2.0
    E = rng.uniform(0.05, 2.0, (P, m))
    return V, landscape_potential(V, dim=2), E


def test_box_law_forward_is_the_2d_box_count():
    V, W, E = counts_2d(0)
    law = BoxCountingLaw(c1=0.7, c2=1.3, fit=False, dim=2)
    Vt, Wt = torch.from_numpy(V), torch.from_numpy(W)
    out = law(Vt, Wt, Wt, torch.from_numpy(E))
    np.testing.assert_array_equal(out.numpy(), 0.7 * box_count(W, 1.3 * E, dim=2))
    one = law(Vt, Wt, Wt, torch.from_numpy(E[:, 2]))  # one energy per potential
    np.testing.assert_array_equal(one.numpy(), out.numpy()[:, 2])


def test_box_law_fit_recovers_a_2d_box_law():
    _, W, E = counts_2d(1, P=6, shape=(12, 12), m=8)
    c1, c2 = 0.4, 1.7
    N = c1 * box_count(W, c2 * E, dim=2)
    law = BoxCountingLaw(dim=2)
    fit = law.fit(W, E, N)
    assert fit["train_mse"] == pytest.approx(0.0, abs=1e-20)
    assert fit["c1"] == pytest.approx(c1, rel=1e-12)
    # the fitted c2 lies on the piece of the true one: it gives the same counts
    np.testing.assert_array_equal(box_count(W, fit["c2"] * E, dim=2), box_count(W, c2 * E, dim=2))


def test_box_law_fit_on_real_counts_beats_its_coarse_grid():
    V, W, E = counts_2d(2)
    N = count_eigenvalues(V, E, dim=2).astype(float)
    law = BoxCountingLaw(dim=2)
    fit = law.fit(W, E, N)
    assert float(law.c1) == fit["c1"] and float(law.c2) == fit["c2"]
    lo, hi = law.config["c2_range"]
    assert lo <= fit["c2"] <= hi

    def mse(c2):
        B = box_count(W, c2 * E, dim=2).astype(float)
        bb = (B * B).sum()
        c1 = (N * B).sum() / bb if bb > 0 else 0.0
        return float(np.mean((c1 * B - N) ** 2))

    assert fit["train_mse"] == pytest.approx(mse(fit["c2"]), rel=1e-12)
    assert fit["train_mse"] <= min(mse(c) for c in np.geomspace(lo, hi, 121)) * (1 + 1e-9)
    assert box_law_c2_grid(W, E, N, lo, hi, dim=2) == fit["c2"]  # deterministic


def test_box_law_fits_through_the_counting_module():
    V, W, E = counts_2d(3)
    N = count_eigenvalues(V, E, dim=2).astype(float)
    module = CountingModule(BoxCountingLaw(dim=2))
    fit = module.fit_closed_form({"W": W, "E": E, "N": N})
    assert {"c1", "c2", "train_mse"} <= set(fit)


@pytest.mark.parametrize("kind", ["continuum", "lattice"])
def test_weyl_law_forward_is_the_2d_weyl_count(kind):
    V, W, E = counts_2d(4)
    law = WeylLaw(kind=kind, dim=2)
    Vt, Wt = torch.from_numpy(V), torch.from_numpy(W)
    out = law(Vt, Wt, Wt, torch.from_numpy(E))
    np.testing.assert_allclose(out.numpy(), weyl_count(W, E, dim=2, kind=kind), rtol=1e-12)


@pytest.mark.parametrize("kind", ["continuum", "lattice"])
def test_weyl_law_fits_a_2d_energy_scale(kind):
    _, W, E = counts_2d(5)
    s = 1.3
    N = weyl_count(W, s * E, dim=2, kind=kind)
    law = WeylLaw(kind=kind, fit_scale=True, dim=2)
    fit = law.fit(W, E, N)
    assert fit["scale"] == pytest.approx(s, rel=1e-3)
    assert float(law.scale) == fit["scale"]
    assert WeylLaw(kind=kind, dim=2).fit(W, E, N) == {"scale": 1.0}  # fit_scale off
