"""pipelines/generate.py: builds a dataset, then finds it verified; config errors in one line.

The pipeline runs in this process (its ``main`` on a composed config); one test runs the
command line for its exit status and one-line error."""

import subprocess
import sys

import pytest

from lnet.config import project_root
from tests.conftest import compose_config, pipeline, run_cli_main

ROOT = project_root()


def run_generate(*overrides):
    return subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "generate.py"), *overrides],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def generate_here(tmp_path, capsys, *overrides):
    """``python pipelines/generate.py <overrides>`` in this process, data in tmp_path."""
    cfg = compose_config("generate", tmp_path, None, *overrides, data_dir=tmp_path)
    return run_cli_main(pipeline("generate").main, cfg, capsys)


def test_generate_builds_then_hits(tmp_path, capsys):
    args = [
        "data.n=40",
        "data.energies.count=5",
        "data.sizes.train=4",
        "data.sizes.val=2",
        "data.sizes.test=2",
    ]
    code, first, err = generate_here(tmp_path, capsys, *args)
    assert code == 0, err
    text = "\n".join(first)
    assert "built" in text and "key" in text and "hit (verified)" not in text
    code, second, err = generate_here(tmp_path, capsys, *args)
    assert code == 0, err
    assert "hit (verified)" in "\n".join(second)


@pytest.mark.e2e
def test_generate_config_error_is_one_line(tmp_path):
    res = run_generate(
        f"paths.data_dir={tmp_path}", f"paths.log_dir={tmp_path}", "data.sizes.val=-3"
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "config error: data.sizes.val: must be an integer >= 1, got -3"
    ]
    assert res.stdout == ""
