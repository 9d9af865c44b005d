import numpy as np
import pytest
import torch

from lnet.data import ConfigError
from lnet.models import (
    BoxCountingLaw,
    EigenNet,
    LandscapeNet,
    PaperLandscapeNet,
    WellNet,
    WeylLaw,
)
from lnet.physics import box_count, landscape_potential


def n_params(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def test_paper_landscape_net_size():
    assert 70_000 <= n_params(PaperLandscapeNet()) <= 80_000


def test_paper_landscape_net_shapes_nonnegative_and_modes():
    torch.manual_seed(0)
    net = PaperLandscapeNet(
        n=64, box_strides=(4, 4, 4), decider_channels=(4, 6, 8), box_channels=(8, 8, 8)
    )
    V = torch.rand(5, 64)
    out = net(V, V, V, torch.rand(5))
    assert out.shape == (5,) and torch.all(out >= 0)
    # eval mode uses running statistics: a sample's prediction does not depend on its batch
    net.eval()
    single = net(V[:1], V[:1], V[:1], torch.tensor([0.3]))
    batched = net(V, V, V, torch.full((5,), 0.3))[:1]
    torch.testing.assert_close(single, batched)
    # the scalar output has no normalisation layer
    assert isinstance(net.head[-1], torch.nn.Linear)


def test_paper_landscape_net_is_periodic():
    torch.manual_seed(1)
    net = PaperLandscapeNet(
        n=128, box_strides=(4, 4, 4), decider_channels=(4, 6, 8), box_channels=(8, 8, 8)
    ).eval()
    V = torch.rand(1, 128)
    # circular deciders + box sums: invariant under shifts by a whole top-level box (64 sites)
    shifted = torch.roll(V, 64, dims=1)
    e = torch.tensor([0.2])
    a = net(V, V, V, e)
    b = net(shifted, shifted, shifted, e)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_lattice_length_must_fit_the_box_sum():
    with pytest.raises(ConfigError, match="model.net.n"):
        PaperLandscapeNet(n=1001)
    with pytest.raises(ConfigError, match="model.net.aux"):
        PaperLandscapeNet(aux=("V", "Q"))


def test_eigen_net():
    net = EigenNet(n=64, k=5, input="VW", channels=(4, 8), hidden=(8,))
    V = torch.rand(3, 64)
    out = net(V, V)
    assert out.shape == (3, 5) and torch.all(out > 0)
    with pytest.raises(ConfigError, match="model.net.input"):
        EigenNet(input="U")


def test_box_counting_recovers_known_law(rng):
    W = landscape_potential(rng.random((40, 256)))
    E = rng.uniform(0.05, 0.6, (40, 30))
    c1, c2 = 0.4, 1.7
    N = c1 * box_count(W, c2 * E)
    law = BoxCountingLaw()
    fit = law.fit(W, E, N)
    assert fit["train_mse"] == pytest.approx(0.0, abs=1e-20)
    assert fit["c1"] == pytest.approx(c1, rel=1e-12)
    # the objective is flat on an interval around c2; the fit lands inside it
    assert fit["c2"] == pytest.approx(c2, rel=0.02)
    np.testing.assert_allclose(law.predict_numpy(W, E), N)


def test_weyl_law_forms_and_scale_fit(rng):
    W = landscape_potential(rng.random((10, 100)))
    E = rng.uniform(0.05, 0.5, (10, 10))
    from lnet.physics import weyl_count

    np.testing.assert_allclose(WeylLaw().predict_numpy(W, E), weyl_count(W, E))
    target = weyl_count(W, 2.0 * E, kind="lattice")
    law = WeylLaw(kind="lattice", fit_scale=True)
    fit = law.fit(W, E, target)
    assert fit["scale"] == pytest.approx(2.0, rel=1e-2)
    with pytest.raises(ConfigError, match="model.net.kind"):
        WeylLaw(kind="quantum")


def _brute_force_wells(e: torch.Tensor, r: int, k: int) -> torch.Tensor:
    """k lowest periodic local minima (window 2r+1, flat ones at their leftmost site),
    then the lowest non-wells, per row."""
    out = []
    for row in e.tolist():
        n = len(row)
        is_well = [
            all(v < row[(x - d) % n] for d in range(1, r + 1))
            and all(v <= row[(x + d) % n] for d in range(1, r + 1))
            for x, v in enumerate(row)
        ]
        wells = sorted(v for v, w in zip(row, is_well, strict=True) if w)
        others = sorted(v for v, w in zip(row, is_well, strict=True) if not w)
        out.append(wells[:k] + others[: max(0, k - len(wells))])
    return torch.tensor(out, dtype=e.dtype)


def test_well_net_takes_the_lowest_wells_of_its_energy_map():
    torch.manual_seed(0)
    net = WellNet(n=48, k=4, input="W", channels=(4, 4), kernel_size=3, well_radius=2).eval()
    W = torch.rand(5, 48)
    with torch.no_grad():
        out = net(W, W)
        expected = _brute_force_wells(net.energies(W, W), r=2, k=4)
    torch.testing.assert_close(out, expected)
    assert torch.all(out > 0) and torch.all(out[:, 1:] >= out[:, :-1])


def test_well_net_is_invariant_under_periodic_shifts():
    torch.manual_seed(1)
    net = WellNet(n=64, k=5, input="VW", channels=(4, 8), kernel_size=5, well_radius=3).eval()
    V, W = torch.rand(2, 64), torch.rand(2, 64)
    with torch.no_grad():
        a = net(V, W)
        for shift in (1, 7, 63):
            b = net(torch.roll(V, shift, 1), torch.roll(W, shift, 1))
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_well_net_with_fewer_wells_than_levels_stays_finite():
    net = WellNet(n=16, k=6, input="V", channels=(2,), kernel_size=3, well_radius=7).eval()
    V = torch.linspace(0.1, 1.0, 16)[None]  # one window covers the lattice: at most a few wells
    with torch.no_grad():
        out = net(V, V)
        expected = _brute_force_wells(net.energies(V, V), r=7, k=6)
    assert out.shape == (1, 6) and torch.isfinite(out).all()
    torch.testing.assert_close(out, expected)  # the wells first, then the lowest other sites
    net.train()  # the fallback is differentiable too
    net(V.repeat(2, 1), V.repeat(2, 1)).sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_well_net_counts_a_flat_minimum_once():
    net = WellNet(n=12, k=2, input="W", channels=(2,), kernel_size=1, well_radius=2).eval()
    e = torch.tensor([[3.0, 1.0, 1.0, 1.0, 4.0, 5.0, 2.0, 6.0, 7.0, 8.0, 9.0, 6.5]])
    net.energies = lambda V, W: e  # a map with a three-site flat well and a second well
    with torch.no_grad():
        out = net(e, e)
    torch.testing.assert_close(out, torch.tensor([[1.0, 2.0]]))  # the flat well once, then 2
    torch.testing.assert_close(out, _brute_force_wells(e, r=2, k=2))


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(input="U"), "model.net.input"),
        (dict(kernel_size=4), "model.net.kernel_size"),
        (dict(n=8, well_radius=4), "model.net.well_radius"),
        (dict(n=8, k=9, well_radius=1), "model.net.k"),
        (dict(channels=()), "model.net.channels"),
    ],
)
def test_well_net_bad_config_names_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        WellNet(**kwargs)


def _tiny_landscape_net(**kw):
    torch.manual_seed(2)
    net = LandscapeNet(
        n=128,
        encoder_channels=(4, 6),
        kernel_size=5,
        decider_channels=(8, 4),
        box_channels=(8, 8, 8),
        box_strides=(4, 4, 4),
        head=(8,),
        **kw,
    )
    net.set_stats(
        {
            "V": {"mean": 0.5, "std": 0.3},
            "W": {"mean": 0.2, "std": 0.1},
            "dW": {"mean": 0.0, "std": 0.05},
            "E": {"mean": 0.3, "std": 0.2},
            "N": {"mean": 4.0, "std": 2.0},
        }
    )
    return net


def test_landscape_net_decider_equals_the_explicit_first_layer():
    """A h + B [V, W] + E q is the first layer on [h, (V-E)/σ_V, (W-E)/σ_W, z(E)]."""
    net = _tiny_landscape_net().eval()
    V, W, dW = torch.rand(3, 128), torch.rand(3, 128) * 0.3 + 0.05, torch.randn(3, 128) * 0.05
    E = torch.rand(3, 5)
    with torch.no_grad():
        from lnet.models.features import aux_channels

        h = net.encoder(aux_channels(net.normalizer, net.aux, V, W, dW))
        norm = net.normalizer
        weight = torch.cat([net.decide_site.weight, net.decide_energy.weight], dim=1)
        for j in range(5):
            e = E[:, j, None]
            explicit = torch.cat(
                [
                    h,
                    ((V - e) / norm.std("V"))[:, None],
                    ((W - e) / norm.std("W"))[:, None],
                    ((e - norm.mean("E")) / norm.std("E")).expand(-1, 128)[:, None],
                ],
                dim=1,
            )
            first = torch.einsum("dc,bcn->bnd", weight, explicit) + net.decide_site.bias
            expected = net.count(first)
            torch.testing.assert_close(net(V, W, dW, E)[:, j], expected, rtol=1e-5, atol=1e-6)


def test_landscape_net_energy_grouping_does_not_change_predictions():
    net = _tiny_landscape_net().eval()
    V = torch.rand(4, 128)
    E = torch.rand(4, 6)
    with torch.no_grad():
        grouped = net(V, V, V, E)
        single = torch.stack([net(V, V, V, E[:, j]) for j in range(6)], dim=1)
        assert grouped.shape == (4, 6) and torch.all(grouped >= 0)
        torch.testing.assert_close(grouped, single, rtol=1e-5, atol=1e-6)
        # periodic: invariant under a shift by a whole top-level box (4 * 4 * 4 = 64 sites)
        shifted = torch.roll(V, 64, dims=1)
        torch.testing.assert_close(net(shifted, shifted, shifted, E), grouped)


def test_paper_landscape_net_accepts_energies_grouped_by_potential():
    torch.manual_seed(0)
    net = PaperLandscapeNet(
        n=64, box_strides=(4, 4, 4), decider_channels=(4, 6, 8), box_channels=(8, 8, 8)
    ).eval()
    V, E = torch.rand(3, 64), torch.rand(3, 4)
    with torch.no_grad():
        grouped = net(V, V, V, E)
        pairs = net(
            V.repeat_interleave(4, 0),
            V.repeat_interleave(4, 0),
            V.repeat_interleave(4, 0),
            E.reshape(-1),
        )
    torch.testing.assert_close(grouped, pairs.view(3, 4))


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(n=1001), "model.net.n"),
        (dict(encoder_channels=()), "model.net.encoder_channels"),
        (dict(decider_channels=()), "model.net.decider_channels"),
        (dict(kernel_size=4), "model.net.kernel_size"),
        (dict(aux=("Q",)), "model.net.aux"),
        (dict(aux=()), "model.net.aux"),
        (dict(width=0), "model.net.width"),
        (dict(box_strides=(10, 100)), "model.net.box_strides"),
    ],
)
def test_landscape_net_bad_config_names_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        LandscapeNet(**kwargs)


@pytest.mark.parametrize("law", [BoxCountingLaw(c1=0.5, c2=1.5, fit=False), WeylLaw()])
def test_laws_accept_energies_grouped_by_potential(law, rng):
    V = rng.random((3, 64))
    W = torch.from_numpy(landscape_potential(V))
    E = torch.from_numpy(rng.uniform(0.05, 0.6, (3, 4)))
    grouped = law(W, W, W, E)
    Wr = W.repeat_interleave(4, 0)  # one row per (potential, energy) pair
    pairs = law(Wr, Wr, Wr, E.reshape(-1))
    assert grouped.shape == (3, 4)
    torch.testing.assert_close(grouped.reshape(-1), pairs)
