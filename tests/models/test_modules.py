"""The LightningModules' losses: MSE or Poisson-weighted, on one batch or several."""

import pytest
import torch
from torch import nn

from lnet.errors import ConfigError
from lnet.models import CountingModule
from lnet.tasks import COUNTING


class AffineCount(nn.Module):
    """A counting 'net' whose prediction is a·E + b (any lattice shape)."""

    task = COUNTING

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(3.0))
        self.b = nn.Parameter(torch.tensor(0.5))

    def forward(self, V, W, dW, E):
        return self.a * E + self.b


def batch(b: int, L: int, E: list[list[float]], N: list[list[float]]) -> dict[str, torch.Tensor]:
    V = torch.rand(b, L, L)
    return {
        "V": V,
        "W": V + 1,
        "dW": torch.zeros(b, 2, L, L),
        "E": torch.tensor(E),
        "N": torch.tensor(N),
    }


def test_poisson_loss_divides_by_the_count_floored_at_one():
    x = batch(2, 4, [[0.0, 1.0], [2.0, 4.0]], [[0.0, 2.0], [9.0, 100.0]])
    pred = 3.0 * x["E"] + 0.5  # [[0.5, 3.5], [6.5, 12.5]]
    mse = CountingModule(AffineCount()).loss(x)
    poisson = CountingModule(AffineCount(), loss="poisson").loss(x)
    assert mse.item() == pytest.approx(((pred - x["N"]) ** 2).mean().item())
    expected = (0.5**2 / 1 + 1.5**2 / 2 + 2.5**2 / 9 + 87.5**2 / 100) / 4
    assert poisson.item() == pytest.approx(expected)


def test_unknown_loss_names_the_key():
    with pytest.raises(ConfigError, match="model.loss: unknown loss 'mae'"):
        CountingModule(AffineCount(), loss="mae")


def test_a_combined_batch_trains_on_the_mean_of_its_losses():
    """data.extra_train: {"main": batch, "extra_0": batch of another lattice} per step."""
    module = CountingModule(AffineCount(), loss="poisson")
    main = batch(3, 4, [[1.0]] * 3, [[2.0]] * 3)
    extra = batch(2, 6, [[2.0, 3.0]] * 2, [[5.0, 7.0]] * 2)
    combined = module.training_step({"main": main, "extra_0": extra}, 0)
    expected = (module.loss(main) + module.loss(extra)) / 2
    assert combined.item() == pytest.approx(expected.item())
    assert module.training_step(main, 0).item() == pytest.approx(module.loss(main).item())
    module.on_train_batch_start({"main": main, "extra_0": extra}, 0)
    assert module.samples_seen == 3 + 4  # (potential, energy) pairs of both batches
