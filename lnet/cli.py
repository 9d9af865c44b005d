"""Small helpers shared by the pipelines' command lines."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from hydra.errors import InstantiationException

from lnet.data.errors import ConfigError


def _config_error(exc: BaseException) -> ConfigError | None:
    while exc is not None:
        if isinstance(exc, ConfigError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def exit_on_config_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ConfigError (also when wrapped by hydra.utils.instantiate) into one line
    on stderr and exit status 2, instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, InstantiationException) as exc:
            err = _config_error(exc)
            if err is None:
                raise
            print(f"config error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
