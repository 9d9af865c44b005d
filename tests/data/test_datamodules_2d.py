"""The counting DataModule on the 2-D lattice: arrays, batches, exact-symmetry augmentation."""

import numpy as np
import pytest
import torch

from lnet.data import CountingDataModule
from lnet.data.datasets import lattice_symmetry_2d
from lnet.errors import ConfigError
from lnet.physics import count_eigenvalues, periodic_gradient
from tests.data.test_spec_2d import TINY_2D


def make_dm(data_dir, **over):
    kwargs = {**TINY_2D, "data_dir": data_dir, "batch_size": 4, "show_progress": False, **over}
    dm = CountingDataModule(**kwargs)
    dm.setup()
    return dm


def test_arrays_and_batch_shapes(data_dir):
    dm = make_dm(data_dir, energies_per_potential=3)
    a = dm.arrays["train"]
    assert a["V"].shape == a["W"].shape == (6, 6, 6) and a["dW"].shape == (6, 2, 6, 6)
    assert a["E"].shape == a["N"].shape == (6, 8)
    np.testing.assert_array_equal(a["dW"], periodic_gradient(a["W"], dim=2))
    batch = next(iter(dm.train_dataloader()))
    assert batch["V"].shape == batch["W"].shape == (4, 6, 6)
    assert batch["dW"].shape == (4, 2, 6, 6)
    assert batch["E"].shape == batch["N"].shape == (4, 3)
    assert all(batch[k].dtype == torch.float32 for k in ("V", "W", "dW", "E", "N"))
    val = next(iter(dm.val_dataloader()))  # all m energies, in order, whole potentials
    p = val["potential"].numpy()
    assert val["E"].shape == (len(p), 8)
    np.testing.assert_array_equal(val["E"].numpy(), dm.arrays["val"]["E"][p].astype(np.float32))
    assert dm.stats["dW"]["std"] == pytest.approx(a["dW"].std())
    assert dm.describe()["shape"] == [6, 6] and dm.describe()["dim"] == 2


def test_pairs_batches(data_dir):
    dm = make_dm(data_dir, energies_per_potential=None, batch_size=5)
    batch = next(iter(dm.train_dataloader()))
    assert batch["V"].shape == (5, 6, 6) and batch["dW"].shape == (5, 2, 6, 6)
    assert batch["E"].shape == batch["N"].shape == (5,)
    seen = {
        (int(p), float(e))
        for b in dm.train_dataloader()
        for p, e in zip(b["potential"], b["E"], strict=True)
    }
    assert len(seen) == 6 * 8


def _images(f: np.ndarray, square: bool) -> list[np.ndarray]:
    """Every image of a field under the torus's symmetry group, by numpy alone."""
    out = []
    for s1 in range(f.shape[0]):
        for s2 in range(f.shape[1]):
            for r1 in (1, -1):
                for r2 in (1, -1):
                    g = np.roll(f[::r1, ::r2], (s1, s2), axis=(0, 1))
                    out.append(g)
                    if square:
                        out.append(g.T)
    return out


@pytest.mark.parametrize("shape", [(5, 5), (4, 6)])
def test_lattice_symmetry_2d_is_the_torus_group(shape):
    """Each output is an image of its input under translations, axis reflections and (for a
    square lattice) the transposition, every element of the point group occurs, and dW stays
    exactly the periodic gradient of the moved W."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    b = 64
    W = rng.random((b, *shape)) + 0.5
    V = rng.random((b, *shape))
    dW = periodic_gradient(W, dim=2)
    t = torch.from_numpy
    Vt, Wt, dWt = lattice_symmetry_2d(t(V), t(W), t(dW))
    assert Vt.shape == V.shape and dWt.shape == dW.shape
    np.testing.assert_array_equal(dWt.numpy(), periodic_gradient(Wt.numpy(), dim=2))
    square = shape[0] == shape[1]
    kinds = set()
    for i in range(b):
        images = _images(W[i], square)
        match = [j for j, g in enumerate(images) if np.array_equal(g, Wt[i].numpy())]
        assert match, f"row {i} is not a symmetry image"
        j = match[0]
        # V moved with the same element
        np.testing.assert_array_equal(Vt[i].numpy(), _images(V[i], square)[j])
        kinds.add(j % (8 if square else 4))
    assert len(kinds) == (8 if square else 4)  # every reflection / transposition occurs


def test_augmentation_keeps_the_counts_exact(data_dir):
    dm = make_dm(data_dir, augment=True, energies_per_potential=8, batch_size=6)
    torch.manual_seed(1)
    batch = next(iter(dm.train_dataloader()))
    V = batch["V"].double().numpy()
    original = dm.arrays["train"]["V"][batch["potential"].numpy()]
    assert not np.allclose(V, original)  # something moved
    np.testing.assert_array_equal(
        np.sort(V.reshape(6, -1), axis=1),
        np.sort(original.reshape(6, -1).astype(np.float32), axis=1),
    )
    np.testing.assert_allclose(
        batch["dW"].numpy(), periodic_gradient(batch["W"].double().numpy(), dim=2), atol=1e-6
    )
    # N_V(E) is invariant under the symmetries: the stored targets stay exact
    counts = count_eigenvalues(V, batch["E"].double().numpy(), dim=2)
    np.testing.assert_array_equal(counts, batch["N"].numpy())
    val = next(iter(dm.val_dataloader()))  # evaluation splits are never augmented
    np.testing.assert_array_equal(
        val["V"].numpy(), dm.arrays["val"]["V"][val["potential"].numpy()].astype(np.float32)
    )


def test_generate_pipeline_builds_2d_data(tmp_path, capsys):
    """pipelines/generate.py (its main, in this process) on 2-D data: built, then found."""
    from tests.conftest import compose_config, pipeline, run_cli_main

    main = pipeline("generate").main
    args = [
        "data=counting_2d",
        "data.shape=[6,5]",
        "data.energies.count=4",
        "data.sizes.train=3",
        "data.sizes.val=2",
        "data.sizes.test=2",
    ]

    def generate(*overrides):
        cfg = compose_config("generate", tmp_path, None, *overrides, data_dir=tmp_path)
        return run_cli_main(main, cfg, capsys)

    code, first, err = generate(*args)
    assert code == 0, err
    text = "\n".join(first)
    assert "built" in text and "6×5" in text and "(3, 6, 5)" in text
    code, second, _ = generate(*args)
    assert code == 0 and "hit (verified)" in "\n".join(second)
    code, _, bad = generate(*args, "data.shape=[6,1]")
    assert code == 2
    assert bad == ["config error: data.shape[1]: must be an integer >= 2, got 1"]


EXTRA_8X8 = {
    "shape": [8, 8],
    "sizes": {"train": 4, "val": 1, "test": 1},
    "energies": {"mode": "spectrum_fraction", "count": 5, "fraction": 0.1},
    "batch_size": 2,
}


def test_extra_train_adds_a_loader_of_another_lattice(data_dir):
    dm = make_dm(data_dir, energies_per_potential=3, extra_train=[{**EXTRA_8X8, "batch_size": 1}])
    (child,) = dm.extra
    assert child.spec.shape == (8, 8) and child.spec.seed == TINY_2D["seed"] + 1
    assert child.spec.potential == dm.spec.potential and child.energies_per_potential == 3
    a = child.arrays["train"]
    assert a["V"].shape == (4, 8, 8) and a["N"].shape == (4, 5)
    np.testing.assert_array_equal(a["N"], count_eigenvalues(a["V"], a["E"], dim=2))
    batches = [batch for batch, _, _ in dm.train_dataloader()]  # CombinedLoader: (batch, idx, 0)
    # one batch of each loader per step; an epoch is as long as the shorter loader: the
    # main one has 2 batches of 4 potentials, the extra one 4 batches of 1
    assert len(batches) == 2 and all(set(b) == {"main", "extra_0"} for b in batches)
    main, extra = batches[0]["main"], batches[0]["extra_0"]
    assert main["V"].shape == (4, 6, 6) and extra["V"].shape == (1, 8, 8)
    assert extra["E"].shape == (1, 3)
    # validation and test stay on the main data
    assert next(iter(dm.val_dataloader()))["V"].shape[1:] == (6, 6)
    info = dm.describe()
    assert (
        info["extra_train"][0]["shape"] == [8, 8]
        and info["extra_train"][0]["key"] == child.spec.key
    )


@pytest.mark.parametrize(
    "extra, key",
    [
        ({"shape": [8, 8], "potential": {"family": "uniform"}}, "data.extra_train[0].potential"),
        ({"sizes": {"train": 4}}, "data.extra_train[0].shape"),
        ({"shape": [8, 8], "n": 64}, "data.extra_train[0].n"),
        ({"shape": [8, 1]}, "data.extra_train[0].shape[1]"),
        ({"shape": [8, 8], "batch_size": 0}, "data.extra_train[0].batch_size"),
        ({"shape": [6, 6], "seed": 7}, "data.extra_train[0]"),
        ("64x64", "data.extra_train[0]"),
    ],
)
def test_extra_train_errors_name_the_item(data_dir, extra, key):
    with pytest.raises(ConfigError) as info:
        make_dm(data_dir, extra_train=[extra])
    assert info.value.key == key, str(info.value)


def test_extra_train_items_take_all_of_their_own_energies(data_dir):
    more = {**EXTRA_8X8, "energies": {**EXTRA_8X8["energies"], "count": 10}}
    dm = make_dm(data_dir, energies_per_potential="all", extra_train=[more, EXTRA_8X8])
    assert dm.energies_per_potential == 8
    assert [c.energies_per_potential for c in dm.extra] == [10, 5]
    dm = make_dm(data_dir, energies_per_potential=7, extra_train=[more, EXTRA_8X8])
    assert [c.energies_per_potential for c in dm.extra] == [7, 5]  # k, or all if fewer


def test_extra_train_must_be_a_list(data_dir):
    with pytest.raises(ConfigError, match="data.extra_train: must be a list"):
        make_dm(data_dir, extra_train={"shape": [8, 8]})


def test_the_input_domain_joins_the_extra_training_lattices(data_dir):
    dm = make_dm(data_dir, energies_per_potential=3, extra_train=[EXTRA_8X8])
    d = dm.input_domain()
    main = dm.arrays["train"]["V"].shape[0] + dm.arrays["val"]["V"].shape[0]
    assert d.dim == 2 and d.potentials == main + 4  # + the extra set's 4 training potentials
    assert (d.sites.low, d.sites.high) == (36, 64)
    assert [(r.low, r.high) for r in d.sides] == [(6, 8), (6, 8)]
    assert d.to_dict()["ranges"]["L2"] == {"min": 6, "max": 8}
    fractions = [dm.arrays[s]["N"] / 36 for s in ("train", "val")]
    fractions.append(dm.extra[0].arrays["train"]["N"] / 64)  # each over its own lattice
    low = min(f.min() for f in fractions)
    high = max(f.max() for f in fractions)
    assert (d.count_fraction.low, d.count_fraction.high) == (low, high)
