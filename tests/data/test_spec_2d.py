"""2-D dataset specs: 1-D keys unchanged, 2-D keys from the shape, errors naming the key."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from lnet.config import config_dir
from lnet.data import ConfigError, CountingDataModule, EigenvalueDataModule, make_spec
from tests.conftest import TINY_COUNTING, TINY_EIGEN

TINY_2D = dict(
    n=None,
    dim=2,
    shape=[6, 6],
    potential={"family": "uniform", "amplitude": 1.0},
    energies={"mode": "between_eigenvalues", "count": 8},
    sizes={"train": 6, "val": 3, "test": 3},
    seed=7,
)

# keys computed with the code before 2-D existed (commit bb20684): caches stay valid
HISTORICAL_KEYS = {
    "tiny_counting": "2ecdd58959db2fae0069c74fa16b9aa0b079e8a6e67e9ed3e1737f0fa7546944",
    "tiny_eigen": "517439f6d128bac0e18e12d7e2ae0b30888ff7d49909a1f572b1e0d8dafa87a5",
    "paper": "3b1289297e4e2d6f6b482dac5042e163feab4d7d09c1d01cb6aca92953155f5f",
    "speckle_uniform": "9488266d04740c2d90d0db04725f02abbd5006739bc814a7cee0cc15dfe56d9a",
}


def spec_2d(**over):
    return make_spec("counting", **{**TINY_2D, **over})


def test_one_dimensional_keys_are_unchanged():
    assert make_spec("counting", **TINY_COUNTING).key == HISTORICAL_KEYS["tiny_counting"]
    assert make_spec("counting", **TINY_COUNTING, dim=1).key == HISTORICAL_KEYS["tiny_counting"]
    assert make_spec("eigenvalues", **TINY_EIGEN).key == HISTORICAL_KEYS["tiny_eigen"]
    assert CountingDataModule().spec.key == HISTORICAL_KEYS["paper"]
    speckle = make_spec(
        "counting",
        n=1000,
        potential={"family": "speckle"},
        energies={"mode": "uniform", "count": 10, "e_min": 0.1, "e_max": 1.0},
        sizes={"train": 3, "val": 3, "test": 3},
        seed=0,
    )
    assert speckle.key == HISTORICAL_KEYS["speckle_uniform"]
    d = make_spec("counting", **TINY_COUNTING).to_dict()
    assert "dim" not in d and "shape" not in d
    assert make_spec("counting", **TINY_COUNTING).name.startswith("counting-uniform-n64-")


def test_two_dimensional_key_depends_on_the_shape():
    s = spec_2d()
    assert s.dim == 2 and s.shape == (6, 6) and s.n == 36 and s.lattice == (6, 6)
    d = s.to_dict()
    assert d["dim"] == 2 and d["shape"] == [6, 6] and d["n"] == 36
    assert s.name == f"counting-uniform-6x6-{s.key[:12]}"
    keys = {spec_2d(shape=shape).key for shape in ([6, 6], [6, 7], [7, 6], [4, 9], [9, 4])}
    assert len(keys) == 5  # same site count or transposed: still different datasets
    one_d = make_spec("counting", **{**TINY_2D, "dim": 1, "shape": None, "n": 36})
    assert one_d.key != s.key
    assert spec_2d(n=36).key == s.key  # n = L1·L2 may be given
    assert spec_2d(shape=(6, 6)).key == s.key  # a tuple is the same shape
    assert spec_2d(dim=2.0).key == s.key  # 2.0 from a command line
    assert spec_2d(seed=8).key != s.key


@pytest.mark.parametrize(
    "over, key, message",
    [
        ({"dim": 4}, "data.dim", "must be 1, 2 or 3"),
        ({"dim": 3}, "data.shape", "must be a list [L1, L2, L3] of 3 side lengths"),
        ({"dim": "2d"}, "data.dim", "must be 1, 2 or 3"),
        ({"dim": True}, "data.dim", "must be 1, 2 or 3"),
        ({"shape": None}, "data.shape", "is required with data.dim=2"),
        ({"shape": [6]}, "data.shape", "must be a list [L1, L2]"),
        ({"shape": 36}, "data.shape", "must be a list [L1, L2]"),
        ({"shape": [1, 6]}, "data.shape[0]", "must be an integer >= 2, got 1"),
        ({"shape": [6, 2.5]}, "data.shape[1]", "must be an integer"),
        ({"n": 64}, "data.n", "leave data.n null"),
        ({"dim": 1, "n": 36}, "data.shape", "needs data.dim=2 or 3"),
        (
            {"energies": {"mode": "between_eigenvalues", "count": 37}},
            "data.energies.count",
            "[1, 36]",
        ),
    ],
)
def test_bad_lattice_settings_name_the_key(over, key, message):
    with pytest.raises(ConfigError) as info:
        spec_2d(**over)
    assert info.value.key == key
    assert message in str(info.value)


def test_data_modules_validate_too_and_default_to_32x32():
    with pytest.raises(ConfigError, match=r"^data.shape\[0\]"):
        CountingDataModule(dim=2, shape=[0, 32])
    with pytest.raises(ConfigError, match=r"^data.dim"):
        CountingDataModule(dim=4)
    dm = CountingDataModule(dim=2)  # nothing is built by the constructor
    assert dm.spec.shape == (32, 32) and dm.spec.n == 1024
    assert dm.spec.sizes == {"train": 400, "val": 50, "test": 50}
    assert dm.spec.energies == {"mode": "between_eigenvalues", "count": 100}
    eig = EigenvalueDataModule(dim=2, shape=[8, 8], k=5)
    assert eig.spec.to_dict()["shape"] == [8, 8] and eig.spec.k == 5


def test_uniform_window_uses_the_2d_band():
    """spec(-Δ + V) ⊂ [0, max V + 8] in 2-D (max V + 4 in 1-D): a window starting at 6
    meets the 2-D spectrum of a uniform law of amplitude 1 but not the 1-D one."""
    window = {"mode": "uniform", "count": 4, "e_min": 6.0, "e_max": 7.0}
    assert spec_2d(energies=window).energies["e_min"] == 6.0
    with pytest.raises(ConfigError, match=r"data.energies.e_min: .*max V \+ 4 = 5"):
        make_spec("counting", **{**TINY_COUNTING, "energies": window})
    high = {**window, "e_min": 9.5, "e_max": 10.0}
    with pytest.raises(ConfigError, match=r"data.energies.e_min: .*max V \+ 8 = 9"):
        spec_2d(energies=high)


def test_counting_2d_config_composes(data_dir):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("generate", overrides=["data=counting_2d", f"paths.data_dir={data_dir}"])
    assert cfg.data.dim == 2 and list(cfg.data.shape) == [32, 32] and "n" not in cfg.data
    assert dict(cfg.data.sizes) == {"train": 400, "val": 50, "test": 50}
    dm = instantiate(cfg.data)
    assert dm.spec.shape == (32, 32) and dm.spec.energies["count"] == 100
    assert dm.augment and dm.energies_per_potential == 25
    assert dm.spec.key == CountingDataModule(dim=2).spec.key
    assert dm.spec.name.startswith("counting-uniform-32x32-")
