"""2-D dataset generation: iid potentials from the same streams, exact targets."""

import numpy as np
import pytest

from lnet.data import build as build_module
from lnet.data import make_spec
from lnet.data.build import build_split, draw_split, potential_stream
from lnet.data.families import make_law
from lnet.physics import count_eigenvalues, landscape_potential
from tests.data.test_spec_2d import TINY_2D


def spec_2d(**over):
    return make_spec("counting", **{**TINY_2D, **over})


def dense_spectrum_2d(V: np.ndarray) -> np.ndarray:
    """All eigenvalues of the explicit L1L2 × L1L2 torus matrix 4 + V on the diagonal,
    -1 for each of the four neighbours (summed where they coincide), by LAPACK."""
    L1, L2 = V.shape
    n = L1 * L2
    H = np.diag(4.0 + V.ravel())
    for x in range(L1):
        for y in range(L2):
            for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                H[x * L2 + y, (nx % L1) * L2 + ny % L2] -= 1.0
    assert np.allclose(H, H.T) and H.shape == (n, n)
    return np.linalg.eigvalsh(H)


def dense_count_2d(V: np.ndarray, E: np.ndarray) -> np.ndarray:
    return (dense_spectrum_2d(V)[None, :] <= np.asarray(E)[:, None]).sum(axis=1)


@pytest.mark.parametrize("shape, m", [((6, 6), 8), ((6, 5), 6)])
def test_between_eigenvalue_targets_are_exact(shape, m):
    s = spec_2d(shape=list(shape), energies={"mode": "between_eigenvalues", "count": m})
    for split in ("train", "test"):
        a = build_split(s, split)
        P = s.sizes[split]
        assert a["V"].shape == a["W"].shape == (P, *shape)
        assert a["E"].shape == a["N"].shape == (P, m) and a["N"].dtype == np.int64
        np.testing.assert_array_equal(a["N"], np.tile(np.arange(m), (P, 1)))
        np.testing.assert_array_equal(a["N"], count_eigenvalues(a["V"], a["E"], dim=2))
        np.testing.assert_allclose(a["W"], landscape_potential(a["V"], dim=2))
        for p in range(P):
            lam = dense_spectrum_2d(a["V"][p])
            np.testing.assert_array_equal(a["N"][p], dense_count_2d(a["V"][p], a["E"][p]))
            assert np.min(np.abs(a["E"][p][:, None] - lam[None, :])) > 1e-11
            assert np.all(a["E"][p] > 0) and np.all(a["E"][p] < lam[:m])
            assert np.all(a["E"][p][1:] > lam[: m - 1])


def test_potentials_are_the_1d_draws_reshaped():
    """Potential i of a split: law.draw(rng, L1·L2) of its own stream, reshaped (L1, L2)."""
    s = spec_2d(shape=[6, 5], potential={"family": "exponential", "amplitude": 2.0})
    drawn = draw_split(s, "val")
    law = make_law({"family": "exponential", "amplitude": 2.0})
    for i in range(s.sizes["val"]):
        flat, _ = law.draw(potential_stream(s.seed, "val", i), 30)
        np.testing.assert_array_equal(drawn["V"][i], flat.reshape(6, 5))
    # growing a split keeps its first potentials (same streams as 1-D)
    more = draw_split(
        spec_2d(shape=[6, 5], potential=s.potential, sizes={**s.sizes, "val": 5}), "val"
    )
    np.testing.assert_array_equal(more["V"][:3], drawn["V"])


def test_constant_potential_degenerate_levels_in_2d():
    """V ≡ c on the 6×6 torus: levels c + 4 − 2cos k1 − 2cos k2, multiplicities 1, 4, 4, ...:
    slots of closed gaps take the open gap below, targets 0, 1, 1, 1, 1, 5, 5, 5."""
    s = spec_2d(potential={"family": "constant", "amplitude": 0.5})
    a = build_split(s, "val")
    np.testing.assert_array_equal(a["N"], np.tile([0, 1, 1, 1, 1, 5, 5, 5], (3, 1)))
    for p in range(3):
        np.testing.assert_array_equal(a["N"][p], dense_count_2d(a["V"][p], a["E"][p]))


def test_spectrum_fraction_mode():
    s = spec_2d(energies={"mode": "spectrum_fraction", "count": 10, "fraction": 0.25})
    a = build_split(s, "train")
    for p in range(s.sizes["train"]):
        lam = dense_spectrum_2d(a["V"][p])
        assert np.all(a["E"][p] >= 0) and np.all(a["E"][p] <= lam[8] * (1 + 1e-9))  # ⌈0.25·36⌉ = 9
        np.testing.assert_array_equal(a["N"][p], dense_count_2d(a["V"][p], a["E"][p]))


def test_eigenvalue_data_in_2d():
    s = make_spec(
        "eigenvalues",
        n=None,
        dim=2,
        shape=[6, 6],
        potential={"family": "uniform"},
        k=4,
        sizes={"train": 2, "val": 1, "test": 1},
        seed=1,
    )
    a = build_split(s, "train")
    assert a["eigenvalues"].shape == (2, 4)
    for p in range(2):
        np.testing.assert_allclose(
            a["eigenvalues"][p], dense_spectrum_2d(a["V"][p])[:4], rtol=1e-10
        )


def test_arrays_do_not_depend_on_the_chunking(monkeypatch):
    s = spec_2d()
    whole = build_split(s, "train")
    monkeypatch.setattr(build_module, "CHUNK_SITES", 36 * 2)  # two potentials per call
    chunked = build_split(s, "train")
    for k in whole:
        np.testing.assert_array_equal(whole[k], chunked[k])


def test_speckle_is_an_isotropic_2d_field():
    """The correlated family is made on the torus (2-D FFT), not as a reshaped chain:
    neighbours are correlated along both axes alike, E V = amplitude."""
    law = make_law({"family": "speckle", "correlation_length": 3.0, "amplitude": 2.0})
    rng = np.random.default_rng(0)
    fields = np.stack([law.draw(rng, 32 * 32, shape=(32, 32))[0] for _ in range(40)])
    assert fields.shape == (40, 32, 32) and np.all(fields >= 0)
    assert fields.mean() == pytest.approx(2.0, rel=0.15)
    x = fields - fields.mean()

    def corr(axis: int) -> float:
        return float(np.mean(x * np.roll(x, 1, axis=axis)) / np.mean(x * x))

    assert corr(1) > 0.8 and corr(2) > 0.8 and corr(1) == pytest.approx(corr(2), abs=0.1)
    # iid families: the reshaped chain, law by law (a bernoulli spec draws bernoulli sites)
    bern = make_law({"family": "bernoulli", "p": 0.3})
    V, _ = bern.draw(np.random.default_rng(1), 36, shape=(6, 6))
    np.testing.assert_array_equal(V, bern.draw(np.random.default_rng(1), 36)[0].reshape(6, 6))
    with pytest.raises(ValueError, match="does not hold n = 35"):
        bern.draw(np.random.default_rng(1), 35, shape=(6, 6))
