"""Tiny random-weight UniversalLandscapeNet members, logged as training runs in the
session's MLflow store, and one pretrained model built from them (shared by the tests
of this folder)."""

from __future__ import annotations

import dataclasses

import mlflow
import numpy as np
import pytest
import torch
import yaml

from lnet.domain import InputDomain
from lnet.models import UniversalLandscapeNet
from lnet.physics import landscape_potential

# the "training law" of the tiny runs: two families, amplitude log-uniform in [0.5, 2]
LAW = {
    "family": "mixture",
    "components": {
        "uniform": {"amplitude": {"log_uniform": [0.5, 2.0]}},
        "exponential": {"amplitude": {"log_uniform": [0.5, 2.0]}},
    },
    "weights": None,
}
SIZES = [(32,), (48,)]  # calibration and measurement lattices
CAL_POTENTIALS = 30  # per lattice: 15 + 15 pairs in each half
TEST_POTENTIALS, TEST_ENERGIES = 4, 3
HELD_OUT = ["laplace"]


def tiny_net(seed: int, dim: int = 1, domain: bool = True) -> UniversalLandscapeNet:
    """A tiny random-weight counting net (seeded), with the input domain of 40 uniform
    potentials of 32 and 48 sites (1-D) when ``domain``, size-free as training records
    it for this class (lattice sizes are lower bounds)."""
    torch.manual_seed(seed)
    net = UniversalLandscapeNet(
        encoder_channels=(4,), kernel_size=3, dilations=(1,), decider_channels=(8,), dim=dim
    ).eval()
    if domain and dim == 1:
        rng = np.random.default_rng(100)
        parts = []
        for n in (32, 48):
            V = rng.uniform(0.0, 2.0, (20, n)) * rng.uniform(0.5, 2.0, (20, 1))
            parts.append(InputDomain.from_potentials(V, landscape_potential(V)))
        net.input_domain = dataclasses.replace(parts[0].union(parts[1]), size_free=True)
    return net


def log_training_run(store, net, seed: int, config: dict | None = None, model: bool = True) -> str:
    """A FINISHED run as training leaves it: tags seed/experiment/git.commit, its
    config.yaml (data.potential, lattices, energies, data seeds) and the logged model."""
    from lnet.tracking.pyfunc import log_model
    from lnet.tracking.run import setup_experiment

    exp = setup_experiment(store["uri"], "lnet", store["artifacts"])
    tags = {
        "model": "universal_landscape_net",
        "seed": str(seed),
        "experiment": "tiny_universal",
        "git.commit": "0123456789abcdef",
        "git.dirty": "false",
    }
    config = config or {
        "seed": seed,
        "data": {
            "n": 32,
            "seed": 0,
            "potential": LAW,
            "energies": {"mode": "spectrum_fraction", "count": 5, "fraction": 0.1},
            "extra_train": [{"n": 48, "seed": 2}],
        },
    }
    with mlflow.start_run(experiment_id=exp, run_name=f"tiny-s{seed}", tags=tags) as run:
        # as training logs it (OmegaConf.to_yaml keeps the key order: a mixture's
        # component order decides its draws; mlflow.log_dict would sort the keys)
        mlflow.log_text(yaml.safe_dump(config, sort_keys=False), "config.yaml")
        if model:
            rng = np.random.default_rng(0)
            E = rng.uniform(0.0, 1.0, (2, 3)) if net.task == "counting" else None
            lattice = (32,) if getattr(net, "dim", 1) == 1 else (6,) * net.dim
            log_model(net, rng.random((2, *lattice)) + 0.1, E)
    return run.info.run_id


@pytest.fixture(scope="session")
def member_runs(mlflow_store) -> list[str]:
    """Three training runs (seeds 1, 2, 3) of tiny 1-D nets in the session's store."""
    return [log_training_run(mlflow_store, tiny_net(seed), seed) for seed in (1, 2, 3)]


@pytest.fixture(scope="session")
def built(member_runs, mlflow_store, tmp_path_factory):
    """The model ``tiny-1d`` built from ``member_runs`` into a fresh models folder."""
    from lnet.pretrained.build import build
    from lnet.pretrained.cli import rich_progress

    root = tmp_path_factory.mktemp("pretrained")
    # the command line's bars (disabled: not a terminal)
    options = tiny_build_options(root, mlflow_store, rich_progress)
    return build("tiny-1d", member_runs, mlflow_store["uri"], options)


def tiny_build_options(root, store, progress):
    """The build options of the tiny models: this folder's lattices, set sizes and
    held-out law, the folder ``root``, the store's artifact root and ``progress``."""
    from lnet.pretrained.build import BuildOptions

    return BuildOptions(
        lattices=SIZES,
        cal_potentials=CAL_POTENTIALS,
        test_potentials=TEST_POTENTIALS,
        test_energies=TEST_ENERGIES,
        held_out=HELD_OUT,
        root=root,
        artifact_root=store["artifacts"],
        progress=progress,
    )
