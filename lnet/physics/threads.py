"""Run a serial numba kernel over ranges of tasks in parallel Python threads.

The kernels that take this route are ``njit(nogil=True)`` loops ``kernel(*args, start,
stop)`` over tasks ``start <= t < stop``, each writing only its own slots of an output
array. Threads run them truly in parallel (the GIL is released inside), and one serial
specialisation serves both the one-thread and the many-thread route. numba's
``parallel=True`` would compile a second, parfor version of the same loop, which
doubles the compile time of the 2-D counter for no speed gained on tasks this coarse.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba

__all__ = ["run_ranges"]


def run_ranges(kernel: Callable[..., None], n_tasks: int, *args: object) -> None:
    """Call ``kernel(*args, start, stop)`` on contiguous ranges covering [0, n_tasks).

    The ranges (four per thread, for balance) go to ``numba.get_num_threads()`` threads
    (``NUMBA_NUM_THREADS`` caps them); one thread, or one task, runs in the caller.
    The first exception a range raises is re-raised here.
    """
    threads = min(numba.get_num_threads(), n_tasks)
    if threads <= 1:
        kernel(*args, 0, n_tasks)
        return
    chunks = min(n_tasks, 4 * threads)
    bounds = [n_tasks * c // chunks for c in range(chunks + 1)]
    with ThreadPoolExecutor(threads, thread_name_prefix="lnet-kernel") as pool:
        futures = [
            pool.submit(kernel, *args, lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)
        ]
        for future in futures:
            future.result()
