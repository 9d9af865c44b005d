import numpy as np
import pytest

from lnet.physics import box_count, weyl_count


def brute_box_count(W: np.ndarray, E: float) -> int:
    n = W.size
    side = n if E <= 0 else max(1.0, E**-0.5)
    K = min(n, max(1, int(np.ceil(n / side - 1e-12))))
    edges = [(k * n) // K for k in range(K + 1)]
    return sum(W[edges[k] : edges[k + 1]].min() <= E for k in range(K))


def test_box_count_matches_brute_force(rng):
    for n in (3, 10, 97, 1000):
        W = rng.uniform(0.01, 2.0, n)
        E = np.concatenate([rng.uniform(-0.5, 3, 50), [0.0, 1.0, 0.25, 1 / 9]])
        got = box_count(W, E)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, [brute_box_count(W, e) for e in E])


def test_box_tiling_is_exact_and_sides_bounded():
    # one tiny W in every site: the count equals the number of boxes K = ceil(n / side)
    n = 1000
    W = np.full(n, 1e-9)
    for E in (1e-4, 0.01, 0.0123, 0.3, 1.0, 5.0):
        side = max(1.0, E**-0.5)
        assert box_count(W, [E])[0] == min(n, int(np.ceil(n / side - 1e-12)))


def test_box_count_batch(rng):
    W = rng.uniform(0, 1, (3, 50))
    E = rng.uniform(0, 1, (3, 4))
    out = box_count(W, E)
    assert out.shape == (3, 4)
    for b in range(3):
        np.testing.assert_array_equal(out[b], box_count(W[b], E[b]))


def test_weyl_forms(rng):
    W = rng.uniform(0, 1, 200)
    E = np.array([-1.0, 0.1, 0.5, 2.0])
    cont = weyl_count(W, E)
    lat = weyl_count(W, E, kind="lattice")
    want = [np.sqrt(np.maximum(e - W, 0)).sum() / np.pi for e in E]
    np.testing.assert_allclose(cont, want)
    assert cont[0] == 0 and lat[0] == 0
    # the lattice density of states saturates: at most n states, reached for E - W >= 4
    assert weyl_count(W, [10.0], kind="lattice")[0] == pytest.approx(200.0)
    # for small E - W the two forms agree to leading order
    small = weyl_count(W, [0.02], kind="lattice")[0] / weyl_count(W, [0.02])[0]
    assert small == pytest.approx(1.0, rel=0.01)


def test_weyl_batch_and_bad_kind(rng):
    W = rng.uniform(0, 1, (2, 30))
    E = rng.uniform(0, 1, (2, 5))
    assert weyl_count(W, E).shape == (2, 5)
    with pytest.raises(ValueError, match="kind"):
        weyl_count(W, E, kind="quantum")
