"""The one model protocol: task, recorded constructor arguments, config names, files."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hydra.utils import get_class

from lnet.config import config_dir
from lnet.models import (
    BoxCountingLaw,
    EigenNet,
    LandscapeNet,
    LnetModel,
    PaperLandscapeNet,
    WellNet,
    WeylLaw,
)
from lnet.models.protocol import model_classes
from lnet.predict import Predictor, load_net, save_net
from lnet.tasks import COUNTING, EIGENVALUES

SMALL = {
    PaperLandscapeNet: dict(n=64, box_strides=(4, 4, 4), decider_channels=(4,), head=(4,)),
    LandscapeNet: dict(
        n=64, box_strides=(4, 4, 4), encoder_channels=(4,), decider_channels=(4,), head=(4,)
    ),
    EigenNet: dict(n=64, k=5, channels=(4, 4), hidden=(8,)),
    WellNet: dict(n=64, k=5, channels=(4,), kernel_size=3, well_radius=2),
    BoxCountingLaw: dict(c1=1.5, c2=0.5, fit=False),
    WeylLaw: dict(kind="lattice", scale=2.0),
}


def test_every_model_declares_a_task():
    classes = {c for c in model_classes().values()}
    assert set(SMALL) <= classes
    for cls in classes:
        assert cls.task in (COUNTING, EIGENVALUES), cls
    assert {c.task for c in SMALL} == {COUNTING, EIGENVALUES}


def test_a_model_without_a_task_is_refused_at_class_creation():
    with pytest.raises(TypeError, match="task must be one of"):

        class NoTask(LnetModel):  # noqa: F841
            pass


def test_config_names_are_the_model_config_files():
    """conf/model/<name>.yaml builds the class whose config_name() is <name> (with a
    ``_<dim>d`` suffix where the file sets ``net.dim`` > 1, as run names get it)."""
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        net = yaml.safe_load(path.read_text())["net"]
        name = get_class(net["_target_"]).config_name()
        dim = net.get("dim", 1)
        suffix = "" if dim == 1 or name.endswith(f"_{dim}d") else f"_{dim}d"
        assert name + suffix == path.stem


@pytest.mark.parametrize("cls", list(SMALL), ids=lambda c: c.__name__)
def test_constructor_arguments_are_recorded_and_rebuild_the_model(cls, tmp_path):
    torch.manual_seed(0)
    net = cls(**SMALL[cls])
    # every constructor argument, defaults filled in, in plain Python types
    for key, value in SMALL[cls].items():
        assert net.config[key] == (list(value) if isinstance(value, tuple) else value)
    rebuilt = cls(**net.config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in net.state_dict().items()
    }
    path = Path(tmp_path, "net.pt")
    save_net(net, path)
    loaded = load_net(path)
    assert type(loaded) is cls and loaded.config == net.config
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    # the same predictions through the user-facing predictor
    rng = np.random.default_rng(1)
    V = rng.random((3, 64))
    a, b = Predictor(net.eval()), Predictor(loaded)
    if cls.task == COUNTING:
        E = rng.uniform(0, 1, (3, 4))
        np.testing.assert_array_equal(a.predict_counts(V, E), b.predict_counts(V, E))
    else:
        np.testing.assert_array_equal(a.predict_eigenvalues(V), b.predict_eigenvalues(V))


def test_a_subclass_records_its_own_arguments():
    class Wider(PaperLandscapeNet):
        def __init__(self, factor: int = 2, **kw):
            super().__init__(width=factor, **kw)

    net = Wider(factor=3, n=64, box_strides=(4, 4, 4))
    assert net.config == {"factor": 3, "n": 64, "box_strides": [4, 4, 4]}
    assert Wider(**net.config).config == net.config


def test_unknown_class_in_a_model_file_is_refused(tmp_path):
    path = tmp_path / "net.pt"
    torch.save({"class": "os.system", "config": {}, "state_dict": {}}, path)
    with pytest.raises(ValueError, match="unknown model class 'os.system'"):
        load_net(path)


def test_files_naming_the_bare_class_still_load(tmp_path):
    """Model files written before qualified names were recorded."""
    net = WeylLaw(kind="lattice")
    path = tmp_path / "net.pt"
    torch.save({"class": "WeylLaw", "config": net.config, "state_dict": net.state_dict()}, path)
    assert isinstance(load_net(path), WeylLaw)


def test_trainer_and_net_tasks_must_agree():
    from lnet.errors import ConfigError
    from lnet.models import CountingModule

    with pytest.raises(ConfigError, match="model.net: EigenNet is a 'eigenvalues' model"):
        CountingModule(EigenNet(**SMALL[EigenNet]))
