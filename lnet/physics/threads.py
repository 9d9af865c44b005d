"""Run a serial numba kernel over ranges of tasks in parallel Python threads.

The kernels that take this route are ``njit(nogil=True)`` loops ``kernel(*args, start,
stop)`` over tasks ``start <= t < stop``, each writing only its own slots of an output
array. Threads run them truly in parallel (the GIL is released inside), and one serial
specialisation serves both the one-thread and the many-thread route. numba's
``parallel=True`` would compile a second, parfor version of the same loop, which
doubles the compile time of the 2-D counter for no speed gained on tasks this coarse.

The other kernels are ``parallel=True`` loops on numba's own thread pool.
:func:`start_numba_threads`, called before each of them, starts that pool so that it
leaves the process's OpenMP thread count alone: numba's OpenMP layer sets it to
``NUMBA_NUM_THREADS`` when it starts, and torch, which runs on the same libgomp, then
follows (numba/numba#9387). Without this, a training process told
``OMP_NUM_THREADS=1`` ran its convolutions on every core once it had built a dataset,
and three runs side by side on two cores spun one another down to half speed. The pool
starts on the first parallel kernel, not on import: GNU OpenMP is not fork-safe, and a
process that only imports lnet can still fork children that count.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba

__all__ = ["run_ranges", "start_numba_threads"]

_started = False


def _libgomp() -> ctypes.CDLL | None:
    """The process's GNU OpenMP runtime (by its soname: the one copy numba's and torch's
    OpenMP share), or None where there is none to load."""
    try:
        return ctypes.CDLL("libgomp.so.1")
    except OSError:
        return None


def start_numba_threads() -> None:
    """Start numba's thread pool now and keep the OpenMP thread count it would reset.

    Reads ``omp_get_max_threads()`` (``OMP_NUM_THREADS``, or what torch.set_num_threads
    set) before numba starts its pool, and restores it after, when numba runs on its
    OpenMP layer. numba's own parallel loops keep ``numba.get_num_threads()`` threads;
    torch's intra-op count is what the user asked for. After the first call, a no-op.
    """
    global _started
    if _started:
        return
    _started = True
    gomp = _libgomp()
    before = gomp.omp_get_max_threads() if gomp is not None else None
    numba.get_num_threads()  # starts the pool
    if gomp is not None and numba.threading_layer() == "omp":
        gomp.omp_set_num_threads(before)


def run_ranges(kernel: Callable[..., None], n_tasks: int, *args: object) -> None:
    """Call ``kernel(*args, start, stop)`` on contiguous ranges covering [0, n_tasks).

    The ranges (four per thread, for balance) go to ``numba.get_num_threads()`` threads
    (``NUMBA_NUM_THREADS`` caps them); one thread, or one task, runs in the caller.
    The first exception a range raises is re-raised here.
    """
    start_numba_threads()
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
