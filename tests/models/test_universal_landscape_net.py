"""UniversalLandscapeNet: any lattice length, extensive, exact zeros, chunking, errors."""

import numpy as np
import pytest
import torch

from lnet.errors import ConfigError
from lnet.models import UniversalLandscapeNet
from lnet.physics import landscape_potential, periodic_derivative
from lnet.predict import Predictor, load_net, save_net

SMALL = dict(encoder_channels=(4, 6), kernel_size=5, dilations=(1, 3), decider_channels=(8, 4))


def fields(V: np.ndarray) -> tuple[torch.Tensor, ...]:
    W = landscape_potential(V)
    return tuple(torch.from_numpy(a) for a in (V, W, periodic_derivative(W)))


@pytest.fixture(params=["levels", "decider"])
def net(request) -> UniversalLandscapeNet:
    torch.manual_seed(0)
    net = UniversalLandscapeNet(form=request.param, **SMALL).double().eval()
    with torch.no_grad():  # random (not freshly initialised) normalisation statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


@pytest.mark.parametrize("n", [3, 4, 5, 7, 64, 999, 1000])
def test_any_lattice_length(net, rng, n):
    V = rng.random((2, n))
    E = rng.random((2, 6)) * 0.5
    with torch.no_grad():
        out = net(*fields(V), torch.from_numpy(E))
    assert out.shape == (2, 6)
    assert torch.isfinite(out).all() and (out >= 0).all()


@pytest.mark.parametrize("copies", [2, 3, 10])
def test_prediction_is_extensive_on_supercells(net, rng, copies):
    """V tiled k times has W tiled k times: the site sum must give exactly k times N̂."""
    V = rng.random((2, 37)) * 3.0
    E = torch.from_numpy(np.sort(rng.random((2, 5)), axis=1))
    with torch.no_grad():
        one = net(*fields(V), E)
        tiled = net(*fields(np.tile(V, copies)), E)
    np.testing.assert_allclose(tiled.numpy(), copies * one.numpy(), rtol=1e-9, atol=1e-9)


def test_levels_form_is_monotone_in_energy_and_zero_below_every_level(rng):
    torch.manual_seed(1)
    net = UniversalLandscapeNet(**SMALL).double().eval()
    V = rng.random((3, 50))
    E = torch.from_numpy(np.tile(np.geomspace(1e-6, 5.0, 200), (3, 1)))
    with torch.no_grad():
        out = net(*fields(V), E).numpy()
    assert (np.diff(out, axis=1) >= -1e-12).all()
    assert (out[:, 0] == 0.0).all()  # far below the landscape: exactly no states


def test_density_can_vanish_exactly_at_any_size(rng):
    """No positive floor: a density switched off everywhere predicts 0 at every n."""
    net = UniversalLandscapeNet(form="decider", **SMALL).double().eval()
    with torch.no_grad():
        net.decider[-1].bias.fill_(-1e3)
    for n in (10, 1000, 20000):
        V = rng.random((1, n))
        with torch.no_grad():
            assert net(*fields(V), torch.tensor([[0.1, 0.5]], dtype=torch.float64)).eq(0).all()


def test_chunked_inference_matches_one_pass(net, rng):
    V = rng.random((3, 80))
    E = torch.from_numpy(rng.random((3, 40)))
    with torch.no_grad():
        whole = net(*fields(V), E)
        net.chunk_elements = 500  # a few energies per chunk
        chunked = net(*fields(V), E)
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)


def test_training_statistics_do_not_change_predictions(net, rng):
    """Inputs are physical or dimensionless: no normalisation is fitted on a training law."""
    V = rng.random((2, 40))
    E = torch.from_numpy(rng.random((2, 4)))
    with torch.no_grad():
        before = net(*fields(V), E)
        net.set_stats({f: {"mean": 7.0, "std": 3.0} for f in ("V", "W", "dW", "E", "N")})
        after = net(*fields(V), E)
    torch.testing.assert_close(after, before)


def test_predictor_and_saved_model_accept_any_length(net, rng, tmp_path):
    path = tmp_path / "net.pt"
    save_net(net.float(), path)
    loaded = Predictor(load_net(path))
    for n in (5, 300, 1001):
        V = rng.random((2, n))
        E = rng.random((2, 3)) * 0.3
        pred = loaded.predict_counts(V, E)
        assert pred.shape == (2, 3) and np.isfinite(pred).all()
        np.testing.assert_allclose(pred, Predictor(net).predict_counts(V, E), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(dilations=(1,)), "model.net.dilations"),
        (dict(dilations=(1, 0)), "model.net.dilations"),
        (dict(kernel_size=4), "model.net.kernel_size"),
        (dict(form="wells"), "model.net.form"),
        (dict(levels=0), "model.net.levels"),
        (dict(encoder_channels=()), "model.net.encoder_channels"),
        (dict(decider_channels=()), "model.net.decider_channels"),
        (dict(chunk_elements=0), "model.net.chunk_elements"),
    ],
)
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        UniversalLandscapeNet(**{**SMALL, **kwargs})
