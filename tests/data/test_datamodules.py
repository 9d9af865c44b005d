import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from lnet.config import config_dir
from lnet.data import ConfigError, CountingDataModule
from tests.conftest import TINY_COUNTING


def test_counting_arrays_and_batches(tiny_counting):
    dm = tiny_counting
    a = dm.arrays["train"]
    assert a["V"].shape == (12, 64) and a["W"].shape == (12, 64) and a["dW"].shape == (12, 64)
    assert a["E"].shape == (12, 8) and a["N"].shape == (12, 8)
    batch = next(iter(dm.train_dataloader()))
    assert batch["V"].shape == (8, 64) and batch["E"].shape == (8,) and batch["N"].shape == (8,)
    # every (potential, energy) pair is seen once per epoch, shuffled across potentials
    seen = [
        (int(p), float(e))
        for b in dm.train_dataloader()
        for p, e in zip(b["potential"], b["E"], strict=True)
    ]
    assert len(seen) == len(set(seen)) == 12 * 8
    # items agree with the arrays they index
    p = batch["potential"].numpy()
    np.testing.assert_allclose(batch["V"].numpy(), a["V"][p].astype(np.float32))
    assert {int(n) for n in batch["N"]} <= set(range(8))


def test_eval_loaders_are_ordered(tiny_counting):
    b = next(iter(tiny_counting.test_dataloader()))
    np.testing.assert_array_equal(b["potential"].numpy()[:8], 0)


def test_stats_come_from_the_training_split_only(tiny_counting):
    dm = tiny_counting
    assert dm.stats["W"]["mean"] == pytest.approx(dm.arrays["train"]["W"].mean())
    assert dm.stats["E"]["std"] == pytest.approx(dm.arrays["train"]["E"].std())
    assert dm.stats["W"]["mean"] != pytest.approx(dm.arrays["test"]["W"].mean(), rel=1e-9)


def test_eigen_batches(tiny_eigen):
    batch = next(iter(tiny_eigen.train_dataloader()))
    assert batch["V"].shape == (4, 64) and batch["eigenvalues"].shape == (4, 5)
    assert tiny_eigen.arrays["val"]["eigenvalues"].shape == (4, 5)
    assert len(tiny_eigen.stats["eigenvalues"]["mean"]) == 5


def test_loader_settings_are_validated(data_dir):
    with pytest.raises(ConfigError, match="data.batch_size"):
        CountingDataModule(**TINY_COUNTING, data_dir=data_dir, batch_size=0)
    with pytest.raises(ConfigError, match="data.num_workers"):
        CountingDataModule(**TINY_COUNTING, data_dir=data_dir, num_workers=-1)


@pytest.mark.parametrize("name", ["counting", "eigenvalues"])
def test_hydra_data_configs_instantiate(name, data_dir):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(
            "generate",
            overrides=[
                f"data={name}",
                f"paths.data_dir={data_dir}",
                "data.n=32",
                "data.sizes.train=3",
                "data.sizes.val=2",
                "data.sizes.test=2",
            ]
            + (["data.energies.count=4"] if name == "counting" else ["data.k=3"]),
        )
    dm = instantiate(cfg.data, show_progress=False)
    dm.setup()
    assert dm.arrays["train"]["V"].shape == (3, 32)
    assert str(dm.entry.path).startswith(str(data_dir))


@pytest.mark.parametrize("family", ["bernoulli", "speckle", "mixture", "normal"])
def test_potential_group_configs_compose(family, data_dir):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("generate", overrides=[f"data/potential={family}"])
    dm = instantiate(cfg.data)
    assert dm.spec.law.family == family


def test_augmentation_applies_exact_lattice_symmetries(data_dir):
    import torch

    from lnet.physics import count_eigenvalues, periodic_derivative

    dm = CountingDataModule(
        **TINY_COUNTING, data_dir=data_dir, batch_size=16, augment=True, show_progress=False
    )
    dm.setup()
    torch.manual_seed(0)
    batch = next(iter(dm.train_dataloader()))
    V = batch["V"].double().numpy()
    original = dm.arrays["train"]["V"][batch["potential"].numpy()]
    assert not np.allclose(V, original)  # something moved
    # each row is a rotation or reflection of its potential: same multiset of values
    np.testing.assert_allclose(np.sort(V, axis=1), np.sort(original.astype(np.float32), axis=1))
    # W' stays the periodic central difference of the transformed W
    np.testing.assert_allclose(
        batch["dW"].numpy(), periodic_derivative(batch["W"].double().numpy()), atol=1e-6
    )
    # and the target is still exact: N_V(E) is invariant under the symmetry group
    E = batch["E"].double().numpy()
    np.testing.assert_array_equal(count_eigenvalues(V, E[:, None])[:, 0], batch["N"].numpy())
    # evaluation splits are never augmented
    val = next(iter(dm.val_dataloader()))
    np.testing.assert_allclose(
        val["V"].numpy(), dm.arrays["val"]["V"][val["potential"].numpy()].astype(np.float32)
    )


def test_energies_grouped_by_potential(data_dir):
    import torch

    dm = CountingDataModule(
        **TINY_COUNTING,
        data_dir=data_dir,
        batch_size=5,
        energies_per_potential=3,
        show_progress=False,
    )
    dm.setup()
    a = dm.arrays["train"]
    torch.manual_seed(0)
    batches = list(dm.train_dataloader())
    assert [b["V"].shape for b in batches] == [(5, 64), (5, 64), (2, 64)]
    potentials = torch.cat([b["potential"] for b in batches]).tolist()
    assert sorted(potentials) == list(range(12))  # every potential once per epoch
    for b in batches:
        assert b["E"].shape == b["N"].shape == (len(b["potential"]), 3)
        for p, E, N in zip(b["potential"].tolist(), b["E"], b["N"], strict=True):
            stored = dict(
                zip(a["E"][p].astype(np.float32).tolist(), a["N"][p].tolist(), strict=True)
            )
            assert len(set(E.tolist())) == 3  # drawn without replacement
            assert [stored[e] for e in E.tolist()] == N.tolist()  # each energy keeps its count
    # validation and test batches carry all m energies of each potential, in order
    val = next(iter(dm.val_dataloader()))
    p = val["potential"].numpy()
    np.testing.assert_array_equal(val["E"].numpy(), dm.arrays["val"]["E"][p].astype(np.float32))
    assert dm.eval_batch_size == 256 // 8
    assert (
        CountingDataModule(
            **TINY_COUNTING, data_dir=data_dir, energies_per_potential="all"
        ).energies_per_potential
        == 8
    )
    # more than there are: all of them (the default 25 with a short energy list)
    assert (
        CountingDataModule(
            **TINY_COUNTING, data_dir=data_dir, energies_per_potential=25
        ).energies_per_potential
        == 8
    )


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "some"])
def test_energies_per_potential_is_validated(bad, data_dir):
    with pytest.raises(ConfigError, match="data.energies_per_potential"):
        CountingDataModule(**TINY_COUNTING, data_dir=data_dir, energies_per_potential=bad)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            ["data.energies.mode=uniform", "data.energies.e_min=0.1", "data.energies.e_max=0.9"],
            {"mode": "uniform", "count": 4, "e_min": 0.1, "e_max": 0.9},
        ),
        (
            ["data.energies.mode=spectrum_fraction", "data.energies.fraction=0.2"],
            {"mode": "spectrum_fraction", "count": 4, "fraction": 0.2},
        ),
        ([], {"mode": "between_eigenvalues", "count": 4}),
    ],
)
def test_every_energy_mode_key_is_settable_without_plus(overrides, expected, data_dir):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(
            "generate",
            overrides=[
                f"paths.data_dir={data_dir}",
                "data.n=32",
                "data.energies.count=4",
                *overrides,
            ],
        )
    dm = instantiate(cfg.data, show_progress=False)
    assert dm.spec.energies == expected
    # keys left null do not enter the dataset key
    from lnet.data import make_spec

    plain = make_spec(
        "counting",
        n=32,
        potential=dm.spec.potential,
        sizes=dm.spec.sizes,
        seed=0,
        energies=expected,
    )
    assert dm.spec.key == plain.key


def test_a_key_of_another_energy_mode_is_named():
    with pytest.raises(ConfigError, match="data.energies.fraction: not used by mode 'uniform'"):
        CountingDataModule(
            **{
                **TINY_COUNTING,
                "energies": {
                    "mode": "uniform",
                    "count": 3,
                    "e_min": 0,
                    "e_max": 1,
                    "fraction": 0.1,
                },
            }
        )


def test_the_input_domain_covers_the_train_and_val_potentials(tiny_counting):
    from lnet.domain import InputDomain, statistics

    dm = tiny_counting
    d = dm.input_domain()
    V = np.concatenate([dm.arrays[s]["V"] for s in ("train", "val")])
    W = np.concatenate([dm.arrays[s]["W"] for s in ("train", "val")])
    N = np.concatenate([dm.arrays[s]["N"] for s in ("train", "val")])
    assert d == InputDomain.from_potentials(V, W, counts=N) and d.potentials == 12 + 4
    assert (d.count_fraction.low, d.count_fraction.high) == (N.min() / 64, N.max() / 64)
    assert d.count_fraction.high > 0  # the exact training counts, not a default
    assert d.sites.low == d.sites.high == 64 and d.zero_fraction.high == 0.0
    amplitude = statistics(V, W)["amplitude"]
    assert (d.amplitude.low, d.amplitude.high) == (amplitude.min(), amplitude.max())
    assert dm.input_domain(("train",)).potentials == 12
