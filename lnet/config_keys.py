"""Config keys checked against what the classes they build accept, before any run opens.

Hydra suggests ``+trainer.max_epoch=1`` for a key the config lacks; following that
advice used to start a run that died in ``Trainer.__init__`` with a ``TypeError``. Every
node with a ``_target_`` is checked here against its constructor's signature instead, and
an unknown key is named with its closest match.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator
from typing import Any

from hydra.utils import get_method
from omegaconf import DictConfig

from lnet.errors import ConfigError

CHECKED_GROUPS = ("trainer", "callbacks", "model", "data")


def _targets(node: Any, path: str) -> Iterator[tuple[str, DictConfig]]:
    """``(path, node)`` for every node with a ``_target_`` at or below ``node``."""
    if not isinstance(node, DictConfig):
        return
    if "_target_" in node:
        yield path, node
    for key, child in node.items_ex(resolve=False):  # interpolations stay unresolved
        yield from _targets(child, f"{path}.{key}")


def _accepted(target: str) -> set[str] | None:
    """Keyword names ``target`` accepts, or None when it takes any (``**kwargs``) or when
    its signature cannot be read (instantiate then reports it)."""
    try:
        fn = get_method(target)
        params = inspect.signature(fn).parameters.values()
    except (ImportError, ValueError, TypeError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}


def check_constructor_keys(cfg: DictConfig, groups: tuple[str, ...] = CHECKED_GROUPS) -> None:
    """Raise :class:`ConfigError` for a key that the ``_target_`` of its node does not take.

    The message names the full key and the closest accepted name, e.g.
    ``trainer.max_epoch: Trainer takes no argument 'max_epoch' (did you mean max_epochs?)``.
    """
    for group in groups:
        for path, node in _targets(cfg._get_node(group) if group in cfg else None, group):
            accepted = _accepted(str(node._target_))
            if accepted is None:
                continue
            for key in node:
                if key.startswith("_") or key in accepted:
                    continue
                name = str(node._target_).rsplit(".", 1)[-1]
                close = difflib.get_close_matches(str(key), sorted(accepted), n=1)
                hint = f" (did you mean {path}.{close[0]}?)" if close else ""
                raise ConfigError(f"{path}.{key}", f"{name} takes no argument {key!r}{hint}")
