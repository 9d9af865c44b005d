"""The Predictor uses the caller's net as it is: its training mode, device and dtype."""

import numpy as np
import pytest
import torch
from torch import nn

from lnet.models import EigenNet, LandscapeNet
from lnet.predict import Predictor
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
