"""Thin LightningModules around the plain ``nn.Module`` models.

``CountingModule`` trains any counting model (LandscapeNet or a law) on
(potential, energy) batches with the MSE loss (or its Poisson-weighted form, ``loss``);
``EigenModule`` trains EigenNet with the MAPE loss.  Laws have no trainable weights: ``fit_closed_form`` fits them on the
training arrays instead of gradient steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics as tm
from torch import nn

from lnet.errors import ConfigError
from lnet.models.protocol import COUNTING, EIGENVALUES

OptimizerFactory = Callable[..., torch.optim.Optimizer]


def _sub_batches(batch: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
    """A batch, or the batches of a combined loader ``{"main": batch, "extra_0": ...}``."""
    return [batch] if "V" in batch else list(batch.values())


class _Base(pl.LightningModule):
    task: str = ""  # the task of the nets this module trains (lnet.models.protocol)

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        monitor: str = "val/mse",
    ) -> None:
        super().__init__()
        net_task = getattr(net, "task", None)
        if net_task != self.task:
            raise ConfigError(
                "model.net",
                f"{type(net).__name__} is a {net_task!r} model but {type(self).__name__} "
                f"trains {self.task!r} models",
            )
        # factories are code, not data: kept out of the checkpoint's hyperparameters so
        # that every checkpoint loads with torch.load(weights_only=True)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.net = net
        self.samples_seen = 0
        # torchmetrics accumulate over an epoch (and across DDP ranks), in float64
        self.eval_metrics = nn.ModuleDict({p: self.make_metrics() for p in ("val", "test")})
        for metrics in self.eval_metrics.values():
            for metric in metrics.values():
                metric.set_dtype(torch.float64)

    def make_metrics(self) -> nn.ModuleDict:  # pragma: no cover
        raise NotImplementedError

    def _log_metrics(self, prefix: str, progress: str) -> None:
        for name, metric in self.eval_metrics[prefix].items():
            if metric.update_called:
                self.log(f"{prefix}/{name}", metric, on_epoch=True, prog_bar=name == progress)

    @property
    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.net.parameters())

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters() if p.requires_grad)

    def set_stats(self, stats: Mapping[str, Any]) -> None:
        self.net.set_stats(stats)

    def configure_optimizers(self) -> Any:
        if not self.trainable:
            return None
        if self.optimizer_factory is None:
            raise ValueError("model.optimizer is required for a trainable model")
        opt = self.optimizer_factory(params=self.net.parameters())
        if self.scheduler_factory is None:
            return opt
        sched = self.scheduler_factory(optimizer=opt)
        return {
            "optimizer": opt,
            "lr_scheduler": {
                "scheduler": sched,
                "interval": self.hparams.scheduler_interval,
                "monitor": self.hparams.monitor,
            },
        }

    def on_train_batch_start(self, batch: dict[str, Any], batch_idx: int) -> None:
        # a sample is a (potential, energy) pair for counting data, a potential otherwise
        for b in _sub_batches(batch):
            self.samples_seen += b["E"].numel() if "E" in b else len(b["V"])

    # subclasses define forward, loss (+ loss_name) and _eval_step(batch, prefix)
    loss_name: str = ""

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """The loss of one batch; of several (data.extra_train), the mean of their losses."""
        parts = _sub_batches(batch)
        loss = sum(self.loss(b) for b in parts) / len(parts)
        self.log(
            f"train/{self.loss_name}",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=sum(len(b["V"]) for b in parts),
        )
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")


COUNTING_LOSSES = ("mse", "poisson")


class CountingModule(_Base):
    """Trains a counting model on (potential, energy) batches.

    ``loss``:

    - ``mse``: mean (N̂ - N)², the paper's loss;
    - ``poisson``: mean (N̂ - N)² / max(N, 1), the squared error in units of the
      Poisson variance of a count: k states too many or too few at count N weigh
      k² / N, so one state at N = 1 weighs as much as ten at N = 100 (under ``mse``,
      as much as one). This puts weight on the bottom of the spectrum (the Lifshitz
      tail, N a few states), which decides the relative count error on large lattices.

    Validation and test metrics are the same for both (mse, mae, max_abs, mape,
    rel_err = mean |N̂ - N| / max(N, 1)).
    """

    task = COUNTING

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        monitor: str = "val/mse",
        loss: str = "mse",
    ) -> None:
        if loss not in COUNTING_LOSSES:
            raise ConfigError(
                "model.loss", f"unknown loss {loss!r}; allowed: {', '.join(COUNTING_LOSSES)}"
            )
        super().__init__(net, optimizer, scheduler, scheduler_interval, monitor)
        self.loss_name = loss

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(batch["V"], batch["W"], batch["dW"], batch["E"])

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pred, target = self(batch), batch["N"]
        if self.loss_name == "poisson":
            return ((pred - target) ** 2 / target.clamp_min(1.0)).mean()
        return F.mse_loss(pred, target)

    def make_metrics(self) -> nn.ModuleDict:
        """MSE, MAE, max |error| and MAPE (%) over targets N > 0, as in
        :func:`lnet.models.metrics.counting_metrics`, and the relative count error
        mean |N̂ - N| / max(N, 1) (:func:`lnet.models.metrics.relative_count_error`)."""
        return nn.ModuleDict(
            {
                "mse": tm.MeanSquaredError(),
                "mae": tm.MeanAbsoluteError(),
                "max_abs": tm.MaxMetric(),
                "mape": tm.MeanMetric(),
                "rel_err": tm.MeanMetric(),
            }
        )

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        pred, target = self(batch).double().ravel(), batch["N"].double().ravel()
        err = pred - target
        m = self.eval_metrics[prefix]
        m["mse"].update(pred, target)
        m["mae"].update(pred, target)
        m["max_abs"].update(err.abs())
        pos = target > 0  # lnet's MAPE skips N = 0
        if pos.any():
            m["mape"].update(100 * err[pos].abs() / target[pos])
        m["rel_err"].update(err.abs() / target.clamp_min(1.0))
        self._log_metrics(prefix, progress="mse" if prefix == "val" else "")

    def fit_closed_form(self, arrays: Mapping[str, Any]) -> dict[str, float]:
        """Fit a law's parameters on the training arrays (no-op for networks)."""
        fit = getattr(self.net, "fit", None)
        return {} if fit is None else fit(arrays["W"], arrays["E"], arrays["N"])


class EigenModule(_Base):
    task = EIGENVALUES

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(batch["V"], batch["W"])

    @staticmethod
    def mape(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 100 * ((pred - target).abs() / target.abs()).mean()

    loss_name = "mape"

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mape(self(batch), batch["eigenvalues"])

    def make_metrics(self) -> nn.ModuleDict:
        """MAPE (%) and MSE over every (potential, index), as in
        :func:`lnet.models.metrics.eigenvalue_metrics`."""
        return nn.ModuleDict({"mape": tm.MeanMetric(), "mse": tm.MeanSquaredError()})

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        pred, target = self(batch).double(), batch["eigenvalues"].double()
        m = self.eval_metrics[prefix]
        m["mape"].update(100 * (pred - target).abs() / target.abs())
        m["mse"].update(pred, target)
        self._log_metrics(prefix, progress="mape")

    def fit_closed_form(self, arrays: Mapping[str, Any]) -> dict[str, float]:
        return {}
