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
    """Ends ``fit`` at the next training-batch boundary once a stop was requested
    (:mod:`lnet.tracking.stop`).

    Under DDP the ranks agree (any rank's request stops all), so no rank waits in a
    collective that the others have left.
    """

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        asked = stop.requested() is not None
        if trainer.strategy.reduce_boolean_decision(asked, all=False):
            trainer.should_stop = True

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if stop.requested() is not None:
            trainer.should_stop = True
