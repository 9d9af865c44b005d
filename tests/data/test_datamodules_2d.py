"""The counting DataModule on the 2-D lattice: arrays, batches, exact-symmetry augmentation."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from lnet.config import project_root
from lnet.data import CountingDataModule
from lnet.data.datasets import lattice_symmetry_2d
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


def test_generate_pipeline_builds_2d_data(tmp_path):
    args = [
        sys.executable,
        str(project_root() / "pipelines" / "generate.py"),
        "data=counting_2d",
        f"paths.data_dir={tmp_path}",
        f"paths.log_dir={tmp_path}/logs",
        "data.shape=[6,5]",
        "data.energies.count=4",
        "data.sizes.train=3",
        "data.sizes.val=2",
        "data.sizes.test=2",
    ]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "built" in first.stdout and "6×5" in first.stdout and "(3, 6, 5)" in first.stdout
    second = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert "hit (verified)" in second.stdout
    bad = subprocess.run([*args, "data.shape=[6,1]"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "config error: data.shape[1]: must be an integer >= 2, got 1" in bad.stderr
