"""Lightning pieces of the run lifecycle: a logger that never ends the run, and the
callback that stops training at a batch boundary once a stop was requested."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import MLFlowLogger

from lnet.tracking import stop


class RunLogger(MLFlowLogger):
    """Lightning's MLflow logger writing into a run that lnet opened.

    Lightning's ``finalize`` marks the run FINISHED (or FAILED) when ``fit`` ends, before
    lnet's evaluation, and that also stops MLflow's system-metrics monitor. Here it does
    nothing: :func:`lnet.tracking.run.tracked_run` is the only code that ends a run.
    """

    def finalize(self, status: str = "success") -> None:
        return None


class StopOnSignal(pl.Callback):
    """Ends ``fit`` at the next batch boundary once a stop was requested
    (:mod:`lnet.tracking.stop`): after a training batch, or after the validation that is
    running (Lightning checks ``should_stop`` between training batches and epochs).

    Under DDP the ranks agree after every batch, training or validation (any rank's
    request stops all), so no rank leaves the loop while another waits for it in a
    collective. Every rank sees the same number of batches (Lightning's distributed
    sampler pads the splits), so the agreements pair up.
    """

    @staticmethod
    def _agree(trainer: pl.Trainer) -> None:
        asked = stop.requested() is not None
        if trainer.strategy.reduce_boolean_decision(asked, all=False):
            trainer.should_stop = True

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self._agree(trainer)

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self._agree(trainer)
