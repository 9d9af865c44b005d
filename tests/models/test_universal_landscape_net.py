"""UniversalLandscapeNet in 1-D, 2-D and 3-D: any lattice, extensive on supercells, exact zeros,
chunking, translation invariance, training, saving, errors.

The net is a function of the fields (V, W, ∇W), so most tests feed it a positive,
smooth stand-in landscape W with its periodic central-difference gradient: they do not
need the physics (the Predictor tests do).
"""

import numpy as np
import pytest
import torch

from lnet.errors import ConfigError
from lnet.models import CountingModule, UniversalLandscapeNet, UniversalLandscapeNet2D
from lnet.models.level_curve import level_curve
from lnet.models.universal_landscape_net import CircularConv, site_features
from lnet.physics import hamiltonian, landscape_potential, weyl_count
from lnet.predict import Predictor, load_net, save_net

DIMS = (1, 2, 3)
SMALL = {
    1: dict(encoder_channels=(4, 6), kernel_size=5, dilations=(1, 3), decider_channels=(8, 4)),
    2: dict(
        encoder_channels=(4, 6), kernel_size=3, dilations=(1, 3), decider_channels=(8, 4), levels=3
    ),
    3: dict(
        encoder_channels=(3, 4), kernel_size=3, dilations=(1, 2), decider_channels=(6, 4), levels=3
    ),
}
SHAPES = {  # lattices each test draws from, per dimension
    1: [(3,), (4,), (5,), (7,), (64,), (999,), (1000,)],
    2: [(2, 2), (2, 3), (3, 5), (7, 7), (4, 9), (16, 16), (33, 20)],
    3: [(2, 2, 2), (2, 3, 4), (3, 3, 3), (5, 4, 3), (8, 8, 8)],
}
BASE = {1: (37,), 2: (5, 7), 3: (3, 5, 2)}  # a lattice that is not a power of two on any side
COPIES = {
    1: [(2,), (3,), (10,)],
    2: [(2, 1), (1, 3), (2, 3), (4, 4)],
    3: [(2, 1, 1), (1, 1, 3), (2, 2, 2)],
}


def make(dim: int, **kw) -> UniversalLandscapeNet:
    return UniversalLandscapeNet(**{**SMALL[dim], **kw}, dim=dim)


def gradient(W: np.ndarray, dim: int) -> np.ndarray:
    """Periodic central differences: ``(B, n)`` in 1-D, ``(B, d, L1, …, Ld)`` otherwise."""
    g = [0.5 * (np.roll(W, -1, a) - np.roll(W, 1, a)) for a in range(-dim, 0)]
    return g[0] if dim == 1 else np.stack(g, axis=-dim - 1)


def stand_in_landscape(V: np.ndarray, dim: int) -> np.ndarray:
    """A positive, smooth, periodic field built locally from V (tiles when V tiles)."""
    W = 0.05 + 0.5 * V
    for _ in range(2):
        W = (W + sum(np.roll(W, s, a) for a in range(-dim, 0) for s in (1, -1))) / (1 + 2 * dim)
    return W


def fields(V: np.ndarray, dim: int) -> tuple[torch.Tensor, ...]:
    W = stand_in_landscape(V, dim)
    return tuple(torch.from_numpy(a) for a in (V, W, gradient(W, dim)))


def randomise_norm_statistics(net: torch.nn.Module) -> None:
    with torch.no_grad():  # random (not freshly initialised) normalisation statistics
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


@pytest.fixture(params=DIMS, ids=lambda d: f"{d}d")
def dim(request) -> int:
    return request.param


@pytest.fixture(params=["levels", "decider", "weyl"])
def net(request, dim) -> UniversalLandscapeNet:
    torch.manual_seed(0)
    net = make(dim, form=request.param).double().eval()
    randomise_norm_statistics(net)
    if request.param == "weyl":  # away from its start (the plain Weyl law): varied corrections
        with torch.no_grad():
            net.decider[-1].weight.normal_(0.0, 0.5)
            net.decider[-1].bias.normal_(0.0, 0.3)
    return net


@pytest.mark.parametrize("dilation", [1, 2, 4])
@pytest.mark.parametrize(
    "shape", [(1,), (2,), (5,), (12,), (1, 1), (2, 3), (3, 2), (9, 9), (12, 4)]
)
def test_circular_convolution_is_the_convolution_on_the_torus(shape, dilation):
    """Against the plain convolution of the input tiled around itself (any side vs. pad)."""
    torch.manual_seed(0)
    d = len(shape)
    conv = CircularConv(2, 3, 3, dilation, d).double()
    x = torch.randn(2, 2, *shape, dtype=torch.float64)
    k = [-(-dilation // L) for L in shape]  # copies on each side to cover the pad
    ref = conv.conv(x.repeat(1, 1, *(2 * c + 1 for c in k)))  # valid convolution
    centre = tuple(
        slice(c * L - dilation, c * L - dilation + L) for c, L in zip(k, shape, strict=True)
    )
    torch.testing.assert_close(conv(x), ref[(..., *centre)])


def test_default_nets_are_small_and_declare_their_dimension(dim):
    net = UniversalLandscapeNet(dim=dim)
    assert net.dim == dim and net.n is None and net.task == "counting"
    assert sum(p.numel() for p in net.parameters()) <= 200_000
    assert isinstance(
        net.encoder[0].conv, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)[dim - 1]
    )


def test_the_2d_alias_is_the_2d_net():
    alias = UniversalLandscapeNet2D(**SMALL[2])
    assert (
        isinstance(alias, UniversalLandscapeNet) and alias.dim == UniversalLandscapeNet2D.dim == 2
    )
    assert alias.config_name() == "universal_landscape_net_2d"
    assert "dim" not in alias.config  # models logged under this name carry no dim
    torch.manual_seed(0)
    a = UniversalLandscapeNet2D(**SMALL[2])
    torch.manual_seed(0)
    b = make(2)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_any_lattice(net, rng, dim):
    for shape in SHAPES[dim]:
        V = rng.random((2, *shape))
        E = rng.random((2, 6)) * 0.5
        with torch.no_grad():
            out = net(*fields(V, dim), torch.from_numpy(E))
            one = net(*fields(V, dim), torch.from_numpy(E[:, 0]))
        assert out.shape == (2, 6) and one.shape == (2,)
        assert torch.isfinite(out).all() and (out >= 0).all()
        torch.testing.assert_close(one, out[:, 0])


def assert_extensive_on_supercells(net: UniversalLandscapeNet, rng, dim: int) -> None:
    """V tiled k times has W, ∇W tiled: the site sum must give exactly k times N̂."""
    V = rng.random((2, *BASE[dim])) * 3.0
    E = torch.from_numpy(np.sort(rng.random((2, 5)), axis=1))
    for copies in COPIES[dim]:
        with torch.no_grad():
            one = net(*fields(V, dim), E)
            tiled = net(*fields(np.tile(V, (1, *copies)), dim), E)
        k = int(np.prod(copies))
        np.testing.assert_allclose(tiled.numpy(), k * one.numpy(), rtol=1e-9, atol=1e-9)


def test_prediction_is_extensive_on_supercells(net, rng, dim):
    assert_extensive_on_supercells(net, rng, dim)


def test_group_norm_is_extensive_too(rng, dim):
    torch.manual_seed(2)
    net = make(dim, norm="group").double().eval()
    V = rng.random((1, *BASE[dim])) + 0.1
    E = torch.from_numpy(rng.random((1, 4)) * 2.0)
    copies = (3,) * dim
    with torch.no_grad():
        one = net(*fields(V, dim), E)
        tiled = net(*fields(np.tile(V, (1, *copies)), dim), E)
    np.testing.assert_allclose(tiled.numpy(), 3**dim * one.numpy(), rtol=1e-9, atol=1e-9)


def context_net(dim: int, form: str = "levels") -> UniversalLandscapeNet:
    """A ``context="mean"`` net with random (not zero-initialised) context weights."""
    torch.manual_seed(3)
    net = make(dim, form=form, context="mean").double().eval()
    randomise_norm_statistics(net)
    with torch.no_grad():
        net.decide_context.weight.normal_(0.0, 0.5)
        net.decide_context.bias.normal_(0.0, 0.3)
    return net


@pytest.mark.parametrize("form", ["levels", "decider", "weyl"])
def test_mean_context_is_extensive_too(rng, dim, form):
    """Tiling V tiles every site's window and leaves the means over the sites unchanged."""
    assert_extensive_on_supercells(context_net(dim, form), rng, dim)


def test_mean_context_starts_as_the_net_without_it(rng, dim):
    """The context layer starts at zero: a context-free net's weights give the same
    counts, so a fine-tune can add the context to a trained net."""
    torch.manual_seed(0)
    plain = make(dim).double().eval()
    randomise_norm_statistics(plain)
    with_context = make(dim, context="mean").double().eval()
    missing, unexpected = with_context.load_state_dict(plain.state_dict(), strict=False)
    assert set(missing) == {"decide_context.weight", "decide_context.bias"} and not unexpected
    V = rng.random((2, *BASE[dim])) * 2.0
    E = torch.from_numpy(rng.random((2, 6)) * 2.0)
    with torch.no_grad():
        torch.testing.assert_close(with_context(*fields(V, dim), E), plain(*fields(V, dim), E))


def test_mean_context_shifts_every_site_by_the_map_of_the_means(rng, dim):
    """site part with context − without = A [mean_x h(x), mean_x log W(x)] + c, the same
    vector at every site; h the encoder's output."""
    net = context_net(dim)
    V, W, dW = fields(rng.random((2, *BASE[dim])) + 0.2, dim)
    with torch.no_grad():
        site = net.site_part(V, W, dW)
        h = net.encoder(site_features(V, W, dW, dim)).flatten(2)  # (b, C, n)
        means = torch.cat([h.mean(dim=-1), torch.log(W).flatten(1).mean(dim=-1, keepdim=True)], 1)
        shift = means @ net.decide_context.weight.T + net.decide_context.bias
        net.decide_context.weight.zero_()
        net.decide_context.bias.zero_()
        plain = net.site_part(V, W, dW)
    torch.testing.assert_close(site - plain, shift[:, None, :].expand_as(site))
    assert shift.abs().min() > 0


def test_levels_form_is_monotone_in_energy_and_zero_below_every_level(rng, dim):
    torch.manual_seed(1)
    net = make(dim).double().eval()
    V = rng.random((3, *BASE[dim]))
    E = torch.from_numpy(np.tile(np.geomspace(1e-6, 20.0, 200), (3, 1)))
    with torch.no_grad():
        out = net(*fields(V, dim), E).numpy()
        nothing = net(
            *fields(V, dim), torch.tensor([[0.0, -1.0]], dtype=torch.float64).expand(3, 2)
        )
    assert (np.diff(out, axis=1) >= -1e-12).all()
    assert (out[:, 0] == 0.0).all()  # far below the landscape: exactly no states
    assert (nothing == 0.0).all()  # E <= 0: no states
    assert (out[:, -1] > 0).all()


@pytest.mark.parametrize("form", ["levels", "decider"])
def test_density_can_vanish_exactly_at_any_size(rng, dim, form):
    """No positive floor: a density switched off everywhere predicts exactly 0 at every size."""
    net = make(dim, form=form).double().eval()
    with torch.no_grad():
        if form == "decider":
            net.decider[-1].bias.fill_(-1e3)
        else:
            net.decider[-1].bias[2 * net.levels :].fill_(-1e3)  # weights softplus(-1e3) = 0
    sizes = {
        1: [(10,), (1000,), (20000,)],
        2: [(2, 2), (10, 7), (64, 64)],
        3: [(2, 2, 2), (5, 4, 3), (16, 16, 16)],
    }[dim]
    for shape in sizes:
        V = rng.random((1, *shape))
        E = torch.tensor([[0.1, 0.5, 3.0]], dtype=torch.float64)
        with torch.no_grad():
            assert net(*fields(V, dim), E).eq(0).all()


def physical_fields(V: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """V, the true landscape potential W = 1/u of each potential, and its gradient."""
    W = np.stack([landscape_potential(v, dim=dim) for v in V])
    return V, W, gradient(W, dim)


@pytest.mark.parametrize("shape", [(33,), (2, 2), (9, 7), (2, 2, 2), (5, 4, 3)])
def test_weyl_form_starts_as_the_lattice_weyl_law(rng, shape):
    """Untrained, the weyl form is Σ_x N_d(E - W(x)): lnet.physics.weyl_count(kind="lattice")."""
    dim = len(shape)
    torch.manual_seed(0)
    net = make(dim, form="weyl").double().eval()
    randomise_norm_statistics(net)
    V, W, dW = physical_fields(rng.random((3, *shape)) * 2.0, dim)
    E = rng.uniform(-0.5, 4.0 * dim + 3.0, (3, 9))
    with torch.no_grad():
        out = net(*(torch.from_numpy(a) for a in (V, W, dW, E))).numpy()
    np.testing.assert_allclose(
        out, weyl_count(W, E, kind="lattice", dim=dim), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("c", [0.7, 1.3])
def test_constant_corrections_give_the_shifted_and_scaled_weyl_law(rng, dim, c):
    """σ(x) = log c everywhere is the energy-shifted law Σ_x N_d(E / c - W(x)); adding
    α = a and δ = d everywhere gives e^a Σ_x N_d(E / c - e^d W(x))."""
    net = make(dim, form="weyl").double().eval()
    V, W, dW = physical_fields(rng.random((2, *BASE[dim])), dim)
    E = rng.uniform(0.0, 3.0, (2, 7))
    inputs = [torch.from_numpy(x) for x in (V, W, dW, E)]
    bias = net.decider[-1].bias
    with torch.no_grad():  # each correction is 2 tanh(b / 2)
        bias[1] = 2.0 * np.arctanh(np.log(c) / 2.0)
        shifted = net(*inputs).numpy()
        a, d = 0.4, -0.3
        bias[0], bias[2] = 2.0 * np.arctanh(a / 2.0), 2.0 * np.arctanh(d / 2.0)
        scaled = net(*inputs).numpy()
    np.testing.assert_allclose(shifted, weyl_count(W, E / c, kind="lattice", dim=dim), rtol=1e-10)
    want = np.exp(a) * weyl_count(np.exp(d) * W, E / c, kind="lattice", dim=dim)
    np.testing.assert_allclose(scaled, want, rtol=1e-10)


@pytest.mark.parametrize("free_spectrum", ["infinite", "torus"])
def test_weyl_form_is_monotone_in_energy_and_zero_below_every_site(rng, dim, free_spectrum):
    torch.manual_seed(1)
    net = make(dim, form="weyl", free_spectrum=free_spectrum).double().eval()
    with torch.no_grad():
        net.decider[-1].weight.normal_(0.0, 0.5)
        net.decider[-1].bias.normal_(0.0, 0.3)
    V = rng.random((3, *BASE[dim]))
    E = torch.from_numpy(np.tile(np.geomspace(1e-6, 40.0, 200), (3, 1)))
    with torch.no_grad():
        out = net(*fields(V, dim), E).numpy()
    assert (np.diff(out, axis=1) >= -1e-12).all() and (out >= 0).all()
    assert (out[:, 0] == 0.0).all() and (out[:, -1] > 0).all()


@pytest.mark.parametrize("shape", [(33,), (9, 7), (2, 2, 2), (5, 4, 3)])
def test_torus_weyl_form_starts_as_the_torus_weyl_law(rng, shape):
    """Untrained, free_spectrum="torus" is Σ_x N_L(E - W(x)), N_L the free torus's
    staircase from its dense spectrum; translation-invariant, and saved and loaded whole."""
    dim = len(shape)
    net = make(dim, form="weyl", free_spectrum="torus").double().eval()
    V, W, dW = physical_fields(rng.random((2, *shape)) * 2.0, dim)
    E = rng.uniform(-0.5, 4.0 * dim + 3.0, (2, 9))
    free = np.linalg.eigvalsh(hamiltonian(np.full(shape, 0.5), dim=dim).toarray()) - 0.5
    gap = E[:, :, None] - W.reshape(2, 1, -1)
    want = (free[:, None, None, None] <= gap).sum(axis=(0, -1)) / free.size
    with torch.no_grad():
        out = net(*(torch.from_numpy(a) for a in (V, W, dW, E))).numpy()
        rolled = net(*fields_rolled(V, W, dW, dim), torch.from_numpy(E)).numpy()
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rolled, out, rtol=1e-12, atol=1e-12)


def fields_rolled(V, W, dW, dim):
    axes = tuple(range(1, 1 + dim))
    shift = (1, -2, 1)[:dim]
    grad_axes = axes if dim == 1 else tuple(a + 1 for a in axes)
    return (
        torch.from_numpy(np.roll(V, shift, axes)),
        torch.from_numpy(np.roll(W, shift, axes)),
        torch.from_numpy(np.roll(dW, shift, grad_axes)),
    )


def test_chunked_inference_matches_one_pass(net, rng, dim):
    V = rng.random((3, *BASE[dim]))
    E = torch.from_numpy(rng.random((3, 40)))
    net.curve_min_energies = 10**9  # the per-energy route (levels form), not the sweep
    with torch.no_grad():
        whole = net(*fields(V, dim), E)
        net.chunk_elements = 500  # a few energies per chunk
        chunked = net(*fields(V, dim), E)
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)


def levels_net(dim: int, seed: int = 3) -> UniversalLandscapeNet:
    """A levels net with random weights: levels spread over decades, varied widths and
    weights (the constructor's output layer starts them almost alike)."""
    torch.manual_seed(seed)
    net = make(dim).double().eval()
    randomise_norm_statistics(net)
    with torch.no_grad():
        net.decider[-1].weight.normal_(0.0, 0.5)
        net.decider[-1].bias.normal_(0.0, 1.0)
    return net


def both_routes(net: UniversalLandscapeNet, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The levels net's prediction by the breakpoint sweep and by the per-energy route."""
    with torch.no_grad():
        net.curve_min_energies = 1
        sweep = net(*args)
        net.curve_min_energies = 10**9
        ramps = net(*args)
    return sweep, ramps


def test_curve_sweep_equals_the_ramp_sum(rng, dim):
    """Any E: below every level (exactly 0), among them, above every level, E <= 0, E of
    shape (b, m) and (b,), unsorted and repeated energies; float64 and float32 nets."""
    net = levels_net(dim)
    V = rng.random((3, *BASE[dim])) * 2.0
    E = 10.0 ** rng.uniform(-4.0, 2.0, (3, 60))
    E[:, :4] = [1e-30, 0.0, -1.0, 1e-12]  # below every level
    E[:, 4:6] = [1e8, 1e30]  # above every level
    E[:, 6] = E[:, 10]  # ties
    E = torch.from_numpy(E)
    sweep, ramps = both_routes(net, *fields(V, dim), E)
    assert sweep.shape == (3, 60) and sweep.dtype == torch.float64
    torch.testing.assert_close(sweep, ramps, rtol=1e-10, atol=1e-12)
    assert (sweep[:, :4] == 0).all() and (ramps[:, :4] == 0).all()
    assert (sweep[:, 7:] > 0).any() and (sweep[:, 4] > sweep[:, 7:].median()).all()
    one, one_ramps = both_routes(net, *fields(V, dim), E[:, 8])
    assert one.shape == (3,)
    torch.testing.assert_close(one, one_ramps, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(one, sweep[:, 8], rtol=1e-12, atol=1e-12)
    sweep32, ramps32 = both_routes(net.float(), *fields(V, dim), E)
    assert sweep32.dtype == torch.float32
    torch.testing.assert_close(sweep32, ramps32, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sweep32.double(), sweep, rtol=1e-4, atol=1e-4)


def random_ramps(b: int, n: int, J: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Ramps ``(b, n, J)`` in float64: levels N(0, 1), widths in [1e-3, 1 + 1e-3), weights
    in [0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    log_level = torch.randn(b, n, J, generator=gen, dtype=torch.float64)
    width = torch.rand(b, n, J, generator=gen, dtype=torch.float64) + 1e-3
    weight = torch.rand(b, n, J, generator=gen, dtype=torch.float64)
    return log_level, width, weight


def ramp_sum(*ramps_and_energies: torch.Tensor) -> torch.Tensor:
    """The levels net's per-energy route (every ramp at every energy) on given ramps."""
    net = make(1).double()
    net.curve_min_energies = 10**9
    with torch.no_grad():
        return net.level_count(*ramps_and_energies)


def test_curve_sweep_at_the_breakpoints_and_beyond():
    """level_curve against the per-energy ramp sum at log E exactly on every breakpoint
    (log e_j and log e_j + w_j), between them, below and above them all."""
    b, n, J = 2, 7, 3
    log_level, width, weight = random_ramps(b, n, J, seed=5)
    weight[0, 0, 0] = 0.0  # a ramp that counts nothing
    log_level[1, 1] = log_level[1, 0]  # coinciding levels
    starts, ends = log_level.reshape(b, -1), (log_level + width).reshape(b, -1)
    low, high = starts.min(dim=1, keepdim=True).values, ends.max(dim=1, keepdim=True).values
    log_e = torch.cat([starts, ends, (starts + ends) / 2, low - 1.0, high + 1.0, high], dim=1)
    sweep = level_curve(log_level, width, weight, log_e)
    torch.testing.assert_close(
        sweep, ramp_sum(log_level, width, weight, log_e), rtol=1e-12, atol=1e-12
    )
    total = weight.sum(dim=(1, 2))
    lowest = sweep.gather(1, starts.argmin(dim=1, keepdim=True))  # on the lowest level
    assert (sweep[:, -3] == 0).all() and (lowest == 0).all()
    torch.testing.assert_close(sweep[:, -2], total, rtol=1e-14, atol=0.0)
    torch.testing.assert_close(sweep[:, -1], total, rtol=1e-14, atol=0.0)


def test_curve_sweep_drops_the_ramps_above_every_energy(monkeypatch):
    """Ramps starting at or above a row's top energy are 0 there: the sweep drops those
    above every row's top and still equals the ramp sum (rows with different tops, one
    with no ramp on at all); a non-finite ramp is NaN for its row even when dropped."""
    import lnet.models.level_curve as module

    sizes = []
    running_sum = module.running_sum
    monkeypatch.setattr(
        module, "running_sum", lambda v, *a: sizes.append(v.shape[1]) or running_sum(v, *a)
    )
    b, n, J = 3, 40, 3
    log_level, width, weight = random_ramps(b, n, J, seed=7)
    low = log_level.amin(dim=(1, 2))
    tops = [-0.5, 0.3, float(low[2]) - 0.1]  # about 30 % and 60 % of the ramps start lower; none
    log_e = torch.stack([torch.linspace(-4.0, top, 50, dtype=torch.float64) for top in tops])
    sweep = level_curve(log_level, width, weight, log_e)
    torch.testing.assert_close(
        sweep, ramp_sum(log_level, width, weight, log_e), rtol=1e-12, atol=1e-12
    )
    assert 0 < sizes[0] < n * J and (sweep[0, -1] > 0) and (sweep[2] == 0).all()
    one = level_curve(log_level[2:], width[2:], weight[2:], log_e[2:])  # every ramp dropped
    assert sizes[-1] == 0 and (one == 0).all()
    highest = divmod(int(log_level[1].argmax()), J)  # above every row's top: dropped
    for which, value in ((0, float("inf")), (1, float("nan")), (2, float("nan"))):
        broken = [t.clone() for t in (log_level, width, weight)]
        broken[which][1, highest[0], highest[1]] = value
        out = level_curve(*broken, log_e)
        assert out[1].isnan().all() and out[[0, 2]].isfinite().all()


def test_curve_sweep_is_non_decreasing_and_non_negative(rng, dim):
    """Exactly (no tolerance): at energies in any order, dense where levels crowd."""
    net = levels_net(dim, seed=4)
    V = rng.random((2, *BASE[dim]))
    E = torch.from_numpy(10.0 ** rng.uniform(-3.0, 1.5, (2, 500)))
    with torch.no_grad():
        out = net(*fields(V, dim), E)
    order = E.argsort(dim=1)
    along = out.gather(1, order)
    assert (along >= 0).all() and (along.diff(dim=1) >= 0).all()
    assert along[:, 0].eq(0).all() and (along[:, -1] > 0).all()


def test_eval_encoder_folds_the_batch_norm_into_the_convolution(net, rng, dim, monkeypatch):
    """In eval mode the encoder convolves once with the batch norm folded in, never calls
    the norm, and gives the block-by-block map (conv, norm with running statistics, act)."""
    x = torch.from_numpy(rng.normal(size=(2, 2 + dim, *BASE[dim])))
    blocks = torch.nn.Sequential.forward(net.encoder, x)  # every module in turn
    monkeypatch.setattr(torch.nn.modules.batchnorm._BatchNorm, "forward", None)
    torch.testing.assert_close(net.encoder(x), blocks, rtol=1e-12, atol=1e-12)


def test_inference_of_many_energies_takes_the_sweep(rng, monkeypatch):
    """Without gradients and with at least curve_min_energies energies the levels net
    calls level_curve; with gradients (training) it never does, and its output is the
    per-energy route's, bit for bit."""
    import lnet.models.universal_landscape_net as module

    calls = []

    def spy(*args):
        calls.append(args[-1].shape)
        return level_curve(*args)

    monkeypatch.setattr(module, "level_curve", spy)
    net = levels_net(1)
    m = net.curve_min_energies
    assert m > 1 and net._sweeps(m) is False  # gradients are enabled here
    V = rng.random((2, 50))
    E = torch.from_numpy(rng.random((2, m)))
    with torch.no_grad():
        assert net._sweeps(m) and not net._sweeps(m - 1)
        net(*fields(V, 1), E[:, : m - 1])
        assert calls == []
        swept = net(*fields(V, 1), E)
    assert calls == [(2, m)]
    trained = net(*fields(V, 1), E)  # gradients on: the per-energy route
    assert calls == [(2, m)] and trained.requires_grad
    net.curve_min_energies = 10**9
    with torch.no_grad():
        ramps = net(*fields(V, 1), E)
    assert torch.equal(trained.detach(), ramps)
    torch.testing.assert_close(swept, ramps, rtol=1e-10, atol=1e-12)
    assert len(calls) == 1
    with torch.no_grad():  # the Predictor (no gradients) takes the sweep too
        Predictor(levels_net(1)).predict_counts(rng.random(30), rng.random(m))
    assert len(calls) == 2


def test_translation_invariant(net, rng, dim):
    """Circular convolutions and a site sum: a periodic shift changes nothing."""
    V = rng.random((2, *BASE[dim]))
    E = torch.from_numpy(rng.random((2, 4)))
    shift, axes = ((2, -4, 1)[:dim], tuple(range(1, 1 + dim)))
    with torch.no_grad():
        a = net(*fields(V, dim), E)
        b = net(*fields(np.roll(V, shift, axis=axes), dim), E)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_training_statistics_do_not_change_predictions(net, rng, dim):
    """Inputs are physical or dimensionless: no normalisation is fitted on a training law."""
    V = rng.random((2, *BASE[dim]))
    E = torch.from_numpy(rng.random((2, 4)))
    with torch.no_grad():
        before = net(*fields(V, dim), E)
        net.set_stats({f: {"mean": 7.0, "std": 3.0} for f in ("V", "W", "dW", "E", "N")})
        after = net(*fields(V, dim), E)
    torch.testing.assert_close(after, before)


def weyl_target(W: np.ndarray, E: np.ndarray, dim: int) -> np.ndarray:
    """Synthetic counts: the continuum Weyl law, Σ_x √(E - W)_+ / π in 1-D and
    Σ_x (E - W)_+ / (4π) in 2-D."""
    gap = np.maximum(E.reshape(*E.shape, *(1,) * dim) - W[:, None], 0.0)
    axes = tuple(range(-dim, 0))
    return np.sqrt(gap).sum(axis=axes) / np.pi if dim == 1 else gap.sum(axis=axes) / (4 * np.pi)


def test_training_reduces_the_loss_through_the_counting_module(rng, dim):
    torch.manual_seed(0)
    module = CountingModule(make(dim))
    V = rng.random((8, *{1: (36,), 2: (6, 6), 3: (4, 3, 3)}[dim])) * 2.0
    W = stand_in_landscape(V, dim)
    E = rng.uniform(0.1, 1.5, (8, 8))
    arrays = dict(V=V, W=W, dW=gradient(W, dim), E=E, N=weyl_target(W, E, dim))
    batch = {k: torch.from_numpy(a).float() for k, a in arrays.items()}
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


def test_save_and_load_round_trip(net, rng, tmp_path, dim):
    path = tmp_path / "net.pt"
    save_net(net, path)
    loaded = load_net(path).double()
    assert type(loaded) is UniversalLandscapeNet and loaded.config == net.config
    assert loaded.form == net.form and loaded.dim == dim
    V = rng.random((2, *BASE[dim]))
    E = torch.from_numpy(rng.random((2, 3)))
    with torch.no_grad():
        torch.testing.assert_close(loaded(*fields(V, dim), E), net(*fields(V, dim), E))


def test_predictor_and_saved_model_accept_any_size(net, rng, tmp_path, dim):
    """Through the physics: the Predictor computes W and ∇W itself."""
    path = tmp_path / "net.pt"
    save_net(net.float(), path)
    loaded = Predictor(load_net(path))
    for shape in {1: [(5,), (300,), (1001,)], 2: [(3, 4), (12, 12)], 3: [(2, 3, 4), (6, 6, 6)]}[
        dim
    ]:
        V = rng.random((2, *shape))
        E = rng.random((2, 3)) * 0.3
        pred = loaded.predict_counts(V, E)
        assert pred.shape == (2, 3) and np.isfinite(pred).all()
        np.testing.assert_allclose(pred, Predictor(net).predict_counts(V, E), rtol=1e-6)


def test_wrong_field_shapes_name_the_shapes(rng):
    V, W, dW = fields(rng.random((2, 4, 4)), 2)
    net = make(2).double()
    E = torch.rand(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(b, L1, L2\)"):
        net(V[:, 0], W[:, 0], dW[:, :, 0], E)  # 1-D fields
    with pytest.raises(ValueError, match=r"dW \(b, 2, L1, L2\)"):
        net(V, W, dW[:, :1], E)
    with pytest.raises(ValueError, match="E must have shape"):
        net(V, W, dW, E[:1])
    with pytest.raises(ValueError, match=r"\(1-D\) takes V, W \(b, n\)"):
        make(1).double()(V, W, dW, E)  # 2-D fields into a 1-D net


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
        (dict(dim=4), "model.net.dim"),
        (dict(form="weyl", free_spectrum="finite"), "model.net.free_spectrum"),
        (dict(context="global"), "model.net.context"),
    ],
)
def test_bad_arguments_name_the_key(kwargs, key, dim):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        UniversalLandscapeNet(**{**SMALL[dim], "dim": dim, **kwargs})


def test_predictor_names_the_dimension_a_model_takes(rng):
    with pytest.raises(ValueError, match=r"3-D model: .*\(L1, L2, L3\) or \(B, L1, L2, L3\)"):
        Predictor(make(3)).predict_counts(rng.random((4, 4)), [0.1])
    with pytest.raises(ValueError, match=r"1-D model: .*\(n,\) or \(B, n\)"):
        Predictor(make(1)).predict_counts(rng.random((2, 4, 4, 4)), rng.random((2, 1)))
