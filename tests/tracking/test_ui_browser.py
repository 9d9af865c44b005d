"""The MLflow UI in a real browser: `mlflow ui` on a store holding one finished lnet run,
rendered by headless Chromium (the Debian package `chromium`; `.ci/run` installs it).

What MLflow 3.17's UI shows, and so what is checked here:

* the runs table (``#/experiments/<id>/runs``) lists the run name and the logged dataset as
  ``<name> (<digest>)``; metrics are not default columns (they sit behind "Show more
  columns"), so ``test_mse`` is checked on the run page, which lists every metric with its
  value;
* which side of the UI opens is chosen by the sidebar's GenAI / Model training switch
  (``?workflowType=`` in the URL, else the browser's saved choice, else GenAI), not by the
  experiment's ``mlflow.experimentKind`` tag that lnet sets; the links therefore carry
  ``?workflowType=machine_learning``, and the last test records that a bare experiment link
  still lands on the GenAI Overview.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES

pytestmark = pytest.mark.e2e  # starts a UI server and a browser, and trains

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MODEL_TRAINING = "workflowType=machine_learning"


def _find_browser() -> str | None:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


def _require_browser(ui: SimpleNamespace) -> str:
    if ui.browser is None:
        pytest.fail(
            f"no headless browser on PATH (looked for {', '.join(BROWSERS)}): install the "
            "Debian package `chromium` (apt-get install -y --no-install-recommends chromium); "
            ".ci/run does this before `make test-slow`",
            pytrace=False,
        )
    return ui.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UiServer:
    """`mlflow ui` (one worker) on 127.0.0.1, in its own process group."""

    def __init__(self, tracking_uri: str, root: Path) -> None:
        self.port = _free_port()
        self.log = root / "mlflow-ui.log"
        # the UI needs no background jobs: no huey workers to start, load and stop
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log, "w") as log:  # a file, not a pipe: the server logs every request
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlflow",
                    "ui",
                    "--backend-store-uri",
                    tracking_uri,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                ],
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UiServer:
        deadline = time.time() + 240
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(1)
        self.__exit__()
        raise AssertionError(f"mlflow ui did not answer in 240 s:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A finished tiny lnet run in a fresh sqlite store, served by `mlflow ui`."""
    browser = _find_browser()
    if browser is None:  # each test fails with the install hint; no need to train first
        yield SimpleNamespace(browser=None)
        return
    from hydra import compose, initialize_config_dir
    from mlflow import MlflowClient

    from lnet.config import config_dir
    from lnet.training import train

    root = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.data_dir={root / 'data'}",
                f"paths.log_dir={root / 'logs'}",
                f"paths.output_dir={root / 'out'}",
                f"logger.tracking_uri={uri}",
                f"logger.artifact_root={root / 'mlruns'}",
                *TINY_TRAIN_OVERRIDES["landscape_net"],
                *TINY_DATA,
            ],
        )
    result = train(cfg)
    run = MlflowClient(uri).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    (dataset,) = [d.dataset for d in run.inputs.dataset_inputs]
    with UiServer(uri, root) as server:
        yield SimpleNamespace(
            browser=browser,
            url=server.url,
            root=root,
            experiment_id=run.info.experiment_id,
            run_id=run.info.run_id,
            run_name=run.info.run_name,
            dataset=f"{dataset.name} ({dataset.digest})",
            test_mse=run.data.metrics["test_mse"],
        )


def _as_javascript(x: float) -> str:
    """A metric value as the UI prints it (JavaScript's shortest round-trip Number#toString)."""
    if x == 0 or 1e-6 <= abs(x) < 1e21:
        return np.format_float_positional(x, trim="-")
    mantissa, exponent = repr(x).split("e")
    return f"{mantissa}e{int(exponent):+d}"


@dataclass
class Page:
    title: str
    lines: list[str]  # the rendered text, one DOM text node a line


def _read(dom: str) -> Page:
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    body = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", dom, flags=re.S)
    lines = [html.unescape(s).strip() for s in re.split(r"<[^>]*>", body)]
    return Page(
        title=html.unescape(title.group(1)).strip() if title else "",
        lines=[s for s in lines if s],
    )


def _render(ui: SimpleNamespace, fragment: str, expected: list[str], tries: int = 2) -> Page:
    """Render ``<server>/#/<fragment>`` in headless Chromium with a fresh profile (no saved
    UI choices) and return its text once every ``expected`` line is there (one retry)."""
    browser = _require_browser(ui)
    url = f"{ui.url}/#/{fragment}"
    for _ in range(tries):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=ui.root)
        res = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                f"--user-data-dir={profile}",
                "--window-size=1600,1000",
                "--virtual-time-budget=30000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
        page = _read(res.stdout)
        missing = [s for s in expected if s not in page.lines]
        if not missing:
            return page
    raise AssertionError(
        f"{url} rendered as {page.title!r} without {missing} after {tries} tries;"
        f" its text: {page.lines[:120]}; chromium said: {res.stderr[-1500:]}"
    )


@pytest.mark.slow
def test_runs_table_lists_the_run_with_its_dataset(ui):
    _require_browser(ui)
    page = _render(
        ui,
        f"experiments/{ui.experiment_id}/runs?{MODEL_TRAINING}",
        ["Run Name", "Dataset", ui.run_name, ui.dataset],
    )
    assert page.title == f"Runs - Experiment {ui.experiment_id} - MLflow"
    # the Model training side: its sidebar has the model registry, the GenAI one does not
    assert "Model registry" in page.lines and "Training runs" not in page.lines


@pytest.mark.slow
def test_run_page_shows_test_mse_and_the_dataset(ui):
    _require_browser(ui)
    value = _as_javascript(ui.test_mse)
    page = _render(
        ui,
        f"experiments/{ui.experiment_id}/runs/{ui.run_id}?{MODEL_TRAINING}",
        [ui.run_name, "test_mse", value, ui.dataset],
    )
    assert page.title == f"Run {ui.run_id} - MLflow"
    # the metrics table: the name, then its value
    i = page.lines.index("test_mse")
    assert page.lines[i + 1] == value, page.lines[i - 4 : i + 6]


class LandedOnGenAIOverview(AssertionError):
    pass


@pytest.mark.slow
@pytest.mark.xfail(
    raises=LandedOnGenAIOverview,
    strict=True,
    reason="MLflow 3.17's UI ignores the mlflow.experimentKind tag when it picks an "
    "experiment's landing page: the GenAI / Model training switch does (?workflowType=, "
    "else the browser's saved choice, else GenAI). When this passes, the tag is honoured "
    "again and links no longer need ?workflowType=machine_learning.",
)
def test_bare_experiment_link_opens_on_the_runs_table(ui):
    _require_browser(ui)
    page = _render(ui, f"experiments/{ui.experiment_id}", ["lnet"])
    overview = f"Overview - Experiment {ui.experiment_id} - MLflow"
    runs = f"Runs - Experiment {ui.experiment_id} - MLflow"
    assert page.title in (overview, runs), page.title  # a page rendered, one of the two
    if page.title == overview:
        raise LandedOnGenAIOverview(f"{page.title}: {page.lines[:40]}")
