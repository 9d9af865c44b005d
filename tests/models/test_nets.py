import numpy as np
import pytest
import torch

from lnet.data import ConfigError
from lnet.models import BoxCountingLaw, EigenNet, LandscapeNet, WeylLaw
from lnet.physics import box_count, landscape_potential


def n_params(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def test_default_landscape_net_size():
    assert 70_000 <= n_params(LandscapeNet()) <= 80_000


def test_landscape_net_shapes_nonnegative_and_modes():
    torch.manual_seed(0)
    net = LandscapeNet(
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


def test_landscape_net_is_periodic():
    torch.manual_seed(1)
    net = LandscapeNet(
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
        LandscapeNet(n=1001)
    with pytest.raises(ConfigError, match="model.net.aux"):
        LandscapeNet(aux=("V", "Q"))


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


def test_box_counting_is_the_global_optimum_on_real_counts(rng):
    from lnet.physics import count_eigenvalues

    V = rng.random((20, 128))
    W = landscape_potential(V)
    E = rng.uniform(0.02, 0.5, (20, 20))
    N = count_eigenvalues(V, E)
    law = BoxCountingLaw()
    fit = law.fit(W, E, N)
    # no point of an independent brute-force grid beats the fit
    for c2 in np.geomspace(1 / 32, 32, 97):
        B = box_count(W, c2 * E).astype(float)
        c1 = (N * B).sum() / max((B * B).sum(), 1e-300)
        assert np.mean((c1 * B - N) ** 2) >= fit["train_mse"] - 1e-12


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
