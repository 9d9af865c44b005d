"""3-D dataset specs and data modules: keys, names, errors naming the key, and a
built split whose targets are exact counts on the L1×L2×L3 torus."""

from __future__ import annotations

import numpy as np
import pytest

from lnet.data import ConfigError, CountingDataModule, make_spec
from lnet.data.build import build_split
from lnet.physics import count_eigenvalues, landscape_potential

TINY_3D = dict(
    n=None,
    dim=3,
    shape=[4, 3, 5],
    potential={"family": "uniform", "amplitude": 1.0},
    energies={"mode": "spectrum_fraction", "count": 6, "fraction": 0.2},
    sizes={"train": 3, "val": 2, "test": 2},
    seed=5,
)


def spec_3d(**over):
    return make_spec("counting", **{**TINY_3D, **over})


def test_key_name_and_lattice():
    s = spec_3d()
    assert s.dim == 3 and s.shape == (4, 3, 5) and s.n == 60 and s.lattice == (4, 3, 5)
    assert s.name.startswith("counting-uniform-4x3x5-")
    assert s.to_dict()["shape"] == [4, 3, 5]
    assert len({s.key, spec_3d(shape=[5, 3, 4]).key, spec_3d(dim=2, shape=[12, 5]).key}) == 3
    assert spec_3d(n=60).key == s.key


@pytest.mark.parametrize(
    "over, key, message",
    [
        ({"shape": [4, 4]}, "data.shape", "must be a list [L1, L2, L3] of 3 side lengths"),
        ({"shape": None}, "data.shape", "is required with data.dim=3, e.g. [16, 16, 16]"),
        ({"shape": [4, 1, 4]}, "data.shape[1]", "must be an integer >= 2, got 1"),
        ({"n": 64}, "data.n", "leave data.n null"),
    ],
)
def test_bad_lattice_settings_name_the_key(over, key, message):
    with pytest.raises(ConfigError) as info:
        spec_3d(**over)
    assert info.value.key == key and message in str(info.value)


def test_a_built_split_holds_exact_counts_in_the_bottom_fraction():
    spec = spec_3d()
    a = build_split(spec, "train")
    assert a["V"].shape == a["W"].shape == (3, 4, 3, 5) and a["E"].shape == (3, 6)
    np.testing.assert_array_equal(a["N"], count_eigenvalues(a["V"], a["E"], dim=3))
    np.testing.assert_allclose(a["W"], landscape_potential(a["V"], dim=3), rtol=1e-12)
    top = int(np.ceil(0.2 * 60))
    assert a["N"].max() <= top and a["E"].min() >= 0.0


def test_the_3d_data_module_defaults_to_16_cubed():
    dm = CountingDataModule(dim=3, sizes={"train": 2, "val": 1, "test": 1})
    assert dm.spec.shape == (16, 16, 16)
    with pytest.raises(ConfigError, match=r"^data.shape\[2\]"):
        CountingDataModule(dim=3, shape=[4, 4, 0])
