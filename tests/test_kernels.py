"""lnet.kernels: numba kernels compiled ahead of use, part of them started early."""

import pytest

from lnet.kernels import GROUPS, compile_kernels, start_compiling


def test_an_unknown_group_is_named():
    with pytest.raises(ValueError, match=r"unknown kernel groups \['nope'\]"):
        start_compiling(("nope",))


@pytest.mark.e2e  # spawns a worker process
def test_groups_started_early_are_awaited_and_loaded():
    started = start_compiling(("multifrontal",))
    times = compile_kernels(started=started)
    assert set(times) == {*GROUPS, "load"}
    assert all(t >= 0.0 for t in times.values())
    assert started.futures["multifrontal"].done()
    with pytest.raises(RuntimeError):  # the pool was shut down
        started.pool.submit(print)
