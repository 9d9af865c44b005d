"""Compile lnet's numba kernels ahead of use, in parallel processes.

Every kernel is ``njit(cache=True)``: compiled on first call, then loaded from numba's
on-disk cache (``__pycache__`` beside the source, or ``NUMBA_CACHE_DIR``). A fresh
clone has no cache, and compiling everything takes about 40 s of one core, most of it
in the multifrontal counter. :func:`compile_kernels` runs the groups of
:data:`GROUPS` in separate processes, one per core, so that the cache is written in
about half that wall time on two cores; the calling process then loads every kernel
from the cache. Useful before a test session, or before a sweep whose workers would
each compile the same kernels.

    python -m lnet.kernels        # prints the wall time of each group
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

__all__ = ["GROUPS", "compile_kernels", "exercise"]


def _multifrontal() -> None:
    """The multifrontal counter of the 2-D and 3-D lattices, its root by LAPACK too."""
    from lnet.physics.multifrontal import count_lattice

    rng = np.random.default_rng(0)
    count_lattice(rng.random((1, 2, 2)) + 0.5, rng.uniform(0.0, 8.0, (1, 3)))
    count_lattice(rng.random((1, 2, 2, 2)) + 0.5, rng.uniform(0.0, 12.0, (1, 3)), lapack_root=0)


def _the_rest() -> None:
    """1-D counting (exact and on the cut chain) and spectrum, box counts and Weyl laws
    in 1-D, 2-D and 3-D, the box law's exact fit, and the 2-D spectrum's bisection."""
    from lnet.models import BoxCountingLaw
    from lnet.physics import (
        box_count,
        count_eigenvalues,
        cut_count,
        eigenvalue_brackets,
        kth_eigenvalue,
        landscape_potential,
        lowest_eigenvalues,
        valley_count,
        weyl_count,
    )
    from lnet.physics.box_counting import box_count_steps
    from lnet.physics.weyl import free_idos_2d

    rng = np.random.default_rng(0)
    V1 = rng.random((2, 5)) + 0.5
    E1 = rng.uniform(0.0, 4.0, (2, 3))
    N1 = count_eigenvalues(V1, E1)
    W1 = landscape_potential(V1)
    box_count(W1, E1)
    valley_count(V1, E1, barrier=2.0, W=W1)
    cut_count(V1, E1, np.array([True, False, False, True, False]))
    weyl_count(W1, E1, kind="lattice")
    box_count_steps(W1[0], 0.01, 4.0)
    lowest_eigenvalues(V1, 2)
    kth_eigenvalue(V1, 2)
    eigenvalue_brackets(V1, 2)
    BoxCountingLaw().fit(W1, E1, N1.astype(np.float64))
    V2 = rng.random((1, 2, 2)) + 0.5
    E2 = rng.uniform(0.0, 8.0, (1, 3))
    W2 = landscape_potential(V2, dim=2)
    box_count(W2, E2, dim=2)
    weyl_count(W2, E2, kind="lattice", dim=2)
    free_idos_2d(E2)
    lowest_eigenvalues(V2, 2, dim=2)
    kth_eigenvalue(V2, 2, dim=2)
    W3 = rng.random((1, 2, 2, 2)) + 0.5  # the 3-D lattice Weyl law's N3 kernels
    weyl_count(W3, rng.uniform(0.0, 12.0, (1, 3)), kind="lattice", dim=3)


#: Groups of kernels of about equal compile time, each compiled by calling its
#: kernels on tiny inputs. The first runs in the calling process (it imports torch,
#: which the caller usually has already); the others in light worker processes.
GROUPS: dict[str, Callable[[], None]] = {"rest": _the_rest, "multifrontal": _multifrontal}


def exercise(group: str) -> float:
    """Call the kernels of ``group`` (a key of :data:`GROUPS`) on tiny inputs; returns
    the wall seconds taken (compile, or cache load, included)."""
    if group not in GROUPS:
        raise ValueError(f"unknown kernel group {group!r}; known: {sorted(GROUPS)}")
    start = time.perf_counter()
    GROUPS[group]()
    return time.perf_counter() - start


def compile_kernels(processes: int | None = None) -> dict[str, float]:
    """Compile every kernel of :data:`GROUPS` into numba's cache, and load them here.

    The first group is exercised in this process while ``processes - 1`` spawned
    workers exercise the others (default: one process per group, at most
    ``os.cpu_count()``); this process then exercises those too, loading what the
    workers cached. With a warm cache the workers only load, in about a second. Should
    a cache not be writable, this process simply compiles again: the result is the
    same, only slower. Returns the wall seconds of each group where it ran first, and
    ``"load"``, the time this process then took for the workers' groups.
    """
    workers = min(len(GROUPS), os.cpu_count() or 1) if processes is None else processes
    local, *remote = GROUPS
    if workers <= 1:
        local, remote = None, list(GROUPS)
        times = {}
    else:
        # spawn: a forked child would inherit numba's and torch's thread pools
        with ProcessPoolExecutor(workers - 1, mp_context=get_context("spawn")) as pool:
            pending = pool.map(exercise, remote)
            times = {local: exercise(local)}
            times.update(zip(remote, pending, strict=True))
    start = time.perf_counter()
    for group in remote:
        exercise(group)
    times["load"] = time.perf_counter() - start
    return times


if __name__ == "__main__":
    for name, seconds in compile_kernels().items():
        print(f"{name:>12}: {seconds:6.1f} s")
