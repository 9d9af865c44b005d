"""The networks learn: a few full-batch Adam steps on tiny training sets beat the baselines.

Datasets come from the real DataModules (with the training-split ``stats`` that the
nets need) and the loss from the real ``CountingModule.loss`` / ``EigenModule.loss``,
so the whole gradient path of training is exercised; the loop itself is a plain torch
loop (much faster than a Lightning Trainer). Errors are measured in eval mode (BatchNorm
running statistics), with the project's numpy metrics.

- counting nets: training MSE below half that of the constant mean predictor and of the
  fitted BoxCountingLaw on the same pairs;
- eigenvalue nets: training MAPE below a third of the per-index mean predictor's;
- PaperLandscapeNet overfits 8 potentials: MSE at least 100x below the mean predictor's,
  nearly every count exact after rounding.

Untrained nets (learning rate 0, or no back-propagation) are worse than the mean
predictor, so every assertion fails when learning is broken. Thresholds keep a margin
of at least ~2x over the worst of 8 initialisation seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnet.data import CountingDataModule, EigenvalueDataModule
from lnet.models import (
    BoxCountingLaw,
    CountingModule,
    EigenModule,
    EigenNet,
    LandscapeNet,
    PaperLandscapeNet,
    UniversalLandscapeNet,
    WellNet,
)
from lnet.models.metrics import counting_metrics, eigenvalue_metrics

N_SITES = 64
LR = 1e-2
DATA_SEED = 3
COUNTING = dict(
    n=N_SITES,
    potential={"family": "uniform", "amplitude": 1.0},
    energies={"mode": "between_eigenvalues", "count": 8},
    seed=DATA_SEED,
    show_progress=False,
)
TINY_BOXES = dict(box_channels=(8, 8, 8), box_strides=(4, 4, 4), head=(8, 4))

pytestmark = pytest.mark.e2e  # trains networks (plain torch loops, ~8 s in all)


def paper_net() -> PaperLandscapeNet:
    # width 2 (channels 8, 12, 16): at width 1 about one init in 8 stalls above the box law
    return PaperLandscapeNet(n=N_SITES, decider_channels=(4, 6, 8), width=2.0, **TINY_BOXES)


def landscape_net() -> LandscapeNet:
    return LandscapeNet(
        n=N_SITES, encoder_channels=(4, 6), kernel_size=5, decider_channels=(8, 4), **TINY_BOXES
    )


def universal_net() -> UniversalLandscapeNet:
    return UniversalLandscapeNet(
        encoder_channels=(8, 8), kernel_size=5, dilations=(1, 2), decider_channels=(16, 8)
    )


def eigen_net() -> EigenNet:
    return EigenNet(n=N_SITES, k=5, channels=(4, 8), hidden=(32, 16))


def well_net() -> WellNet:
    return WellNet(n=N_SITES, k=5, channels=(8, 16), kernel_size=5, well_radius=2)


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: deterministic sums, no oversubscription next to other tests."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tensors(arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(arrays[k], dtype=torch.float32) for k in names}


def _counting_setup(tmp_path_factory, train: int):
    dm = CountingDataModule(
        **COUNTING,
        sizes={"train": train, "val": 1, "test": 1},
        data_dir=tmp_path_factory.mktemp("cache"),
    )
    dm.setup()
    arrays = dm.arrays["train"]
    batch = _tensors(arrays, ("V", "W", "dW", "E", "N"))  # energies grouped by potential
    N = arrays["N"].astype(np.float64)
    mean_mse = counting_metrics(np.full_like(N, N.mean()), N)["mse"]
    return dm, arrays, batch, mean_mse


@pytest.fixture(scope="module")
def counting(tmp_path_factory):
    """12 potentials x 8 energies, with the mean-predictor and fitted box-law MSEs."""
    dm, arrays, batch, mean_mse = _counting_setup(tmp_path_factory, train=12)
    law = BoxCountingLaw()
    fit = law.fit(arrays["W"], arrays["E"], arrays["N"])
    with torch.no_grad():
        box_pred = law(*(torch.from_numpy(arrays[k]) for k in ("V", "W", "dW", "E"))).numpy()
    box_mse = counting_metrics(box_pred, arrays["N"])["mse"]
    assert box_mse == pytest.approx(fit["train_mse"], rel=1e-9)
    assert box_mse < mean_mse / 4  # the law is a real baseline, far better than the mean
    return dict(stats=dm.stats, batch=batch, N=arrays["N"], mean_mse=mean_mse, box_mse=box_mse)


@pytest.fixture(scope="module")
def eight_potentials(tmp_path_factory):
    dm, arrays, batch, mean_mse = _counting_setup(tmp_path_factory, train=8)
    return dict(stats=dm.stats, batch=batch, N=arrays["N"], mean_mse=mean_mse)


@pytest.fixture(scope="module")
def eigen(tmp_path_factory):
    """16 potentials with their 5 lowest eigenvalues, and the per-index mean predictor."""
    dm = EigenvalueDataModule(
        n=N_SITES,
        potential={"family": "uniform"},
        k=5,
        sizes={"train": 16, "val": 1, "test": 1},
        seed=DATA_SEED,
        data_dir=tmp_path_factory.mktemp("cache"),
        show_progress=False,
    )
    dm.setup()
    arrays = dm.arrays["train"]
    ev = arrays["eigenvalues"]
    mean_pred = np.broadcast_to(ev.mean(axis=0), ev.shape)
    return dict(
        stats=dm.stats,
        batch=_tensors(arrays, ("V", "W", "eigenvalues")),
        eigenvalues=ev,
        mean_mape=eigenvalue_metrics(mean_pred, ev)["mape"],
    )


def train_full_batch(module, batch: dict[str, torch.Tensor], steps: int) -> list[float]:
    """Adam with a cosine-decayed learning rate on the module's own loss; the loss history."""
    opt = torch.optim.Adam(module.net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    history = []
    module.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = module.loss(batch)
        loss.backward()
        opt.step()
        sched.step()
        history.append(loss.item())
    return history


def predict(module, batch: dict[str, torch.Tensor]) -> np.ndarray:
    module.eval()
    with torch.no_grad():
        return module(batch).double().numpy()


@pytest.mark.parametrize(
    "make_net, steps",
    [(paper_net, 100), (landscape_net, 250), (universal_net, 400)],
    ids=["PaperLandscapeNet", "LandscapeNet", "UniversalLandscapeNet"],
)
def test_counting_net_beats_mean_predictor_and_box_law(counting, make_net, steps):
    torch.manual_seed(0)
    module = CountingModule(make_net())
    module.set_stats(counting["stats"])
    train_full_batch(module, counting["batch"], steps)
    mse = counting_metrics(predict(module, counting["batch"]), counting["N"])["mse"]
    mean_mse, box_mse = counting["mean_mse"], counting["box_mse"]
    assert mse < mean_mse / 2, f"net MSE {mse:.4g} vs mean predictor {mean_mse:.4g}"
    assert mse < box_mse / 2, f"net MSE {mse:.4g} vs fitted box law {box_mse:.4g}"


@pytest.mark.parametrize("make_net", [eigen_net, well_net], ids=["EigenNet", "WellNet"])
def test_eigenvalue_net_beats_per_index_mean(eigen, make_net):
    torch.manual_seed(0)
    module = EigenModule(make_net())
    module.set_stats(eigen["stats"])
    train_full_batch(module, eigen["batch"], steps=200)
    mape = eigenvalue_metrics(predict(module, eigen["batch"]), eigen["eigenvalues"])["mape"]
    mean_mape = eigen["mean_mape"]
    assert mape < mean_mape / 3, f"net MAPE {mape:.3g}% vs per-index mean {mean_mape:.3g}%"


def test_landscape_net_overfits_eight_potentials(eight_potentials):
    data = eight_potentials
    torch.manual_seed(0)
    module = CountingModule(paper_net())
    module.set_stats(data["stats"])
    history = train_full_batch(module, data["batch"], steps=200)
    pred, N = predict(module, data["batch"]), data["N"]
    mse = counting_metrics(pred, N)["mse"]
    assert mse < data["mean_mse"] / 100, (
        f"net MSE {mse:.4g} vs mean predictor {data['mean_mse']:.4g}; "
        f"training loss {history[0]:.3g} -> {history[-1]:.3g}"
    )
    exact = float(np.mean(np.rint(pred) == N))
    assert exact >= 0.9, f"only {exact:.0%} of the {N.size} training counts exact after rounding"
