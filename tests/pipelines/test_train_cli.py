"""The train command line: a finished run, Ctrl-C -> KILLED, config errors in one line."""

import signal
import subprocess
import sys
import time
import uuid

import pytest
from mlflow.tracking import MlflowClient

from lnet.config import project_root
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES

ROOT = project_root()
pytestmark = pytest.mark.e2e  # every test here starts the command line


def cli_args(tmp_path, store, *overrides):
    return [
        sys.executable,
        str(ROOT / "pipelines" / "train.py"),
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"logger.tracking_uri={store['uri']}",
        f"logger.artifact_root={store['artifacts']}",
        *overrides,
    ]


def find_run(store, test_id):
    client = MlflowClient(store["uri"])
    exp = client.get_experiment_by_name("lnet")
    if exp is None:
        return None
    runs = client.search_runs([exp.experiment_id], f"tags.test_id = '{test_id}'")
    return runs[0] if runs else None


def test_cli_run_finishes_with_summary(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    res = subprocess.run(
        cli_args(
            tmp_path,
            mlflow_store,
            *TINY_TRAIN_OVERRIDES["weyl"],
            *TINY_DATA,
            f"+tags.test_id={test_id}",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    run = find_run(mlflow_store, test_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_id in res.stdout
    assert run.info.run_name.startswith("weyl-counting-uniform-n64-")
    url = next(ln for ln in res.stdout.splitlines() if ln.startswith("then browse:"))
    assert url.split()[-1] == (
        f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
        "?workflowType=machine_learning"
    )
    # no chatter the user did not cause
    output = res.stdout + res.stderr
    noise = (
        "Tip:",
        "GPU available",
        "TPU available",
        "Seed set to",
        "LeafSpec",
        "system metrics",
        "Validating input example",
        "database tables",
    )
    assert [s for s in noise if s in output] == [], output[-3000:]
    # piped output is not wrapped: the UI command is one line that runs as pasted
    import shlex
    from pathlib import Path

    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("open the UI:"))
    argv = shlex.split(line.removeprefix("open the UI:"))
    assert Path(argv[0]).name == "mlflow" and Path(argv[0]).exists()
    assert argv[1:3] == ["ui", "--backend-store-uri"]
    assert (
        Path(argv[3].removeprefix("sqlite:///")).resolve()
        == Path(mlflow_store["uri"].removeprefix("sqlite:///")).resolve()
    )


def test_ctrl_c_marks_run_killed(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    args = cli_args(
        tmp_path,
        mlflow_store,
        *TINY_TRAIN_OVERRIDES["landscape_net"],
        *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
        "trainer.max_epochs=100000",
        f"+tags.test_id={test_id}",
    )
    # output goes to a file: an unread pipe fills up with per-epoch progress lines and
    # blocks the child before it can handle the signal
    log = tmp_path / "train.log"
    with log.open("w") as out:
        # a shell's background job (CI run with `&`) inherits SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler: give the child the default back
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.time() + 240
            while time.time() < deadline:
                run = find_run(mlflow_store, test_id)
                if run is not None and run.data.params.get("trainable_params"):
                    break
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
            time.sleep(3)  # inside the training loop by now
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=300)  # ends the run KILLED
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode != 0, log.read_text()[-3000:]
    assert find_run(mlflow_store, test_id).info.status == "KILLED"


def test_cli_config_error_is_one_line(tmp_path, mlflow_store):
    res = subprocess.run(
        cli_args(tmp_path, mlflow_store, "model.net.box_strides=[10,10,3]"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "config error: model.net.n: lattice length n = 1000 must be a multiple of "
        "prod(box_strides) = 300 (box_strides = [10, 10, 3]); set data.n or "
        "model.net.box_strides"
    ]


def test_cli_runtime_failure_is_reported_once_and_run_failed(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    res = subprocess.run(
        cli_args(
            tmp_path,
            mlflow_store,
            *TINY_TRAIN_OVERRIDES["landscape_net"],
            *TINY_DATA,
            "model.optimizer.lr=-1",  # torch refuses it inside the run, after the data is built
            f"+tags.test_id={test_id}",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1
    assert res.stderr.count("Invalid learning rate: -1") == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    run = find_run(mlflow_store, test_id)
    assert run.info.status == "FAILED" and "Invalid learning rate" in run.data.tags["lnet.error"]
