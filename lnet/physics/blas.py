"""How many threads BLAS may use inside a block, without rescanning the process.

``threadpoolctl.threadpool_limits`` finds the BLAS libraries by reading the process's
memory map on every call (about 2 ms): for counts on small lattices that is most of the
time of a count. One :class:`threadpoolctl.ThreadpoolController`, made after numpy's and
scipy's BLAS are loaded, is reused instead.
"""

from __future__ import annotations

import functools

import scipy.linalg  # noqa: F401  (loads scipy's BLAS before the controller looks)
from threadpoolctl import ThreadpoolController


@functools.lru_cache(maxsize=1)
def blas_controller() -> ThreadpoolController:
    """The process's BLAS libraries, scanned once."""
    return ThreadpoolController()


def blas_threads(limit: int):
    """A context manager: at most ``limit`` BLAS threads inside the block."""
    return blas_controller().limit(limits=max(1, int(limit)), user_api="blas")
