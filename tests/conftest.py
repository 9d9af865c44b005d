"""Shared fixtures: random generators, a zoo of test potentials, composed configs and
tiny trained runs shared by the whole session.

Test tiers (markers declared in pyproject.toml): ``e2e`` marks every test that trains a
model (``lnet.training.train`` or a pipeline that trains, also through the session
fixtures below) or starts a process (subprocess, Hydra CLI, multiprocessing, servers);
``slow`` the long ones (multiruns, servers, browsers, large lattices). ``make test``
runs the rest: ``pytest -m "not slow and not e2e"``.
"""

from __future__ import annotations

import os
from unittest import mock

import numpy as np
import pytest
from hypothesis import settings

# -- Hypothesis: "ci" is reproducible (derandomized, no example database, no deadline on
# a shared machine), "dev" keeps random exploration and the database; HYPOTHESIS_PROFILE
# picks one (.ci/run exports HYPOTHESIS_PROFILE=ci).
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def tiers_are_honest(request, monkeypatch):
    """A test of the fast tier (neither e2e nor slow) may neither train (reach the fit
    stage of ``lnet.training.train``) nor start a Python process (this interpreter or a
    tool of its environment: a pipeline's command line, ``mlflow`` servers); it fails
    saying so."""
    if any(request.node.get_closest_marker(m) is not None for m in ("e2e", "slow")):
        return
    import subprocess
    import sys
    from pathlib import Path

    import lnet.training

    def fit(*args, **kwargs):
        raise AssertionError("this test trains a model: mark it @pytest.mark.e2e")

    env_bin = Path(sys.executable).parent

    class Popen(subprocess.Popen):
        def __init__(self, args, *rest, **kwargs):
            argv0 = args if isinstance(args, str | os.PathLike) else args[0]
            if Path(str(argv0).split()[0]).parent == env_bin or argv0 == sys.executable:
                raise AssertionError(
                    f"this test starts a process ({argv0}): mark it @pytest.mark.e2e"
                )
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(lnet.training, "fit", fit)
    monkeypatch.setattr(subprocess, "Popen", Popen)


_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def mlflow_uris_put_back(monkeypatch):
    """Each test leaves MLflow's process-wide tracking and registry URIs, and their
    environment variables, as it found them: ``train()`` and ``mlflow.set_*_uri`` change
    them, and a URI left behind (a stopped server's) would reach the next test."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    for variable in _URI_VARIABLES:
        if variable in os.environ:
            monkeypatch.setenv(variable, os.environ[variable])
        else:
            monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_worker():
    """Under pytest-xdist (every ``make test*`` target) each worker computes on one
    thread (torch's intra-op pool, numba's and BLAS's), and the processes its tests start
    inherit ``OMP_NUM_THREADS=1`` and the like: two workers on two cores, not four or more
    threads spinning for them. A plain ``pytest`` (one process) keeps the defaults.

    ``NUMBA_NUM_THREADS`` stays as it is: numba rereads it whenever it compiles a kernel
    and refuses a value other than the one its thread pool was launched with, which made
    a worker's first compile of a kernel fail; ``numba.set_num_threads(1)`` is enough."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    import numba
    import torch

    from lnet.physics.blas import blas_controller

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    with blas_controller().limit(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session", autouse=True)
def numba_kernels(tmp_path_factory):
    """Compile (or load from numba's on-disk cache) every numba kernel of lnet once, on
    tiny inputs, so that their cost is one setup line of the first test and not hidden
    in whichever test happens to call a kernel first. On a fresh clone the kernel
    groups compile in parallel processes (:func:`lnet.kernels.compile_kernels`).

    Under pytest-xdist the workers take turns (a file lock in the directory their
    temporary folders share): the first compiles into the cache, the others then load
    from it, instead of every worker compiling the same kernels on the same cores.
    """
    from filelock import FileLock

    from lnet.kernels import compile_kernels

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        compile_kernels()
        return
    shared = tmp_path_factory.getbasetemp().parent
    with FileLock(str(shared / "numba-kernels.lock")):
        compile_kernels()


def lattice_stencil(V: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """(Hψ)(x) = 2d·ψ(x) - Σ_i [ψ(x + e_i) + ψ(x - e_i)] + V(x)ψ(x) on the periodic
    lattice of V's shape (d = V.ndim, indices mod the sides, by np.roll): the operator
    written out, to check the sparse matrices against."""
    out = (2.0 * V.ndim + V) * psi
    for axis in range(V.ndim):
        out -= np.roll(psi, 1, axis=axis) + np.roll(psi, -1, axis=axis)
    return out


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

# a tiny UniversalLandscapeNet trained for two short epochs (the 2-D and 3-D experiments)
TINY_UNIVERSAL_NET = (
    "model.net.encoder_channels=[3,3]",
    "model.net.dilations=[1,2]",
    "model.net.decider_channels=[6]",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "callbacks.rich_progress_bar=null",
)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """One temporary sqlite MLflow store (and artifact root) for the test session."""
    root = tmp_path_factory.mktemp("mlflow")
    return {"uri": f"sqlite:///{root / 'mlflow.db'}", "artifacts": str(root / "mlruns")}


def compose_config(config_name: str, root, store, *overrides: str, data_dir=None):
    """Compose ``conf/<config_name>.yaml`` (train, evaluate, generate) with overrides:
    data, logs and outputs inside ``root`` (the data in ``data_dir`` if given), runs in
    the MLflow ``store``."""
    from hydra import compose, initialize_config_dir

    from lnet.config import config_dir

    paths = [
        f"paths.data_dir={data_dir or root / 'data'}",
        f"paths.log_dir={root / 'logs'}",
        f"paths.output_dir={root / 'out'}",
    ]
    if config_name != "generate":
        paths += [
            f"logger.tracking_uri={store['uri']}",
            f"logger.artifact_root={store['artifacts']}",
        ]
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose(config_name, overrides=[*paths, *overrides])


@pytest.fixture
def compose_train(tmp_path, mlflow_store):
    """Compose conf/train.yaml with overrides, all paths inside tmp_path."""

    def _compose(*overrides: str):
        return compose_config("train", tmp_path, mlflow_store, *overrides)

    return _compose


def tiny(model: str, *extra: str) -> tuple[str, ...]:
    """The overrides of the tiny training of ``model`` (TINY_TRAIN_OVERRIDES + TINY_DATA)."""
    return (*TINY_TRAIN_OVERRIDES[model], *TINY_DATA, *extra)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, mlflow_store):
    """``trained(*overrides)``: the TrainResult of ``lnet.training.train`` on
    conf/train.yaml with these overrides, trained once per session and shared.

    For tests that only read a finished run (its MLflow record, model, checkpoints,
    module and data): a test that changes the run, or its files, trains its own. Every
    test using it is an e2e test. The result's ``cfg`` is the composed config. MLflow
    points at the session's store on return, as after the training itself (each test
    puts the URIs back: ``mlflow_uris_put_back``)."""
    import mlflow

    from lnet.training import train

    data_dir = tmp_path_factory.mktemp("trained-data")
    runs: dict[tuple[str, ...], object] = {}

    def _trained(*overrides: str):
        if overrides not in runs:
            root = tmp_path_factory.mktemp("trained")
            cfg = compose_config("train", root, mlflow_store, *overrides, data_dir=data_dir)
            result = train(cfg)
            result.cfg = cfg
            runs[overrides] = result
        mlflow.set_tracking_uri(mlflow_store["uri"])
        return runs[overrides]

    return _trained


def config_error_of(cfg):
    """The ConfigError that ``lnet.training.train(cfg)`` raises, unwrapped from the
    exception Hydra's instantiate may put around it (fails the test if there is none).

    The error must come before any training: reaching the fit stage fails the test, so
    a test of a config error never trains by accident."""
    from lnet.errors import ConfigError
    from lnet.training import train

    def no_fit(*args, **kwargs):
        raise AssertionError("train() reached the fit stage: the config error came too late")

    with mock.patch("lnet.training.fit", no_fit):
        with pytest.raises(Exception) as info:  # noqa: B017  (hydra.utils.instantiate wraps it)
            train(cfg)
    err = info.value
    while err is not None and not isinstance(err, ConfigError):
        err = err.__cause__ or err.__context__
    assert err is not None, repr(info.value)
    return err


def pipeline(name: str):
    """The module ``pipelines/<name>.py`` (imported once, as ``lnet_pipeline_<name>``)."""
    import importlib.util
    import sys

    from lnet.config import project_root

    module_name = f"lnet_pipeline_{name}"
    if module_name not in sys.modules:
        path = project_root() / "pipelines" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def run_cli_main(main, cfg, capsys):
    """Call a pipeline's ``main`` (``@hydra.main`` + ``exit_on_config_error``) in this
    process on a composed config, as its command line would: returns (exit code, stdout
    lines, stderr lines); exit code 0 when it returns."""
    import signal

    sigterm = signal.getsignal(signal.SIGTERM)  # train.py's main installs its own handler
    capsys.readouterr()
    try:
        main(cfg)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    out = capsys.readouterr()
    return code, out.out.strip().splitlines(), out.err.strip().splitlines()
