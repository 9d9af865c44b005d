"""A training killed with SIGKILL is resumed into the same MLflow run, history intact."""

import hashlib
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from lnet.errors import ConfigError
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES, config_error_of, pipeline, run_cli_main
from tests.pipelines.test_train_cli import cli_args, find_run

# the tiny LandscapeNet run of two epochs with checkpoints, shared through `trained`
CHECKPOINTED = (
    *TINY_TRAIN_OVERRIDES["landscape_net"],
    *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
    "trainer.max_epochs=2",
)


@pytest.mark.slow
@pytest.mark.e2e
def test_sigkill_then_resume_continues_the_run(tmp_path, mlflow_store):
    test_id = uuid.uuid4().hex
    base = [
        *TINY_TRAIN_OVERRIDES["landscape_net"],
        *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
    ]
    first = subprocess.Popen(
        cli_args(
            tmp_path, mlflow_store, *base, "trainer.max_epochs=100000", f"+tags.test_id={test_id}"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = MlflowClient(mlflow_store["uri"])
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            run = find_run(mlflow_store, test_id)
            if run is not None and len(client.get_metric_history(run.info.run_id, "val/mse")) >= 3:
                break
            assert first.poll() is None, first.communicate()[1][-3000:]
            time.sleep(0.5)
        first.kill()  # SIGKILL: nothing can mark the run, it stays RUNNING
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    run_id = run.info.run_id
    before = client.get_metric_history(run_id, "val/mse")
    assert client.get_run(run_id).info.status == "RUNNING"

    res = subprocess.run(
        cli_args(
            tmp_path,
            mlflow_store,
            *base,
            f"trainer.max_epochs={len(before) + 3}",
            f"resume={run_id}",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    after = client.get_metric_history(run_id, "val/mse")
    assert client.get_run(run_id).info.status == "FINISHED"
    assert len(after) > len(before)
    # the history before the kill is still there, and training went on past it
    assert [(m.step, m.value) for m in after[: len(before)]] == [(m.step, m.value) for m in before]
    assert max(m.step for m in after) > max(m.step for m in before)
    assert "test_mse" in client.get_run(run_id).data.metrics


def test_resume_of_unknown_run_is_a_config_error(compose_train, mlflow_store, capsys):
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["landscape_net"], *TINY_DATA, "resume=0123abcd")
    err = config_error_of(cfg)
    assert err.key == "resume" and "no MLflow run '0123abcd'" in str(err)
    # what the command line prints: the one line, exit status 2
    code, _, lines = run_cli_main(pipeline("train").main, cfg, capsys)
    assert code == 2
    assert lines == [f"config error: resume: no MLflow run '0123abcd' in {mlflow_store['uri']}"]


def _checkpointed_run(trained):
    """The shared tiny LandscapeNet run of two epochs, and its last checkpoint file (found
    as resume finds it, through the run's ``lnet.checkpoint_dir`` tag)."""
    result = trained(*CHECKPOINTED)
    tags = MlflowClient(result.cfg.logger.tracking_uri).get_run(result.run_id).data.tags
    last = Path(tags["lnet.checkpoint_dir"], "last.ckpt")
    assert last.is_file()
    return result, str(last)


def _record_fit(monkeypatch) -> dict:
    """Replace the trainer: fit records the checkpoint it is given and the weights the
    module has when fit starts."""
    import lnet.training as training

    seen: dict = {}

    class RecordingTrainer:
        current_epoch = global_step = 0
        checkpoint_callback = None

        def fit(self, module, datamodule=None, ckpt_path=None, weights_only=None):
            seen["ckpt_path"] = ckpt_path
            seen["state"] = {k: v.clone() for k, v in module.state_dict().items()}

    monkeypatch.setattr(training, "_make_trainer", lambda cfg, logger: RecordingTrainer())
    return seen


@pytest.mark.e2e
def test_every_ddp_rank_resumes_from_the_same_checkpoint(trained, compose_train, monkeypatch):
    """Ranks > 0 get the checkpoint rank 0 resolved (not a fresh start)."""
    import lnet.training as training

    result, last = _checkpointed_run(trained)
    seen = _record_fit(monkeypatch)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv(training.RESUME_ENV, last)
    cfg = compose_train(
        *TINY_TRAIN_OVERRIDES["landscape_net"], *TINY_DATA, f"resume={result.run_id}"
    )
    worker = training.train(cfg)
    assert worker.run_id == "" and seen["ckpt_path"] == last
    # without rank 0's hand-over a rank finds the same file through the run's tag
    monkeypatch.delenv(training.RESUME_ENV)
    seen.clear()
    training.train(cfg)
    assert seen["ckpt_path"] == last


@pytest.mark.e2e
def test_ckpt_path_is_a_fine_tune_in_a_new_run(trained, compose_train, mlflow_store):
    """ckpt_path=<file>: a new run starting from the checkpoint's weights, epoch 0."""
    import torch

    from lnet.training import train

    first, last = _checkpointed_run(trained)
    saved = torch.load(last, map_location="cpu", weights_only=False)
    assert saved["epoch"] == 1  # the checkpoint was written after the 2nd epoch
    cfg = compose_train(
        *TINY_TRAIN_OVERRIDES["landscape_net"],
        *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
        "trainer.max_epochs=1",
        f"ckpt_path={last}",
    )
    tuned = train(cfg)
    client = MlflowClient(mlflow_store["uri"])
    run = client.get_run(tuned.run_id)
    assert tuned.run_id != first.run_id and run.info.status == "FINISHED"
    assert run.data.tags["lnet.init_checkpoint"] == last
    # provenance: the file's bytes and the run that wrote it
    assert (
        run.data.tags["lnet.init_checkpoint_sha256"]
        == hashlib.sha256(Path(last).read_bytes()).hexdigest()
    )
    assert run.data.tags["lnet.parent_run"] == first.run_id
    # one new epoch was trained (a continuation would have had nothing left to train)
    steps_per_epoch = first.metrics["global_step"] / 2  # the first run trained 2 epochs
    assert steps_per_epoch >= 1
    assert tuned.metrics["epochs"] == 1 and tuned.metrics["global_step"] == steps_per_epoch
    assert len(client.get_metric_history(tuned.run_id, "val/mse")) == 1


@pytest.mark.e2e
def test_ckpt_path_starts_from_the_checkpoint_weights(trained, compose_train, monkeypatch):
    import lnet.training as training

    _, last = _checkpointed_run(trained)
    import torch

    saved = torch.load(last, map_location="cpu", weights_only=False)["state_dict"]
    seen = _record_fit(monkeypatch)
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["landscape_net"], *TINY_DATA, f"ckpt_path={last}")
    training.train(cfg)
    assert seen["ckpt_path"] is None, "a fine-tune restores no optimizer or epoch counter"
    assert seen["state"].keys() == saved.keys()
    for k, v in saved.items():
        assert torch.equal(seen["state"][k], v), k


@pytest.mark.e2e
def test_ckpt_path_pretrained_starts_from_the_shipped_member(
    compose_train, mlflow_store, monkeypatch
):
    """ckpt_path=pretrained:universal-1d/2: fine-tune a shipped member; the run records
    the spec, the member file's sha256 and the run its model card names."""
    import torch

    import lnet.pretrained as pretrained
    import lnet.training as training

    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    path, card_run = pretrained.member("pretrained:universal-1d/2")
    saved = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    seen = _record_fit(monkeypatch)
    cfg = compose_train(
        "model=universal_landscape_net", *TINY_DATA, "ckpt_path=pretrained:universal-1d/2"
    )
    result = training.train(cfg)
    for key, value in saved.items():
        assert torch.equal(seen["state"][f"net.{key}"], value), key
    tags = MlflowClient(mlflow_store["uri"]).get_run(result.run_id).data.tags
    assert tags["lnet.init_checkpoint"] == "pretrained:universal-1d/2"
    assert tags["lnet.init_checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card_run and tags["lnet.parent_run"] == card_run
    cfg = compose_train("model=universal_landscape_net", "ckpt_path=pretrained:universal-1d/7")
    with pytest.raises(ConfigError, match="ckpt_path: .*its seeds are 1, 2, 3"):
        training.train(cfg)


def test_ckpt_path_and_resume_together_is_a_config_error(compose_train, tmp_path):
    from lnet.errors import ConfigError
    from lnet.training import train

    ckpt = tmp_path / "x.ckpt"
    ckpt.write_bytes(b"")
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["box_counting"], f"ckpt_path={ckpt}", "resume=abc")
    with pytest.raises(ConfigError, match="ckpt_path: give either resume"):
        train(cfg)
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["box_counting"], f"ckpt_path={tmp_path / 'no'}")
    with pytest.raises(ConfigError, match="ckpt_path: no checkpoint file"):
        train(cfg)


@pytest.mark.slow
@pytest.mark.e2e
def test_ddp_sigkill_then_resume_on_both_ranks(tmp_path, mlflow_store):
    """2 gloo processes, SIGKILL of the whole job, resume: both ranks continue the epochs."""
    import os
    import signal

    test_id = uuid.uuid4().hex
    base = [
        *TINY_TRAIN_OVERRIDES["landscape_net"],
        *[a for a in TINY_DATA if not a.startswith("trainer.max_epochs")],
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
    ]
    first = subprocess.Popen(
        cli_args(
            tmp_path, mlflow_store, *base, "trainer.max_epochs=100000", f"+tags.test_id={test_id}"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: both ranks die together
    )
    client = MlflowClient(mlflow_store["uri"])
    try:
        deadline = time.time() + 300
        run = None
        while time.time() < deadline:
            run = find_run(mlflow_store, test_id)
            if run is not None and len(client.get_metric_history(run.info.run_id, "val/mse")) >= 3:
                break
            assert first.poll() is None, "the DDP job ended early"
            time.sleep(0.5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    run_id = run.info.run_id
    before = client.get_metric_history(run_id, "val/mse")
    res = subprocess.run(
        cli_args(
            tmp_path,
            mlflow_store,
            *base,
            f"trainer.max_epochs={len(before) + 2}",
            f"resume={run_id}",
        ),
        capture_output=True,
        text=True,
        timeout=300,  # a rank that started over would still be training (or hang) here
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Traceback" not in res.stderr, res.stderr[-4000:]
    after = client.get_metric_history(run_id, "val/mse")
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [(m.step, m.value) for m in after[: len(before)]] == [(m.step, m.value) for m in before]
    assert len(after) >= len(before) + 1
    assert client.get_run(run_id).data.metrics["epochs"] == len(before) + 2
