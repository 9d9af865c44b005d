"""run_ranges: every task exactly once, in any number of threads, errors re-raised; the
2-D counter's threaded route gives the counts of its one-thread route; numba's pool leaves
torch's OpenMP thread count alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest

from lnet.physics import count_eigenvalues
from lnet.physics.multifrontal import SERIAL_WORK
from lnet.physics.threads import run_ranges


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def numba_threads(request):
    if request.param > numba.config.NUMBA_NUM_THREADS:
        pytest.fail(f"NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS} < {request.param}")
    before = numba.get_num_threads()
    numba.set_num_threads(request.param)
    yield request.param
    numba.set_num_threads(before)


@pytest.mark.parametrize("n_tasks", [0, 1, 2, 3, 7, 8, 9, 100])
def test_every_task_runs_exactly_once(n_tasks, numba_threads):
    hits = np.zeros(n_tasks, dtype=np.int64)
    ranges: list[tuple[int, int]] = []
    lock = threading.Lock()

    def kernel(out, start, stop):
        with lock:
            ranges.append((start, stop))
        out[start:stop] += 1

    run_ranges(kernel, n_tasks, hits)
    np.testing.assert_array_equal(hits, 1)
    assert all(lo <= hi for lo, hi in ranges)
    assert len(ranges) <= max(1, 4 * numba_threads)


def test_an_error_in_a_range_reaches_the_caller(numba_threads):
    def kernel(start, stop):
        if start <= 5 < stop:
            raise ZeroDivisionError(f"task 5 of [{start}, {stop})")

    with pytest.raises(ZeroDivisionError, match="task 5"):
        run_ranges(kernel, 12)


def test_threaded_2d_counts_equal_one_energy_at_a_time(numba_threads):
    rng = np.random.default_rng(3)
    V = rng.random((3, 12, 12)) * np.array([1.0, 1e-3, 30.0])[:, None, None]
    m = int(SERIAL_WORK / (3 * 144**1.5)) + 2  # above the serial threshold: threads
    E = rng.uniform(0.0, 1.0, (3, m)) * np.array([1.0, 0.05, 30.0])[:, None]
    batch = count_eigenvalues(V, E, dim=2)
    one_by_one = np.array(
        [[count_eigenvalues(V[b], E[b, j : j + 1], dim=2)[0] for j in range(m)] for b in range(3)]
    )
    np.testing.assert_array_equal(batch, one_by_one)


def test_an_unknown_kernel_group_is_named():
    from lnet.kernels import GROUPS, exercise

    with pytest.raises(ValueError, match=r"unknown kernel group 'counter_3d'.*multifrontal"):
        exercise("counter_3d")
    assert exercise("multifrontal") < 60.0  # compiled by the session fixture: a cache load
    assert set(GROUPS) == {"rest", "multifrontal"}


_THREAD_COUNTS = """
import json, numpy as np, torch, numba
import lnet.physics as P
V = np.random.default_rng(0).random((4, 200))
P.count_eigenvalues(V, np.tile(np.linspace(0.01, 0.5, 8), (4, 1)))
x = torch.randn(4, 8, 200, requires_grad=True)
torch.nn.functional.conv1d(x, torch.randn(8, 8, 5)).sum().backward()
print(json.dumps({"torch": torch.get_num_threads(), "numba": numba.get_num_threads()}))
"""


@pytest.mark.e2e
def test_numba_pool_leaves_torchs_thread_count_alone():
    """A process told OMP_NUM_THREADS=1 keeps one torch thread after an exact count has
    started numba's OpenMP pool, whose parallel loops still get NUMBA_NUM_THREADS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"}
    env.pop("NUMBA_THREADING_LAYER", None)
    done = subprocess.run(
        [sys.executable, "-c", _THREAD_COUNTS],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"torch": 1, "numba": 2}


_FORK_AFTER_IMPORT = """
import multiprocessing as mp, numpy as np
import lnet.physics as P

def count(seed):
    V = np.random.default_rng(seed).random((2, 100))
    return int(P.count_eigenvalues(V, np.full((2, 1), 0.5)).sum())

if __name__ == "__main__":
    with mp.get_context("fork").Pool(2) as pool:
        print(pool.map(count, [0, 1]))
"""


@pytest.mark.e2e
def test_a_process_that_only_imported_lnet_can_fork_children_that_count(tmp_path):
    """numba's OpenMP pool starts on the first parallel kernel, not on import: GNU OpenMP
    is not fork-safe: a forked child of a process whose pool runs is terminated by numba
    or hangs (seen here with the pool started on import: the children never returned)."""
    script = tmp_path / "fork_after_import.py"
    script.write_text(_FORK_AFTER_IMPORT)
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    env.pop("NUMBA_THREADING_LAYER", None)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fork() called" not in done.stderr
    assert len(json.loads(done.stdout.splitlines()[-1])) == 2
