"""The Predictor uses the caller's net as it is (its training mode, device and dtype) and
warns about inputs outside the net's training domain."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from lnet.domain import InputDomain
from lnet.errors import OutOfRangeWarning
from lnet.models import EigenNet, LandscapeNet, WeylLaw
from lnet.physics import landscape_potential
from lnet.predict import Predictor, load_net, save_net
from lnet.tasks import COUNTING, EIGENVALUES


def _landscape_net() -> LandscapeNet:
    torch.manual_seed(0)
    return LandscapeNet(
        n=64,
        encoder_channels=(4,),
        kernel_size=3,
        decider_channels=(4,),
        box_channels=(4, 4, 4),
        box_strides=(4, 4, 4),
        head=(4,),
    )


def _flags(net: nn.Module) -> list[bool]:
    return [m.training for m in net.modules()]


@pytest.fixture
def counting_inputs(rng):
    return rng.random((3, 64)) + 0.1, rng.uniform(0.05, 2.0, (3, 5))


def test_a_training_net_stays_in_training_mode(counting_inputs):
    V, E = counting_inputs
    net = _landscape_net().train()
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    children = list(net.children())
    children[0].eval()  # a mixed state (e.g. a frozen encoder) is kept too
    before = _flags(net)
    assert True in before and False in before
    predictor = Predictor(net)
    assert _flags(net) == before
    got = predictor.predict_counts(V, E)
    assert _flags(net) == before
    # the prediction itself ran in eval mode: BatchNorm used its running statistics
    reference = _landscape_net().eval()
    np.testing.assert_array_equal(got, Predictor(reference).predict_counts(V, E))
    assert not reference.training


def test_an_eigenvalue_net_stays_in_training_mode(rng):
    torch.manual_seed(0)
    net = EigenNet(n=32, k=3, channels=(4,), hidden=(8,)).train()
    Predictor(net).predict_eigenvalues(rng.random((2, 32)) + 0.1)
    assert all(_flags(net))


class _Recorder(nn.Module):
    """A counting or eigenvalue model that records where its inputs arrive and answers
    zeros on the CPU (so that it runs on any device, "meta" included)."""

    dim = 1
    n = None

    def __init__(self, task: str, device: str = "cpu", dtype: torch.dtype = torch.float32):
        super().__init__()
        self.task = task
        self.weight = nn.Parameter(torch.zeros(2, device=device, dtype=dtype))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long, device=device))
        self.seen: list[tuple[torch.device, torch.dtype]] = []

    def forward(self, *fields: torch.Tensor) -> torch.Tensor:
        self.seen += [(f.device, f.dtype) for f in fields]
        shape = fields[-1].shape if self.task == COUNTING else (fields[0].shape[0], 2)
        return torch.zeros(shape, dtype=torch.float64)


class _Failing(_Recorder):
    def forward(self, *fields: torch.Tensor) -> torch.Tensor:
        assert not self.training  # the prediction runs in eval mode
        raise RuntimeError("out of memory")


def test_training_mode_is_restored_when_the_net_fails(rng):
    net = _Failing(COUNTING).train()
    with pytest.raises(RuntimeError, match="out of memory"):
        Predictor(net).predict_counts(rng.random((2, 8)) + 0.1, rng.random((2, 3)))
    assert net.training


@pytest.mark.parametrize("task", [COUNTING, EIGENVALUES])
def test_inputs_go_to_the_device_of_the_net(task, rng):
    net = _Recorder(task, device="meta")
    V = rng.random((2, 8)) + 0.1
    predictor = Predictor(net)
    if task == COUNTING:
        out = predictor.predict_counts(V, rng.random((2, 3)))
    else:
        out = predictor.predict_eigenvalues(V)
    assert out.shape == ((2, 3) if task == COUNTING else (2, 2))
    assert net.seen and {device.type for device, _ in net.seen} == {"meta"}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inputs_take_the_floating_dtype_of_the_net(dtype, rng):
    net = _Recorder(COUNTING, dtype=dtype)
    Predictor(net).predict_counts(rng.random((2, 8)) + 0.1, rng.random((2, 3)))
    assert {d for _, d in net.seen} == {dtype}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_net_on_the_gpu_predicts_as_on_the_cpu(counting_inputs):
    V, E = counting_inputs
    cpu = Predictor(_landscape_net().eval()).predict_counts(V, E)
    gpu = Predictor(_landscape_net().eval().cuda()).predict_counts(V, E)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-5)


# -- the input domain: warnings for inputs outside the training range ----------------
def _uniform_domain(rng, n: int = 64, P: int = 100) -> InputDomain:
    V = rng.random((P, n))
    return InputDomain.from_potentials(V, landscape_potential(V))


def _weyl(domain: InputDomain | None) -> WeylLaw:
    net = WeylLaw()  # size-free: it takes any lattice length, so a 3-site lattice runs
    net.input_domain = domain
    return net


def _out_of_range(record) -> list[OutOfRangeWarning]:
    return [w.message for w in record if issubclass(w.category, OutOfRangeWarning)]


def test_a_hundredfold_amplitude_is_warned_about_naming_both_ranges(rng):
    domain = _uniform_domain(rng)
    predictor = Predictor(_weyl(domain))
    assert predictor.domain is domain
    V = 100 * rng.random(64)
    with pytest.warns(OutOfRangeWarning) as record:
        out = predictor.predict_counts(V, [1.0, 50.0])
    assert out.shape == (2,)  # the prediction is made all the same
    (amplitude,) = [w for w in _out_of_range(record) if w.statistic == "amplitude"]
    text = str(amplitude)
    assert "amplitude (mean of V" in text and f"{V.mean():.4g}" in text
    assert f"[{domain.amplitude.low:.4g}, {domain.amplitude.high:.4g}]" in text
    assert record[0].filename == __file__  # points at the caller's line


def test_a_three_site_lattice_is_warned_about(rng):
    predictor = Predictor(_weyl(_uniform_domain(rng)))
    with pytest.warns(OutOfRangeWarning) as record:
        predictor.predict_counts(rng.random((2, 3)), rng.random((2, 4)))
    (sites,) = [w for w in _out_of_range(record) if w.statistic == "sites"]
    assert "number of lattice sites" in str(sites) and "[3, 3]" in str(sites)
    assert "[64, 64]" in str(sites)


def test_fresh_potentials_of_the_training_law_get_no_warning(rng):
    predictor = Predictor(_weyl(_uniform_domain(rng)))
    V = np.random.default_rng(7).random((10, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        predictor.predict_counts(V, rng.uniform(0.1, 1.0, (10, 3)))
        predictor.predict_counts(V[0], [0.5])
    assert predictor.warned == set()


def test_each_statistic_is_warned_about_once_per_predictor(rng):
    domain = _uniform_domain(rng)
    predictor = Predictor(_weyl(domain))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")  # not Python's once-per-line registry: ours
        for _ in range(3):
            predictor.predict_counts(100 * rng.random(64), [1.0])
        first = [w.statistic for w in _out_of_range(record)]
        predictor.predict_counts(rng.random(3), [1.0])  # a new statistic: sites
        second = [w.statistic for w in _out_of_range(record)][len(first) :]
    assert "amplitude" in first and len(first) == len(set(first))
    assert second == ["sites"]
    assert predictor.warned == {*first, "sites"}
    with pytest.warns(OutOfRangeWarning):  # another predictor of the same net warns again
        Predictor(predictor.net).predict_counts(100 * rng.random(64), [1.0])


def test_no_domain_no_warning_and_the_domain_can_be_switched_off(rng):
    V = 100 * rng.random(64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        Predictor(WeylLaw()).predict_counts(V, [1.0])  # a net without a domain
        off = Predictor(_weyl(_uniform_domain(rng)))
        off.domain = None
        off.predict_counts(V, [1.0])
    given = Predictor(WeylLaw(), domain=_uniform_domain(rng))  # a domain passed in
    with pytest.warns(OutOfRangeWarning) as record:
        given.predict_counts(V, [1.0])
    assert "amplitude" in {w.statistic for w in _out_of_range(record)}


def test_eigenvalue_predictions_are_checked_too(rng):
    net = _Recorder(EIGENVALUES)
    net.input_domain = _uniform_domain(rng, n=8)
    with pytest.warns(OutOfRangeWarning) as record:
        Predictor(net).predict_eigenvalues(100 * rng.random((2, 8)))
    assert {"amplitude", "log_w_spread"} <= {w.statistic for w in _out_of_range(record)}


def test_the_domain_is_saved_with_the_net_and_old_files_load_without_one(rng, tmp_path):
    domain = _uniform_domain(rng)
    save_net(_weyl(domain), tmp_path / "with.pt")
    loaded = load_net(tmp_path / "with.pt")
    assert loaded.input_domain == domain and Predictor(loaded).domain == domain
    assert torch.load(tmp_path / "with.pt", weights_only=True)["domain"] == domain.to_dict()
    save_net(WeylLaw(), tmp_path / "without.pt")  # a file as saved before domains
    assert "domain" not in torch.load(tmp_path / "without.pt", weights_only=True)
    assert load_net(tmp_path / "without.pt").input_domain is None


class _LinearCount(_Recorder):
    """N̂(E) = 0.1·n·E: a count fraction of E/10, whatever the potential."""

    def forward(self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor):
        return 0.1 * V.shape[-1] * E.double()


def _energy_domain(rng) -> InputDomain:
    V = rng.random((20, 64))
    counts = np.tile(np.arange(7), (20, 1))  # N/64 in [0, 6/64]
    return InputDomain.from_potentials(V, landscape_potential(V), counts=counts)


def test_energies_above_the_training_energies_are_warned_about_once(rng):
    net = _LinearCount(COUNTING)
    net.input_domain = _energy_domain(rng)  # predicted fractions accepted up to 1.5·6/64
    predictor = Predictor(net)
    V = rng.random((3, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        predictor.predict_counts(V, np.full((3, 2), 1.4))  # fraction 0.14 <= 0.1406
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = predictor.predict_counts(V, np.array([[0.5, 1.0], [1.0, 4.0], [0.2, 8.0]]))
        predictor.predict_counts(V[0], [9.0])  # warned already
    np.testing.assert_allclose(out, 6.4 * np.array([[0.5, 1.0], [1.0, 4.0], [0.2, 8.0]]))
    (w,) = _out_of_range(record)  # the prediction is made all the same, one warning
    assert w.statistic == "count_fraction" and predictor.warned == {"count_fraction"}
    assert "6 (potential, energy) pairs spans [0.02, 0.8], 2 of them out of range" in str(w)
    assert "[0, 0.1406]" in str(w) and record[0].filename == __file__
