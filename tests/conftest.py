"""Shared fixtures: random generators and a zoo of test potentials."""

from __future__ import annotations

import numpy as np
import pytest


def potential_zoo(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Named potentials covering the hard cases: families, parities, n = 3,
    degenerate spectra, tiny and huge amplitudes, sparse spikes."""
    rng = np.random.default_rng(seed)
    zoo: list[tuple[str, np.ndarray]] = []
    for n in (3, 4, 5, 8, 17, 64, 101, 200):
        zoo.append((f"uniform-n{n}", rng.random(n)))
    zoo += [
        ("exponential-n99", rng.exponential(2.0, 99)),
        ("bernoulli-n120", 3.0 * (rng.random(120) < 0.3)),
        ("poisson-n77", rng.poisson(1.5, 77).astype(float) + 0.0),
        ("constant-n50", np.full(50, 0.37)),
        ("constant-n51", np.full(51, 1.0)),
        ("constant-n3", np.full(3, 2.0)),
        ("constant-n6", np.full(6, 1.0)),
        ("tiny-n150", 1e-6 * rng.random(150)),
        ("huge-n150", 1e6 * rng.random(150)),
        ("spikes-n300", np.where(rng.random(300) < 0.02, 50.0, 1e-3)),
        ("single-spike-n40", np.eye(1, 40, 7).ravel() * 4.0),
        ("mixed-scales-n90", 10.0 ** rng.uniform(-6, 6, 90)),
    ]
    zoo = [(name, V) for name, V in zoo if np.any(V > 0)]
    return zoo


ZOO = potential_zoo()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


TINY_COUNTING = dict(
    n=64,
    potential={"family": "uniform", "amplitude": 1.0},
    energies={"mode": "between_eigenvalues", "count": 8},
    sizes={"train": 12, "val": 4, "test": 4},
    seed=7,
)
TINY_EIGEN = dict(
    n=64, potential={"family": "uniform"}, k=5, sizes={"train": 12, "val": 4, "test": 4}, seed=7
)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def tiny_counting(data_dir):
    from lnet.data import CountingDataModule

    dm = CountingDataModule(**TINY_COUNTING, data_dir=data_dir, batch_size=8, show_progress=False)
    dm.setup()
    return dm


@pytest.fixture
def tiny_eigen(data_dir):
    from lnet.data import EigenvalueDataModule

    dm = EigenvalueDataModule(**TINY_EIGEN, data_dir=data_dir, batch_size=4, show_progress=False)
    dm.setup()
    return dm


# -- training fixtures -------------------------------------------------------------
TINY_TRAIN_OVERRIDES = {
    "paper_landscape_net": [
        "model=paper_landscape_net",
        "data.n=64",
        "data.energies.count=8",
        "data.energies_per_potential=null",
        "data.batch_size=20",
        "model.net.box_strides=[4,4,4]",
        "model.net.decider_channels=[4,6,8]",
        "model.net.box_channels=[8,8,8]",
        "model.net.head=[8,4]",
    ],
    "box_counting": [
        "model=box_counting",
        "data.n=64",
        "data.energies.count=8",
        "data.energies_per_potential=4",
    ],
    "weyl": [
        "model=weyl",
        "data.n=64",
        "data.energies.count=8",
        "data.energies_per_potential=4",
        "model.net.fit_scale=true",
    ],
    "landscape_net": [
        "model=landscape_net",
        "data.n=64",
        "data.energies.count=8",
        "data.energies_per_potential=3",
        "data.batch_size=4",
        "model.net.encoder_channels=[4,6]",
        "model.net.kernel_size=5",
        "model.net.decider_channels=[8,4]",
        "model.net.box_strides=[4,4,4]",
        "model.net.box_channels=[8,8,8]",
        "model.net.head=[8,4]",
    ],
    "well_net": [
        "model=well_net",
        "data=eigenvalues",
        "data.n=64",
        "data.k=5",
        "model.net.channels=[4,8]",
        "model.net.kernel_size=5",
        "model.net.well_radius=2",
    ],
    "eigen_net": [
        "model=eigen_net",
        "data=eigenvalues",
        "data.n=64",
        "data.k=5",
        "model.net.channels=[4,8]",
        "model.net.hidden=[16,8]",
    ],
}
TINY_DATA = [
    "data.sizes.train=8",
    "data.sizes.val=3",
    "data.sizes.test=4",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "callbacks.rich_progress_bar=null",
]


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """One temporary sqlite MLflow store (and artifact root) for the test session."""
    root = tmp_path_factory.mktemp("mlflow")
    return {"uri": f"sqlite:///{root / 'mlflow.db'}", "artifacts": str(root / "mlruns")}


@pytest.fixture
def compose_train(tmp_path, mlflow_store):
    """Compose conf/train.yaml with overrides, all paths inside tmp_path."""
    from hydra import compose, initialize_config_dir

    from lnet.config import config_dir

    def _compose(*overrides: str):
        with initialize_config_dir(str(config_dir()), version_base="1.3"):
            cfg = compose(
                "train",
                overrides=[
                    f"paths.data_dir={tmp_path / 'data'}",
                    f"paths.log_dir={tmp_path / 'logs'}",
                    f"paths.output_dir={tmp_path / 'out'}",
                    f"logger.tracking_uri={mlflow_store['uri']}",
                    f"logger.artifact_root={mlflow_store['artifacts']}",
                    *overrides,
                ],
            )
        return cfg

    return _compose


def config_error_of(cfg):
    """The ConfigError that ``lnet.training.train(cfg)`` raises, unwrapped from the
    exception Hydra's instantiate may put around it (fails the test if there is none)."""
    from lnet.errors import ConfigError
    from lnet.training import train

    with pytest.raises(Exception) as info:  # noqa: B017  (hydra.utils.instantiate wraps it)
        train(cfg)
    err = info.value
    while err is not None and not isinstance(err, ConfigError):
        err = err.__cause__ or err.__context__
    assert err is not None, repr(info.value)
    return err
