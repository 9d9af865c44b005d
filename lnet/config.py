"""Hydra/OmegaConf helpers: the project-root resolver, the typed config schemas and
config errors for the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def project_root() -> Path:
    """Where ``mlflow.db``, ``mlruns/`` and ``data/`` live.

    ``LNET_ROOT`` if set; else the checkout holding this package (an editable
    install, the normal case); else the current directory.
    """
    env = os.environ.get("LNET_ROOT")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "conf").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.cwd()


def to_plain(value: Any) -> Any:
    """OmegaConf containers, tuples and numpy/torch scalars as plain Python values
    (dicts, lists, str, int, float, bool, None): JSON-able and weights-only loadable."""
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalar
        return value.item()
    return value


def run_stamp() -> str:
    """A run folder's name: its start time and this process's id,
    ``2026-12-06_11-11-54_4821``.

    The id keeps apart runs started in the same second on one machine (three seeds
    launched side by side), which would otherwise share a folder and its checkpoints.
    """
    return f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{os.getpid()}"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("lnet_root"):
        OmegaConf.register_new_resolver("lnet_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("lnet_stamp"):  # cached like Hydra's ${now:}: one per config
        OmegaConf.register_new_resolver("lnet_stamp", run_stamp, use_cache=True)


def register_schemas() -> None:
    """Typed config groups, registered with Hydra's ConfigStore before any config is
    composed: ``eval/schema`` (:class:`lnet.evaluation.config.EvalConfig`), which
    ``conf/eval/default.yaml`` extends."""
    from lnet.evaluation.config import register_schema

    register_schema()


def config_dir() -> Path:
    return project_root() / "conf"


register_resolvers()
register_schemas()
