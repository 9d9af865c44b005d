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
            _apply_http_settings(args)
            result = fn(*args, **kwargs)
        except KeyboardInterrupt as exc:  # a requested stop: the run is already KILLED
            from lnet.tracking import stop

            name = stop.requested() or "SIGINT"
            print(f"stopped: {exc or name}", file=sys.stderr)
            sys.exit(143 if name == "SIGTERM" else 130)
        except Exception as exc:
            from lnet.tracking.run import one_line_reason

            err = _config_error(exc)
            # one line: a store's message can run over several (its SQL, a driver's hint)
            line = f"config error: {err}" if err is not None else one_line_reason(exc)
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


def _apply_http_settings(args: tuple[Any, ...]) -> None:
    """A job's own ``logger.http`` (MLflow's retries against a tracking server), set
    before its run starts."""
    from omegaconf import DictConfig, OmegaConf

    cfg = args[0] if args else None
    if isinstance(cfg, DictConfig):
        from lnet.tracking.server import apply_http_settings

        apply_http_settings(OmegaConf.select(cfg, "logger.http"))


def precheck(config_name: str, argv: list[str]) -> None:
    """Compose the config as Hydra is about to, before torch, Lightning and MLflow are
    imported, so that a typo is reported within a second or two: one line, exit 2.

    - an unknown group option (``model=landscpe_net``): the options, and the closest;
    - an unknown key (``trainer.max_epoch=1``): the closest existing key;
    - an override that does not parse.

    Command lines with Hydra flags (``-m``, ``--cfg``, ...), sweeps (``a,b``) or
    ``hydra.*`` overrides are left to Hydra itself.

    Then, sweeps included, a tracking server (``logger.tracking_uri=http...``) gets its
    ``logger.http`` retry settings and one request with the credentials of the
    environment: a refused password is one line naming the server and the HTTP status
    (:func:`lnet.tracking.server.check_access`), exit 2.
    """
    _check_tracking(config_name, argv, _check_overrides(config_name, argv))


def _check_tracking(config_name: str, argv: list[str], cfg: Any) -> None:
    """``logger.http`` and the credentials of ``logger.tracking_uri``; ``cfg`` is the
    composed config, or None to compose it from the overrides that are not sweeps or
    Hydra's own (anything that does not compose is left to Hydra)."""
    from omegaconf import OmegaConf

    from lnet.tracking.server import TrackingAccessError, apply_http_settings, check_access

    if cfg is None:
        cfg = _compose_fixed(config_name, argv)
    try:
        uri = OmegaConf.select(cfg, "logger.tracking_uri", default=None) if cfg else None
    except Exception:  # noqa: BLE001  (an interpolation that fails: the run reports it)
        return
    if uri is None:
        return
    try:
        apply_http_settings(OmegaConf.select(cfg, "logger.http"))
        check_access(str(uri))
    except (ConfigError, TrackingAccessError) as exc:
        _fail(str(exc))


def _compose_fixed(config_name: str, argv: list[str]) -> Any:
    """The config composed from the overrides that every job of a sweep shares, or None."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from lnet.config import config_dir

    plain = [a for a in argv if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(plain)
    except Exception:  # noqa: BLE001  (Hydra reports it)
        return None
    fixed = [
        arg
        for arg, o in zip(plain, parsed, strict=True)
        if not o.is_sweep_override() and not o.get_key_element().lstrip("+~").startswith("hydra")
    ]
    try:
        with initialize_config_dir(str(config_dir()), version_base="1.3"):
            return compose(config_name, overrides=fixed)
    except Exception:  # noqa: BLE001  (Hydra reports it)
        return None


def _check_overrides(config_name: str, argv: list[str]) -> Any:
    """The typo check of :func:`precheck`; returns the composed config (None when the
    command line is left to Hydra)."""
    import difflib

    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf import DictConfig, OmegaConf

    from lnet.config import config_dir

    if any(a.startswith("-") for a in argv):
        return None
    try:
        parsed = OverridesParser.create().parse_overrides(argv)
    except OverrideParseException as exc:
        _fail(f"cannot parse the overrides {' '.join(argv)!r}: {str(exc).splitlines()[0]}")
    if any(
        o.is_sweep_override() or o.get_key_element().lstrip("+~").startswith("hydra")
        for o in parsed
    ):
        return None
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        try:
            return compose(config_name, overrides=argv)
        except MissingConfigException as exc:
            group, _, option = str(exc.missing_cfg_file or "").rpartition("/")
            options = list(exc.options or [])
            close = difflib.get_close_matches(option, options, n=1)
            hint = f"did you mean {group}={close[0]}? " if close else ""
            _fail(
                f"{group}={option}: no such option in conf/{group}/ ({hint}options: {', '.join(options)})"
            )
        except ConfigCompositionException as exc:
            first = str(exc).splitlines()[0]
            key = first.partition("'")[2].rpartition("'")[0]
            if not first.startswith("Could not override") or not key:
                cause = exc.__cause__
                if cause is not None and str(cause).strip():  # e.g. a value of the wrong type
                    why = str(cause).strip().splitlines()[0]
                    _fail(f"{first.removeprefix('Error merging override ')}: {why}")
                _fail(first)
            groups = [  # group choices only (data=..., model=...): the rest may be the typo
                o
                for o in argv
                if "=" in o and (config_dir() / o.partition("=")[0].lstrip("+~")).is_dir()
            ]
            base = compose(config_name, overrides=groups)
            parent, _, leaf = key.rpartition(".")
            node = base if not parent else base._get_node(parent) if parent in base else None
            names = [str(k) for k in node] if isinstance(node, DictConfig) else []
            close = difflib.get_close_matches(leaf, names, n=1)
            hint = f" (did you mean {parent + '.' if parent else ''}{close[0]}?)" if close else ""
            dotted = key.replace("_", ".", 1)  # the old flat keys: eval_sizes -> eval.sizes
            absent = object()
            if (
                not close
                and dotted != key
                and OmegaConf.select(base, dotted, default=absent) is not absent
            ):
                hint = f" (did you mean {dotted}?)"
            _fail(f"{key}: no such key{hint}")


def _fail(message: str) -> None:
    print(f"config error: {message}", file=sys.stderr)
    sys.exit(2)


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
