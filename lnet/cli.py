"""Small helpers shared by the pipelines' command lines."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any

from lnet.errors import ConfigError
from lnet.sweep import in_multirun, note_run, record_job


def _config_error(exc: BaseException) -> ConfigError | None:
    while exc is not None:
        if isinstance(exc, ConfigError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def exit_on_config_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Command-line error reporting, each cause printed once.

    - ConfigError (also wrapped by hydra.utils.instantiate): ``config error: <key>: ...``
      on stderr, exit status 2.
    - Any other exception: one line ``error: <Type>: <message>`` (unless the MLflow run
      already reported it), exit status 1; ``HYDRA_FULL_ERROR=1`` re-raises it for the
      full traceback.
    - In a job of a multirun nothing exits: the job prints its one line, records its
      failure and returns ``None``, so the other jobs (or Optuna trials) run; the sweep
      then names its failed jobs and exits 1 (:mod:`lnet.sweep`).
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        multirun = in_multirun()
        note_run(None)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            err = _config_error(exc)
            line = f"config error: {err}" if err is not None else f"{type(exc).__name__}: {exc}"
            if multirun:
                if os.environ.get("HYDRA_FULL_ERROR") == "1":
                    traceback.print_exc()
                elif err is not None or not getattr(exc, "lnet_reported", False):
                    print(f"error: {line}" if err is None else line, file=sys.stderr)
                record_job("failed", line)
                return None
            if err is not None:
                print(line, file=sys.stderr)
                sys.exit(2)
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            if not getattr(exc, "lnet_reported", False):
                print(f"error: {line}", file=sys.stderr)
            print("(set HYDRA_FULL_ERROR=1 for the traceback)", file=sys.stderr)
            sys.exit(1)
        if multirun:
            record_job("ok", value=result)
        return result

    return wrapper


# Messages users did not cause and cannot act on, dropped by the command lines.
_NOISY_LOGGERS = (
    "lightning_fabric.utilities.seed",  # "Seed set to ..."
    "pytorch_lightning.utilities.rank_zero",  # "GPU available: ...", "💡 Tip: ..." adverts
    "lightning.pytorch.utilities.rank_zero",
    "mlflow.system_metrics",  # "Started monitoring system metrics." and friends
    "mlflow.pyfunc",  # "Validating input example against model signature"
    "mlflow.store.db.utils",  # "Creating initial MLflow database tables..."
)
_NOISY_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)",  # Lightning calling a deprecated torch API
    r".*does not have many workers",  # num_workers=0 is the right choice for in-memory data
)


def quiet_third_party() -> None:
    """Silence library chatter that users did not cause (Lightning tips and device info,
    the seed message, MLflow's system-metrics notices, Lightning's internal deprecations).

    Warnings and errors from those loggers still show; so does everything lnet logs.
    """
    import logging
    import warnings

    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in _NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def console() -> Any:
    """A Rich console for command output that stays copy-pasteable.

    On a terminal: Rich's usual rendering. Piped or redirected: no wrapping and no
    truncation (commands, URIs and tables keep their full width), and no colour codes.
    """
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(soft_wrap=True, width=10_000, no_color=True, highlight=False)


def ui_command(tracking_uri: str) -> str:
    """The command that opens the MLflow UI on this store, ready to paste into a shell.

    The ``mlflow`` executable of this Python environment (the venv's), and the URI
    quoted for the shell.
    """
    import shlex
    from pathlib import Path

    exe = Path(sys.executable).with_name("mlflow")
    mlflow_cmd = str(exe) if exe.exists() else "mlflow"
    try:  # a path relative to the current folder reads like the README's command
        mlflow_cmd = str(Path(mlflow_cmd).relative_to(Path.cwd()))
    except ValueError:
        pass
    uri = tracking_uri.split("?", 1)[0]
    if uri.startswith("sqlite:///"):
        try:
            uri = "sqlite:///" + str(Path(uri[len("sqlite:///") :]).relative_to(Path.cwd()))
        except ValueError:
            pass
    return f"{shlex.quote(mlflow_cmd)} ui --backend-store-uri {shlex.quote(uri)}"


def ui_run_url(experiment_id: str, run_id: str, base: str = "http://127.0.0.1:5000") -> str:
    """The run's page in the MLflow UI, in the model-training view.

    MLflow 3 opens experiments in its GenAI view unless the URL (or the browser's remembered
    sidebar switch) asks for ``workflowType=machine_learning``; the experiment-kind tag
    alone does not (checked in headless Chromium, tests/tracking/test_ui_browser.py).
    """
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"
