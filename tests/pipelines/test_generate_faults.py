"""A dataset build killed with SIGKILL leaves nothing that a later run would use."""

import subprocess
import sys
import time

import pytest

from lnet.config import project_root
from lnet.data import load_or_build, make_spec

pytestmark = pytest.mark.e2e  # starts the generate command line

ROOT = project_root()
SPEC = dict(
    n=400,
    potential={"family": "uniform"},
    energies={"mode": "between_eigenvalues", "count": 60},
    sizes={"train": 4000, "val": 10, "test": 10},
    seed=3,
)


@pytest.mark.slow
def test_sigkill_mid_build_leaves_no_usable_entry(tmp_path):
    overrides = [
        f"paths.data_dir={tmp_path}",
        f"paths.log_dir={tmp_path / 'logs'}",
        "data.n=400",
        "data.energies.count=60",
        "data.sizes.train=4000",
        "data.sizes.val=10",
        "data.sizes.test=10",
        "data.seed=3",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "pipelines" / "generate.py"), *overrides],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        # wait until the builder holds the lock (the build has started)
        while time.time() < deadline and not list(tmp_path.glob("*.lock")):
            assert proc.poll() is None, "generate finished before it could be killed"
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, "the build finished too fast to be interrupted"
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    spec = make_spec("counting", **SPEC)
    final = tmp_path / spec.name
    assert not final.exists(), "a killed build must not leave an entry in place"
    entry = load_or_build(spec, tmp_path, show_progress=False)
    assert not entry.hit
    assert entry.arrays["train"]["N"].shape == (4000, 60)
    assert not list(tmp_path.glob(".tmp-*")), "leftovers of the killed builder are cleaned up"
    assert load_or_build(spec, tmp_path, show_progress=False).hit
