"""UniversalLandscapeNet2D: any L1 × L2, extensive on supercells, exact zeros, chunking.

The net is a function of the fields (V, W, ∇W), so these tests feed it any positive
stand-in landscape W with its periodic central-difference gradient: they do not need
the 2-D physics (tests/models/test_landscape_2d_laws_and_predictor.py does).
"""

import numpy as np
import pytest
import torch

from lnet.errors import ConfigError
from lnet.models import CountingModule, UniversalLandscapeNet2D
from lnet.models.universal_landscape_net_2d import CircularConv2d
from lnet.predict import load_net, save_net

SMALL = dict(
    encoder_channels=(4, 6), kernel_size=3, dilations=(1, 3), decider_channels=(8, 4), levels=3
)


def gradient(W: np.ndarray) -> np.ndarray:
    """Periodic central differences ``(B, L1, L2)`` -> ``(B, 2, L1, L2)`` (axis L1, then L2)."""
    return np.stack(
        [
            0.5 * (np.roll(W, -1, axis=-2) - np.roll(W, 1, axis=-2)),
            0.5 * (np.roll(W, -1, axis=-1) - np.roll(W, 1, axis=-1)),
        ],
        axis=-3,
    )


def stand_in_landscape(V: np.ndarray) -> np.ndarray:
    """A positive, smooth, periodic field built locally from V (tiles when V tiles)."""
    W = 0.05 + 0.5 * V
    for _ in range(2):
        W = (
            W + np.roll(W, 1, -1) + np.roll(W, -1, -1) + np.roll(W, 1, -2) + np.roll(W, -1, -2)
        ) / 5
    return W


def fields(V: np.ndarray) -> tuple[torch.Tensor, ...]:
    W = stand_in_landscape(V)
    return tuple(torch.from_numpy(a) for a in (V, W, gradient(W)))


def randomise_norm_statistics(net: torch.nn.Module) -> None:
    with torch.no_grad():  # random (not freshly initialised) normalisation statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


@pytest.fixture(params=["levels", "decider"])
def net(request) -> UniversalLandscapeNet2D:
    torch.manual_seed(0)
    net = UniversalLandscapeNet2D(form=request.param, **SMALL).double().eval()
    randomise_norm_statistics(net)
    return net


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (3, 2), (5, 7), (9, 9), (12, 4)])
@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_circular_convolution_is_the_convolution_on_the_torus(shape, dilation):
    """Against the plain convolution of the input tiled around itself (any side vs. pad)."""
    torch.manual_seed(0)
    conv = CircularConv2d(2, 3, 3, dilation).double()
    x = torch.randn(2, 2, *shape, dtype=torch.float64)
    L1, L2 = shape
    k1, k2 = -(-dilation // L1), -(-dilation // L2)  # copies on each side to cover the pad
    big = x.repeat(1, 1, 2 * k1 + 1, 2 * k2 + 1)
    ref = conv.conv(big)  # valid convolution, then the centre copy
    c1, c2 = k1 * L1 - dilation, k2 * L2 - dilation
    torch.testing.assert_close(conv(x), ref[..., c1 : c1 + L1, c2 : c2 + L2])


def test_default_net_is_small_and_declares_its_dimension():
    net = UniversalLandscapeNet2D()
    assert net.dim == 2 and net.n is None and net.task == "counting"
    assert sum(p.numel() for p in net.parameters()) <= 200_000


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 5), (7, 7), (4, 9), (16, 16), (33, 20)])
def test_any_lattice_shape(net, rng, shape):
    V = rng.random((2, *shape))
    E = rng.random((2, 6)) * 0.5
    with torch.no_grad():
        out = net(*fields(V), torch.from_numpy(E))
        one = net(*fields(V), torch.from_numpy(E[:, 0]))
    assert out.shape == (2, 6) and one.shape == (2,)
    assert torch.isfinite(out).all() and (out >= 0).all()
    torch.testing.assert_close(one, out[:, 0])


@pytest.mark.parametrize("copies", [(2, 1), (1, 3), (2, 3), (4, 4)])
def test_prediction_is_extensive_on_supercells(net, rng, copies):
    """V tiled k1 × k2 times has W, ∇W tiled: the site sum must give k1·k2 times N̂."""
    V = rng.random((2, 5, 7)) * 3.0
    E = torch.from_numpy(np.sort(rng.random((2, 5)), axis=1))
    with torch.no_grad():
        one = net(*fields(V), E)
        tiled = net(*fields(np.tile(V, (1, *copies))), E)
    k = copies[0] * copies[1]
    np.testing.assert_allclose(tiled.numpy(), k * one.numpy(), rtol=1e-9, atol=1e-9)


def test_group_norm_is_extensive_too(rng):
    torch.manual_seed(2)
    net = UniversalLandscapeNet2D(norm="group", **SMALL).double().eval()
    V = rng.random((1, 6, 4)) + 0.1
    E = torch.from_numpy(rng.random((1, 4)) * 2.0)
    with torch.no_grad():
        one = net(*fields(V), E)
        tiled = net(*fields(np.tile(V, (1, 3, 2))), E)
    np.testing.assert_allclose(tiled.numpy(), 6 * one.numpy(), rtol=1e-9, atol=1e-9)


def test_levels_form_is_monotone_in_energy_and_zero_below_every_level(rng):
    torch.manual_seed(1)
    net = UniversalLandscapeNet2D(**SMALL).double().eval()
    V = rng.random((3, 6, 5))
    E = torch.from_numpy(np.tile(np.geomspace(1e-6, 20.0, 200), (3, 1)))
    with torch.no_grad():
        out = net(*fields(V), E).numpy()
        nothing = net(*fields(V), torch.tensor([[0.0, -1.0]], dtype=torch.float64).expand(3, 2))
    assert (np.diff(out, axis=1) >= -1e-12).all()
    assert (out[:, 0] == 0.0).all()  # far below the landscape: exactly no states
    assert (nothing == 0.0).all()  # E <= 0: no states
    assert (out[:, -1] > 0).all()


def test_density_can_vanish_exactly_at_any_size(rng):
    """No positive floor: a density switched off everywhere predicts exactly 0 at every size."""
    for form in ("levels", "decider"):
        net = UniversalLandscapeNet2D(form=form, **SMALL).double().eval()
        with torch.no_grad():
            if form == "decider":
                net.decider[-1].bias.fill_(-1e3)
            else:
                net.decider[-1].bias[2 * net.levels :].fill_(-1e3)  # weights softplus(-1e3) = 0
        for shape in ((2, 2), (10, 7), (64, 64)):
            V = rng.random((1, *shape))
            E = torch.tensor([[0.1, 0.5, 3.0]], dtype=torch.float64)
            with torch.no_grad():
                assert net(*fields(V), E).eq(0).all()


def test_chunked_inference_matches_one_pass(net, rng):
    V = rng.random((3, 6, 5))
    E = torch.from_numpy(rng.random((3, 40)))
    with torch.no_grad():
        whole = net(*fields(V), E)
        net.chunk_elements = 500  # a few energies per chunk
        chunked = net(*fields(V), E)
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)


def test_translation_invariant(net, rng):
    """Circular convolutions and a site sum: a periodic shift changes nothing."""
    V = rng.random((2, 6, 9))
    E = torch.from_numpy(rng.random((2, 4)))
    with torch.no_grad():
        a = net(*fields(V), E)
        b = net(*fields(np.roll(V, (2, -4), axis=(1, 2))), E)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def weyl_2d_target(W: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Synthetic counts: the 2-D continuum Weyl law Σ_x (E - W(x))_+ / (4π)."""
    return np.maximum(E[:, :, None, None] - W[:, None], 0.0).sum(axis=(-1, -2)) / (4 * np.pi)


def test_training_reduces_the_loss_through_the_counting_module(rng):
    torch.manual_seed(0)
    module = CountingModule(UniversalLandscapeNet2D(**SMALL))
    V = rng.random((8, 6, 6)) * 2.0
    W = stand_in_landscape(V)
    E = rng.uniform(0.1, 1.5, (8, 8))
    batch = {
        k: torch.from_numpy(a).float()
        for k, a in dict(V=V, W=W, dW=gradient(W), E=E, N=weyl_2d_target(W, E)).items()
    }
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    module.train()
    losses = []
    for _ in range(40):
        loss = module.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.2 * losses[0]


def test_save_and_load_round_trip(net, rng, tmp_path):
    path = tmp_path / "net.pt"
    save_net(net, path)
    loaded = load_net(path).double()
    assert type(loaded) is UniversalLandscapeNet2D and loaded.config == net.config
    assert loaded.form == net.form and loaded.dim == 2
    V = rng.random((2, 5, 8))
    E = torch.from_numpy(rng.random((2, 3)))
    with torch.no_grad():
        torch.testing.assert_close(loaded(*fields(V), E), net(*fields(V), E))


def test_wrong_field_shapes_name_the_shapes(net, rng):
    V, W, dW = fields(rng.random((2, 4, 4)))
    E = torch.rand(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(b, L1, L2\)"):
        net(V[:, 0], W[:, 0], dW[:, :, 0], E)  # 1-D fields
    with pytest.raises(ValueError, match=r"dW \(b, 2, L1, L2\)"):
        net(V, W, dW[:, :1], E)
    with pytest.raises(ValueError, match="E must have shape"):
        net(V, W, dW, E[:1])


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
        (dict(norm="layer"), "model.net.norm"),
        (dict(width=0.0), "model.net.width"),
    ],
)
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        UniversalLandscapeNet2D(**{**SMALL, **kwargs})
