"""First-run friction: what a new user hits in the first minutes, each with a clear error."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import mlflow
import pytest

from lnet.config import project_root
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES, config_error_of

ROOT = project_root()


def _train_cli(*args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, str(ROOT / "pipelines" / "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _messages(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if not ln.startswith("import time:")]


@pytest.mark.e2e
def test_a_key_typo_is_one_line_before_torch_is_imported():
    res = _train_cli("trainer.max_epoch=1", importtime=True)
    assert res.returncode == 2
    assert _messages(res.stderr) == [
        "config error: trainer.max_epoch: no such key (did you mean trainer.max_epochs?)"
    ]
    imported = {ln.split("|")[-1].strip() for ln in res.stderr.splitlines() if "|" in ln}
    assert not imported & {"torch", "pytorch_lightning", "mlflow"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "override, line",
    [
        ("foo=1", "config error: foo: no such key"),
        ("eval_sizes=[100]", "config error: eval_sizes: no such key (did you mean eval.sizes?)"),
        (
            "eval.sizes=[big]",
            "config error: eval.sizes=[big]: Value 'big' of type 'str' could not be converted "
            "to Integer",
        ),
    ],
)
def test_unknown_keys_and_wrong_types_are_one_line(override, line):
    """A top-level typo (or an old flat eval_* key) and a value of the wrong type: one
    line and exit 2, no traceback."""
    res = _train_cli(override)
    assert res.returncode == 2 and _messages(res.stderr) == [line], res.stderr[-2000:]


@pytest.mark.e2e
def test_a_misspelled_group_option_is_one_line_and_exit_2():
    res = _train_cli("model=landscpe_net")
    assert res.returncode == 2
    [line] = _messages(res.stderr)
    assert line.startswith(
        "config error: model=landscpe_net: no such option in conf/model/ "
        "(did you mean model=landscape_net? options: box_counting,"
    )


def test_following_hydras_append_advice_fails_before_any_run(compose_train, mlflow_store):
    """``+trainer.max_epoch=1`` is what Hydra suggests for the typo above: it must not
    start a run that dies in Trainer.__init__."""
    store = mlflow.MlflowClient(mlflow_store["uri"])
    before = {r.info.run_id for r in store.search_runs(_experiments(store))}
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["weyl"], *TINY_DATA, "+trainer.max_epoch=1")
    err = config_error_of(cfg)
    assert err.key == "trainer.max_epoch"
    assert "did you mean trainer.max_epochs?" in str(err)
    assert {r.info.run_id for r in store.search_runs(_experiments(store))} == before


def _experiments(client: mlflow.MlflowClient) -> list[str]:
    return [e.experiment_id for e in client.search_experiments()] or ["0"]


@pytest.mark.parametrize(
    ("override", "key", "match"),
    [
        ("+model.net.kernal_size=3", "model.net.kernal_size", "did you mean model.net.kernel_size"),
        ("+callbacks.model_checkpoint.monitr=x", "callbacks.model_checkpoint.monitr", "monitor"),
    ],
)
def test_model_and_callback_keys_are_checked_against_their_classes(
    compose_train, override, key, match
):
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["landscape_net"], *TINY_DATA, override)
    err = config_error_of(cfg)
    assert err.key == key and match in str(err)


def test_a_too_short_lattice_names_data_n_first(compose_train):
    """With the default model a two-site lattice used to be reported as a box-stride
    problem, whose advice (change box_strides) cannot help."""
    err = config_error_of(compose_train("data.n=2"))
    assert err.key == "data.n"
    assert str(err) == "data.n: must be an integer >= 3, got 2"


def test_the_licence_is_an_spdx_string():
    """A TOML table is deprecated by setuptools and warns on every install."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"
    assert any(r.startswith("setuptools>=77") for r in meta["build-system"]["requires"])
