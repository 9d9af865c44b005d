"""Small helpers shared by the pipelines' command lines."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from lnet.errors import ConfigError


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
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            err = _config_error(exc)
            if err is not None:
                print(f"config error: {err}", file=sys.stderr)
                sys.exit(2)
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            if not getattr(exc, "lnet_reported", False):
                print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            print("(set HYDRA_FULL_ERROR=1 for the traceback)", file=sys.stderr)
            sys.exit(1)

    return wrapper
