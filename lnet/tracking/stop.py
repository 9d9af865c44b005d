"""Stopping a run cleanly: signals set a flag, the work stops at its next boundary.

A SIGINT (Ctrl-C) or SIGTERM does not raise inside whatever happens to run (an MLflow
sqlite write, a BLAS call): the handler only records the request. Training stops at
the next batch boundary (:class:`lnet.tracking.lightning.StopOnSignal`, agreed across DDP ranks), evaluation
at its next stage (:func:`check`), and :func:`lnet.tracking.run.tracked_run` then ends
the run KILLED. A second signal forces the exit at once (``KeyboardInterrupt``).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

_HANDLED = (signal.SIGINT, signal.SIGTERM)
_requested: str | None = None  # the name of the first signal received, if any


class StopRequested(KeyboardInterrupt):
    """Raised at a work boundary after a stop was requested (a ``KeyboardInterrupt``,
    so code that lets Ctrl-C through lets this through too)."""


def requested() -> str | None:
    """The name of the signal that asked this process to stop (``"SIGINT"``), else None."""
    return _requested


def request(name: str = "SIGINT") -> None:
    """Record a stop request, as the signal handler does (also for tests and callers)."""
    global _requested
    if _requested is None:
        _requested = name


def clear() -> None:
    """Forget a stop request (a new job of a multirun starts clean)."""
    global _requested
    _requested = None


def check(where: str) -> None:
    """Raise :class:`StopRequested` if a stop was requested; ``where`` names the boundary."""
    if _requested is not None:
        raise StopRequested(f"{_requested} received; stopped before {where}")


def _handler(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    if _requested is not None:  # the second signal: stop now, wherever we are
        raise KeyboardInterrupt(f"{name} received twice")
    request(name)
    print(
        f"\nlnet: {name} received: stopping at the next step boundary "
        "(send it again to stop at once)",
        file=sys.stderr,
        flush=True,
    )


@contextlib.contextmanager
def signals_set_flag() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM only request a stop (see the module docstring).

    The previous handlers come back afterwards. Outside the main thread (where Python
    cannot install handlers) the block runs with the handlers it has. A signal that the
    process ignored (a background job's SIGINT) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    clear()
    previous = {s: signal.getsignal(s) for s in _HANDLED}
    for s, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, signal.SIG_DFL if old is None else old)
