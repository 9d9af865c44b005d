import subprocess
import sys

from lnet.config import project_root

ROOT = project_root()


def run_generate(*overrides):
    return subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "generate.py"), *overrides],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_generate_builds_then_hits(tmp_path):
    args = [
        f"paths.data_dir={tmp_path}",
        f"paths.log_dir={tmp_path}/logs",
        "data.n=40",
        "data.energies.count=5",
        "data.sizes.train=4",
        "data.sizes.val=2",
        "data.sizes.test=2",
    ]
    first = run_generate(*args)
    assert first.returncode == 0, first.stderr
    assert "built" in first.stdout and "key" in first.stdout
    second = run_generate(*args)
    assert second.returncode == 0, second.stderr
    assert "hit (verified)" in second.stdout


def test_generate_config_error_is_one_line(tmp_path):
    res = run_generate(
        f"paths.data_dir={tmp_path}", f"paths.log_dir={tmp_path}", "data.sizes.val=-3"
    )
    assert res.returncode == 2
    assert "config error: data.sizes.val: must be an integer >= 1, got -3" in res.stderr
    assert "Traceback" not in res.stderr
