"""EigenNet and WellNet on the periodic L1 × L2 lattice (``shape=[L1, L2]``).

Shapes and positivity, torus invariance of WellNet, the 2-D well rule on hand-built
maps, config errors, the Predictor, a tiny ``experiment=v_vs_w_2d`` run end to end, and
the 1-D nets unchanged.
"""

import itertools

import mlflow
import numpy as np
import pytest
import torch

import lnet
from lnet.errors import ConfigError
from lnet.models import EigenNet, UniversalLandscapeNet2D, WellNet
from lnet.models.eigen_net import EigenNet2D
from lnet.models.metrics import eigenvalue_metrics
from lnet.models.well_net import WellNet2D, well_mask_2d
from lnet.physics import landscape_potential
from lnet.predict import Predictor, load_net, save_net
from lnet.training import model_name, train
from tests.conftest import config_error_of

SHAPE = (6, 8)  # not square, so that a mix-up of the two axes shows
K = 3


def _with_stats(net):
    net.set_stats(
        {
            "V": {"mean": 0.5, "std": 0.3},
            "W": {"mean": 0.3, "std": 0.1},
            "eigenvalues": {"mean": [0.4, 0.6, 0.7][: net.k], "std": [0.1] * net.k},
        }
    )
    return net


def tiny_eigen_net(**kw):
    torch.manual_seed(0)
    args = dict(shape=SHAPE, k=K, input="VW", channels=(4, 8), kernel_size=4, stride=2)
    return _with_stats(EigenNet(**{**args, "hidden": (8,), **kw}))


def tiny_well_net(**kw):
    torch.manual_seed(0)
    args = dict(shape=SHAPE, k=K, input="VW", channels=(4, 4), kernel_size=3, well_radius=1)
    return _with_stats(WellNet(**{**args, **kw}))


NETS = {"eigen_net": tiny_eigen_net, "well_net": tiny_well_net}


def fields(b: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    V = np.random.default_rng(seed).random((b, *SHAPE)) + 0.05
    return torch.from_numpy(V), torch.from_numpy(landscape_potential(V, dim=2))


@pytest.mark.parametrize("name", NETS)
def test_2d_nets_shapes_and_positivity(name):
    net = NETS[name]()
    assert net.dim == 2 and net.shape == SHAPE and net.n == 48
    assert type(net)(**net.config).state_dict().keys() == net.state_dict().keys()
    assert any(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert not any(isinstance(m, torch.nn.Conv1d | torch.nn.BatchNorm1d) for m in net.modules())
    V, W = fields()
    out = net(V, W)  # train mode: batch statistics, gradients
    assert out.shape == (4, K) and torch.all(out > 0) and torch.isfinite(out).all()
    out.mean().backward()
    with torch.no_grad():
        out = net.eval()(V, W)
    assert out.shape == (4, K) and torch.all(out > 0)
    if name == "well_net":
        assert torch.all(out[:, 1:] >= out[:, :-1])


def test_well_net_2d_is_invariant_under_torus_translations():
    net = tiny_well_net(kernel_size=5, channels=(4, 8)).eval()
    V, W = fields(b=3, seed=1)
    with torch.no_grad():
        a = net(V, W)
        for shift in ((1, 0), (0, 3), (5, 7), (2, -1)):
            b = net(torch.roll(V, shift, (1, 2)), torch.roll(W, shift, (1, 2)))
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def brute_force_wells(e: np.ndarray, r: int) -> np.ndarray:
    """The 2-D rule site by site: e(x) < e(x + d) for offsets d before (0, 0) in raster
    order, e(x) <= e(x + d) after it, indices mod (L1, L2)."""
    L1, L2 = e.shape
    out = np.zeros(e.shape, dtype=bool)
    for i, j in itertools.product(range(L1), range(L2)):
        ok = True
        for dy, dx in itertools.product(range(-r, r + 1), repeat=2):
            other = e[(i + dy) % L1, (j + dx) % L2]
            if (dy, dx) < (0, 0):
                ok &= bool(e[i, j] < other)
            elif (dy, dx) > (0, 0):
                ok &= bool(e[i, j] <= other)
        out[i, j] = ok
    return out


def hand_built_map() -> torch.Tensor:
    """A 7 × 8 map, constant 10 (no wells) but for four minima (r = 1)."""
    e = torch.full((7, 8), 10.0)
    e[1, 1] = 1.0  # an isolated minimum
    e[4, 5] = e[4, 6] = 2.0  # a flat 2-site plateau along a row: one well, at (4, 5)
    e[5, 1] = e[6, 1] = 3.0  # a flat 2-site plateau along a column: one well, at (5, 1)
    e[0, 7] = 1.5  # a minimum whose window wraps around both axes
    return e


def test_2d_well_rule_on_a_hand_built_map():
    e = hand_built_map()
    expected = torch.zeros(7, 8, dtype=torch.bool)
    for site in ((1, 1), (4, 5), (5, 1), (0, 7)):
        expected[site] = True
    assert torch.equal(well_mask_2d(e[None], 1)[0], expected)
    # r = 2: (1, 1) is inside the windows of (0, 7) and (0, 7) inside that of (5, 1)
    expected[0, 7] = expected[5, 1] = False
    assert torch.equal(well_mask_2d(e[None], 2)[0], expected)
    assert well_mask_2d(e[None], 0).all()  # r = 0: every site
    # ... and the wells move with the map under torus translations
    wells = well_mask_2d(e[None], 1)[0]
    for shift in ((3, 0), (0, 5), (6, 7)):
        moved = well_mask_2d(torch.roll(e, shift, (0, 1))[None], 1)[0]
        assert torch.equal(moved, torch.roll(wells, shift, (0, 1)))


@pytest.mark.parametrize("shape, r", [((5, 5), 1), ((5, 5), 2), ((6, 9), 1), ((7, 4), 1)])
def test_2d_well_rule_matches_brute_force_with_many_ties(shape, r):
    e = np.random.default_rng(3).integers(0, 3, (4, *shape)).astype(float)  # values 0, 1, 2
    got = well_mask_2d(torch.from_numpy(e), r).numpy()
    for b in range(len(e)):
        np.testing.assert_array_equal(got[b], brute_force_wells(e[b], r))


def test_well_net_2d_takes_the_lowest_wells_then_the_lowest_other_sites():
    e = hand_built_map()[None]
    for k, expected in ((4, [1.0, 1.5, 2.0, 3.0]), (6, [1.0, 1.5, 2.0, 2.0, 3.0, 3.0])):
        net = WellNet(shape=(7, 8), k=k, channels=(2,), kernel_size=1, well_radius=1).eval()
        net.energies = lambda V, W: e  # noqa: B023  (the hand-built map as the energy map)
        with torch.no_grad():
            out = net(e, e)
        # k = 6: two wells short of k after the four, so the plateaus' second sites follow
        torch.testing.assert_close(out, torch.tensor([expected]))


@pytest.mark.parametrize(
    "build, key, message",
    [
        (lambda: EigenNet(shape=[6, 6], k=3, channels=(4, 4, 4)), "model.net.channels", "6 × 6"),
        (lambda: EigenNet(shape=[6], k=3), "model.net.shape", "[L1, L2]"),
        (lambda: EigenNet(shape=[6, 1], k=3), "model.net.shape", "integers >= 2"),
        (lambda: WellNet(shape=[6, 8], k=3, well_radius=3), "model.net.well_radius", "[0, 2]"),
        (lambda: WellNet(shape=[6, 8], k=49, well_radius=1), "model.net.k", "L1·L2 = 48"),
        (lambda: WellNet(shape=[6, 8], k=0, well_radius=1), "model.net.k", "got 0"),
        (lambda: WellNet(shape=[6, 8], k=3, kernel_size=15), "model.net.kernel_size", "side 6"),
        (lambda: WellNet(shape=[6, 8], k=3, kernel_size=4), "model.net.kernel_size", "odd"),
        (lambda: EigenNet2D(shape=None), "model.net.shape", "is 2-D"),
        (lambda: WellNet2D(shape=None), "model.net.shape", "is 2-D"),
    ],
)
def test_2d_config_errors_name_the_key(build, key, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.key == key and message in str(info.value)


@pytest.mark.parametrize("name", NETS)
def test_predictor_takes_2d_potentials(name, tmp_path):
    net = NETS[name]().eval()
    p = Predictor(net)
    assert p.dim == 2 and p.shape == SHAPE
    V = np.random.default_rng(4).random((5, *SHAPE)) + 0.05
    batch = p.predict_eigenvalues(V)
    with torch.no_grad():
        W = torch.from_numpy(landscape_potential(V, dim=2))
        direct = net(torch.from_numpy(V), W).double().numpy()
    assert batch.shape == (5, K)
    np.testing.assert_allclose(batch, direct, rtol=1e-12)
    single = p.predict_eigenvalues(V[2])
    assert single.shape == (K,)
    np.testing.assert_allclose(single, batch[2], rtol=1e-6)
    chunked = Predictor(net, batch_size=2).predict_eigenvalues(V)
    np.testing.assert_allclose(chunked, batch, rtol=1e-6)  # float32 sums: per-batch round-off
    # a saved 2-D net comes back 2-D with its lattice shape
    save_net(net, tmp_path / "net.pt")
    loaded = load_net(tmp_path / "net.pt")
    assert loaded.dim == 2 and loaded.shape == SHAPE
    np.testing.assert_array_equal(Predictor(loaded).predict_eigenvalues(V), batch)


@pytest.mark.parametrize("name", NETS)
def test_predictor_refuses_other_lattices(name):
    p = Predictor(NETS[name]())
    with pytest.raises(ValueError, match=r"8 × 6.*6 × 8"):
        p.predict_eigenvalues(np.ones((8, 6)))
    with pytest.raises(ValueError, match=r"8 × 8.*6 × 8"):
        p.predict_eigenvalues(np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="2-D model"):
        p.predict_eigenvalues(np.ones(48))  # a 1-D potential
    with pytest.raises(ValueError, match="eigenvalue model"):
        p.predict_counts(np.ones(SHAPE), np.ones(3))


@pytest.mark.parametrize(
    "cls, name, params", [(EigenNet2D, "eigen_net_2d", 103_028), (WellNet2D, "well_net_2d", 39_093)]
)
def test_2d_classes_are_the_2d_configs_at_32x32(cls, name, params):
    """EigenNet2D / WellNet2D: the nets with shape=[L1, L2], under their own config names;
    their defaults are the 32 × 32 configs, whose comments state these parameter counts."""
    assert cls.dim == 2 and cls.config_name() == name
    for input in ("V", "W"):
        net = cls(input=input)
        assert net.dim == 2 and net.shape == (32, 32) and net.n == 1024 and "n" not in net.config
        assert sum(p.numel() for p in net.parameters() if p.requires_grad) == params
    base = EigenNet if cls is EigenNet2D else WellNet
    config = dict(net.config)
    torch.manual_seed(0)
    a = cls(**config)
    torch.manual_seed(0)
    b = base(**config)
    assert a.state_dict().keys() == b.state_dict().keys()
    V, W = torch.rand(2, 32, 32) + 0.1, torch.rand(2, 32, 32) + 0.1
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(V, W), b.eval()(V, W), rtol=0, atol=0)


def test_size_free_2d_counting_models_have_no_lattice_shape():
    net = UniversalLandscapeNet2D(encoder_channels=(4,), dilations=(1,), decider_channels=(4,))
    assert Predictor(net).shape is None
    assert Predictor(tiny_eigen_net(shape=None)).shape is None  # 1-D: n, not a shape


@pytest.mark.parametrize("cls", [EigenNet, WellNet])
def test_1d_nets_are_unchanged(cls):
    net = cls()
    assert net.dim == 1 and cls.dim == 1 and net.shape is None and net.n == 1000
    assert net.config["shape"] is None
    assert Predictor(net).dim == 1 and Predictor(net).shape is None
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d)]
    assert convs and all(isinstance(m, torch.nn.Conv1d) for m in convs)
    # a config recorded before the shape argument existed builds the same net
    old_config = {k: v for k, v in net.config.items() if k != "shape"}
    torch.manual_seed(0)
    a = cls(**old_config)
    torch.manual_seed(0)
    b = cls()
    assert list(a.state_dict()) == list(b.state_dict()) == expected_keys_1d(cls)
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def expected_keys_1d(cls) -> list[str]:
    """The state_dict keys of the default 1-D nets, written out."""
    norm = [f"normalizer.{f}_{s}" for f in ("V", "W", "dW", "E") for s in ("mean", "std")]
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

    def block(prefix, i):
        return [f"{prefix}.{i}.weight", f"{prefix}.{i}.bias"] + [
            f"{prefix}.{i + 1}.{p}" for p in bn
        ]

    if cls is EigenNet:
        conv = [key for i in (0, 3, 6, 9) for key in block("features", i)]
        head = [f"head.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
        return ["output_scale", *norm, *conv, *head]
    conv = [key for i in (0, 3, 6) for key in block("energy_map", i)]
    return ["log_scale", "output_scale", *norm, *conv, "energy_map.9.weight", "energy_map.9.bias"]


# -- end to end: experiment=v_vs_w_2d, tiny -------------------------------------------
TINY_V_VS_W_2D = [
    "experiment=v_vs_w_2d",
    "data.shape=[6,6]",
    "data.k=3",
    "data.sizes.train=8",
    "data.sizes.val=4",
    "data.sizes.test=4",
    "data.batch_size=4",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "callbacks.rich_progress_bar=null",
]
TINY_NETS_2D = {
    "eigen_net_2d": ["model.net.channels=[4,8]", "model.net.hidden=[8]"],
    "well_net_2d": ["model.net.channels=[4]", "model.net.kernel_size=3", "model.net.well_radius=1"],
}


@pytest.mark.e2e
@pytest.mark.parametrize("model", TINY_NETS_2D)
def test_v_vs_w_2d_trains_and_logs_a_2d_model(model, compose_train):
    cfg = compose_train(*TINY_V_VS_W_2D, f"model={model}", *TINY_NETS_2D[model])
    assert cfg.model.net.input == "W" and cfg.tags.experiment == "v_vs_w_2d"
    assert model_name(cfg) == model  # run names and tags say eigen_net_2d / well_net_2d
    result = train(cfg)
    net = result.module.net
    assert net.dim == 2 and net.shape == (6, 6) and net.k == 3
    test = result.datamodule.arrays["test"]
    assert test["V"].shape == (4, 6, 6) and test["eigenvalues"].shape == (4, 3)
    expected = Predictor(net).predict_eigenvalues(test["V"])
    logged = lnet.load_model(result.model_uri)
    assert logged.dim == 2 and logged.shape == (6, 6)
    np.testing.assert_allclose(logged.predict_eigenvalues(test["V"]), expected, rtol=1e-12)
    mape = eigenvalue_metrics(expected, test["eigenvalues"])["mape"]
    assert result.metrics["test_mape"] == pytest.approx(mape)
    with pytest.raises(ValueError, match="6 × 6"):
        logged.predict_eigenvalues(np.ones((8, 8)))
    # generic MLflow clients: {"V": (B, L1, L2)}
    generic = mlflow.pyfunc.load_model(result.model_uri).predict({"V": test["V"][:2]})
    np.testing.assert_allclose(generic, expected[:2], rtol=1e-12)


@pytest.mark.parametrize(
    "overrides, key, message",
    [
        (["model=eigen_net_2d", "data=eigenvalues"], "model", "is a 2-D model but the data is 1-D"),
        (["model=well_net_2d", "data=eigenvalues"], "model", "use data=eigenvalues_2d"),
        (["model=eigen_net", "data=eigenvalues_2d"], "model", "is a 1-D model but the data is 2-D"),
        (["experiment=v_vs_w_2d", "model.net.shape=[8,8]"], "model.net.shape", "data.shape"),
    ],
)
def test_eigen_models_and_data_must_agree_on_the_lattice(overrides, key, message, compose_train):
    err = config_error_of(compose_train(*overrides))
    assert err.key == key and message in str(err)
