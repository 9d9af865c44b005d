"""Every config in conf/ composes, and the defaults are the documented ones."""

import os
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lnet.config import config_dir

CONF = config_dir()


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def compose_train(*overrides):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=False)


@pytest.mark.parametrize("model", options("model"))
def test_model_configs_compose_and_instantiate(model):
    data = "eigenvalues" if model.startswith(("eigen_net", "well_net")) else "counting"
    suffix = "_2d" if data == "eigenvalues" and model.endswith("_2d") else ""
    cfg = compose_train(f"model={model}", f"data={data}{suffix}")
    module = instantiate(cfg.model)
    assert module.task == data


@pytest.mark.parametrize("group", ["data", "trainer", "callbacks", "logger", "paths"])
def test_group_options_compose(group):
    for option in options(group):
        cfg = compose_train(f"{group}={option}")
        assert group in cfg


@pytest.mark.parametrize("experiment", options("experiment"))
def test_experiments_compose(experiment):
    cfg = compose_train(f"experiment={experiment}")
    assert cfg.model.net._target_
    text = (CONF / "experiment" / f"{experiment}.yaml").read_text()
    assert text.startswith("# @package _global_")  # Hydra's directive: merged at the root


def test_defaults_are_the_paper_setting():
    cfg = compose_train()
    assert cfg.model.net._target_ == "lnet.models.LandscapeNet"
    assert cfg.data.n == 1000 and cfg.data.potential.family == "uniform"
    assert dict(cfg.data.sizes) == {"train": 300, "val": 30, "test": 30}
    assert cfg.data.energies.mode == "between_eigenvalues" and cfg.data.energies.count == 100
    assert cfg.model.optimizer._partial_ is True


def test_paper_experiment_is_the_slides_layout_and_recipe():
    cfg = compose_train("experiment=paper_landscape_net")
    assert cfg.model.net._target_ == "lnet.models.PaperLandscapeNet"
    assert cfg.data.energies_per_potential is None and cfg.data.batch_size == 20
    assert cfg.data.augment is False and cfg.trainer.max_epochs == 10
    assert cfg.model.scheduler is None and cfg.model.optimizer.lr == 0.001


def test_tracking_uri_defaults_to_the_project_sqlite_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("LNET_ROOT", raising=False)
    root = CONF.parent  # the checkout holding conf/ and pyproject.toml
    assert (root / "pyproject.toml").is_file()
    cfg = compose_train()
    assert cfg.logger.tracking_uri == f"sqlite:///{root}/mlflow.db"


def test_tracking_uri_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert compose_train().logger.tracking_uri == "http://tracking.example:5000"
    # an explicit override beats the environment
    uri = f"sqlite:///{tmp_path}/other.db"
    assert compose_train(f"logger.tracking_uri={uri}").logger.tracking_uri == uri
    # LNET_ROOT moves the default store with the project root
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("LNET_ROOT", str(tmp_path))
    assert compose_train().logger.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


ABSOLUTE_PATH = re.compile(r"(?<![:/\w}])/(?:[\w.-]+/)+")


def test_no_absolute_paths_in_configs():
    assert ABSOLUTE_PATH.search("dir: /home/me/data")  # the check can fail
    for path in Path(CONF).rglob("*.yaml"):
        for line in path.read_text().splitlines():
            if line.strip().startswith("- override /"):  # Hydra's absolute config-group syntax
                continue
            match = ABSOLUTE_PATH.search(line)
            assert match is None, f"{path}: {match.group(0)}"


@pytest.mark.parametrize("search", options("hparams_search"))
def test_hparams_searches_compose(search):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"hparams_search={search}"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params and cfg.optimized_metric == "val_mse"


def test_universal_2d_experiment_trains_on_the_mixture_and_tests_laws_it_never_saw():
    from lnet.evaluation.families import family_entries, held_out_reason

    cfg = compose_train("experiment=universal_landscape_net_2d")
    assert cfg.data.dim == 2 and cfg.data.potential.family == "mixture"
    assert cfg.model.net.form == "weyl" and cfg.model.net.free_spectrum == "torus"
    assert {"box", "weyl_lattice", "weyl_shifted"} <= set(cfg.eval.laws)
    module = instantiate(cfg.model)
    dm = instantiate(cfg.data)
    held_out = {
        entry.family
        for entry in family_entries(cfg.eval.families)
        if held_out_reason(entry.law, dm.spec.law) is not None
        and entry.family not in cfg.data.potential.components
    }
    assert held_out == {"laplace", "logistic", "rayleigh"}  # at least two laws never drawn
    assert module.net.dim == 2


@pytest.mark.parametrize(
    "config, keys",
    [("train", ("run", "sweep")), ("evaluate", ("run",)), ("generate", ("run",))],
)
def test_run_folders_are_named_by_start_time_and_process(config, keys):
    """Seeds launched side by side in the same second must not share a run folder (and
    its checkpoints): every pipeline's folder ends with this process's id."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config, return_hydra_config=True)
    for key in keys:
        name = Path(OmegaConf.select(cfg, f"hydra.{key}.dir")).name
        assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d_\d\d-\d\d-\d\d_{os.getpid()}", name), name
