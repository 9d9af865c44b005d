"""3-D symmetry augmentation: an exact symmetry of H, with the gradient carried along."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lnet.data.datasets import lattice_symmetry_3d
from lnet.physics import count_eigenvalues


def central_gradient(W: np.ndarray) -> np.ndarray:
    """``(b, 3, L1, L2, L3)``: (f(x + e_i) - f(x - e_i)) / 2 along each lattice axis."""
    return np.stack([0.5 * (np.roll(W, -1, a) - np.roll(W, 1, a)) for a in (1, 2, 3)], axis=1)


@pytest.mark.parametrize("shape", [(4, 4, 4), (3, 5, 3), (2, 3, 4), (5, 5, 2)])
def test_symmetry_keeps_counts_and_the_gradient(shape, rng):
    torch.manual_seed(0)
    V = rng.random((12, *shape)) + 0.1
    W = rng.random((12, *shape)) + 0.5  # any field: the gradient must follow the map
    Vt, Wt, dWt = lattice_symmetry_3d(*(torch.from_numpy(a) for a in (V, W, central_gradient(W))))
    assert Vt.shape == V.shape and dWt.shape == (12, 3, *shape)
    np.testing.assert_allclose(dWt.numpy(), central_gradient(Wt.numpy()), atol=1e-12)
    E = rng.uniform(0.0, 8.0, (12, 9))
    np.testing.assert_array_equal(
        count_eigenvalues(Vt.numpy(), E, dim=3), count_eigenvalues(V, E, dim=3)
    )
    for b in range(12):  # the same multiset of site values: a relabelling of the sites
        np.testing.assert_array_equal(np.sort(Vt[b].ravel().numpy()), np.sort(V[b].ravel()))


def test_cubes_get_every_axis_order(rng):
    """On a cube all six axis orders occur; on 2×3×4 none but the identity can."""
    torch.manual_seed(1)
    L = 3
    coord = np.broadcast_to(np.arange(L)[:, None, None] * 100.0 + 1.0, (L, L, L))
    V = torch.from_numpy(np.broadcast_to(coord, (400, L, L, L)).copy())
    Vt, _, _ = lattice_symmetry_3d(V, V.clone(), torch.zeros(400, 3, L, L, L, dtype=V.dtype))
    varies_along = {
        tuple(bool((Vt[b].diff(dim=a) != 0).any()) for a in range(3)) for b in range(400)
    }
    assert varies_along == {(True, False, False), (False, True, False), (False, False, True)}


def test_generate_pipeline_builds_and_prints_3d_data(tmp_path, capsys):
    """pipelines/generate.py (its main, in this process) on a small 3-D lattice: built, with
    the lattice printed as L1×L2×L3, then found in the cache."""
    from tests.conftest import compose_config, pipeline, run_cli_main

    main = pipeline("generate").main
    args = [
        "data=counting_3d",
        "data.shape=[3,4,2]",
        "data.energies.count=3",
        "data.sizes.train=2",
        "data.sizes.val=1",
        "data.sizes.test=1",
    ]

    def generate():
        cfg = compose_config("generate", tmp_path, None, *args, data_dir=tmp_path)
        return run_cli_main(main, cfg, capsys)

    code, first, err = generate()
    assert code == 0, err
    text = "\n".join(first)
    assert "built" in text and "3×4×2 (n = 24)" in text and "(2, 3, 4, 2)" in text
    code, second, _ = generate()
    assert code == 0 and "hit (verified)" in "\n".join(second)
