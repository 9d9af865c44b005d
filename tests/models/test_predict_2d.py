"""The Predictor and the MLflow pyfunc model on 2-D potentials (L1, L2) / (B, L1, L2).

Uses the 2-D physics API (as_potential / landscape_potential / periodic_gradient with
``dim=2``); the dimension checks need none.
"""

import mlflow
import numpy as np
import pytest
import torch
from mlflow.exceptions import MlflowException

from lnet.models import BoxCountingLaw, UniversalLandscapeNet, UniversalLandscapeNet2D
from lnet.physics import box_count, landscape_potential
from lnet.physics.landscape import periodic_gradient
from lnet.predict import Predictor, load_net, save_net
from lnet.tracking.pyfunc import LnetPyfunc, log_model

SMALL = dict(
    encoder_channels=(4, 6), kernel_size=3, dilations=(1, 3), decider_channels=(8, 4), levels=3
)


@pytest.fixture
def net() -> UniversalLandscapeNet2D:
    torch.manual_seed(0)
    return UniversalLandscapeNet2D(**SMALL).eval()


def direct(net: torch.nn.Module, V: np.ndarray, E: np.ndarray) -> np.ndarray:
    """The net on fields computed by the physics, without the Predictor."""
    W = landscape_potential(V, dim=2)
    fields = [torch.from_numpy(a) for a in (V, W, periodic_gradient(W, dim=2), E)]
    with torch.no_grad():
        return net(*fields).double().numpy()


@pytest.mark.parametrize("shape", [(2, 2), (5, 3), (8, 8), (16, 9)])
def test_predict_counts_single_and_batch(net, rng, shape):
    V = rng.random((3, *shape)) + 0.05
    E = rng.uniform(0.05, 3.0, (3, 7))
    predictor = Predictor(net)
    assert predictor.dim == 2 and predictor.n is None
    batch = predictor.predict_counts(V, E)
    assert batch.shape == (3, 7) and batch.dtype == np.float64 and (batch >= 0).all()
    np.testing.assert_allclose(batch, direct(net, V, E), rtol=1e-6)
    one = predictor.predict_counts(V[1], E[1])
    assert one.shape == (7,)
    np.testing.assert_allclose(one, batch[1], rtol=1e-6)


def test_predictions_chunked_by_batch_size_agree(net, rng):
    V = rng.random((5, 6, 7)) + 0.05
    E = rng.uniform(0.05, 3.0, (5, 9))
    whole = Predictor(net, batch_size=1000).predict_counts(V, E)
    np.testing.assert_allclose(Predictor(net, batch_size=4).predict_counts(V, E), whole, rtol=1e-6)


def test_predictions_are_extensive_on_supercells(rng):
    """W of a tiled potential is the tiled W: the prediction scales by k1·k2."""
    torch.manual_seed(3)
    net = UniversalLandscapeNet2D(**SMALL).double().eval()
    V = rng.random((6, 5)) + 0.05
    E = np.array([0.1, 0.5, 1.5, 4.0])
    predictor = Predictor(net)
    one = predictor.predict_counts(V, E)
    np.testing.assert_allclose(predictor.predict_counts(np.tile(V, (2, 3)), E), 6 * one, rtol=1e-8)


def test_2d_law_through_the_predictor(rng):
    V = rng.random((2, 6, 6)) + 0.05
    E = rng.uniform(0.05, 2.0, (2, 5))
    pred = Predictor(BoxCountingLaw(fit=False, dim=2)).predict_counts(V, E)
    np.testing.assert_array_equal(pred, box_count(landscape_potential(V, dim=2), E, dim=2))


def test_saved_2d_model_predicts_the_same(net, rng, tmp_path):
    save_net(net, tmp_path / "net.pt")
    V = rng.random((2, 7, 4)) + 0.05
    E = rng.uniform(0.05, 3.0, (2, 3))
    np.testing.assert_array_equal(
        Predictor(load_net(tmp_path / "net.pt")).predict_counts(V, E),
        Predictor(net).predict_counts(V, E),
    )


def test_potentials_of_the_other_dimension_are_refused(net, rng):
    with pytest.raises(ValueError, match=r"2-D model.*\(L1, L2\) or \(B, L1, L2\)"):
        Predictor(net).predict_counts(rng.random(16), rng.random(3))
    with pytest.raises(ValueError, match=r"2-D model"):
        Predictor(net).predict_counts(rng.random((1, 2, 4, 4)), rng.random((1, 3)))
    one_d = UniversalLandscapeNet(
        encoder_channels=(4,), kernel_size=3, dilations=(1,), decider_channels=(4,)
    )
    with pytest.raises(ValueError, match=r"1-D model.*\(n,\) or \(B, n\)"):
        Predictor(one_d).predict_counts(rng.random((2, 8, 8)), rng.random((2, 3)))


def test_energies_must_match_the_2d_batch(net, rng):
    with pytest.raises(ValueError, match="E"):
        Predictor(net).predict_counts(rng.random((3, 4, 4)), rng.random((2, 5)))


# -- the MLflow pyfunc model -------------------------------------------------------------


def test_pyfunc_refuses_a_1d_batch_for_a_2d_model_before_any_physics(net):
    model = LnetPyfunc()
    model.predictor = Predictor(net)
    with pytest.raises(MlflowException, match=r"2-D model takes a batch .* V \(B, L1, L2\)"):
        model.predict(None, {"V": np.ones((2, 16)), "E": np.ones((2, 3))})
    with pytest.raises(MlflowException, match=r"missing field 'E'.*V \(B, L1, L2\)"):
        model.predict(None, {"V": np.ones((2, 4, 4))})


@pytest.mark.slow  # logs and reloads a pyfunc model through MLflow (3 s)
def test_logged_2d_model_serves_generic_mlflow_clients(net, rng, tmp_path):
    V = rng.random((2, 5, 6)) + 0.05
    E = rng.uniform(0.05, 3.0, (2, 4))
    expected = Predictor(net).predict_counts(V, E)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        exp = mlflow.create_experiment("pyfunc-2d", artifact_location=str(tmp_path / "art"))
        with mlflow.start_run(experiment_id=exp):
            uri = log_model(net, V, E)
        loaded = mlflow.pyfunc.load_model(uri)
        assert loaded.metadata.get_input_schema().inputs[0].shape == (-1, -1, -1)
        np.testing.assert_array_equal(loaded.predict({"V": V, "E": E}), expected)
        with pytest.raises(MlflowException) as info:  # a 1-D batch: refused, status 400
            loaded.predict({"V": V.reshape(2, -1), "E": E})
        assert info.value.get_http_status_code() == 400
        assert "(-1, -1, -1)" in info.value.message
        import lnet

        np.testing.assert_array_equal(lnet.load_model(uri).predict_counts(V, E), expected)
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.mark.parametrize("dim", [1, 2])
def test_size_free_net_encodes_each_potential_once(rng, dim, monkeypatch):
    """m > batch_size energies: one encoder pass per potential, chunking left to the net."""
    torch.manual_seed(0)
    if dim == 2:
        model, V = UniversalLandscapeNet2D(**SMALL).eval(), rng.random((2, 6, 5)) + 0.05
    else:
        small = dict(encoder_channels=(4, 6), dilations=(1, 3), decider_channels=(8, 4), levels=3)
        model, V = UniversalLandscapeNet(**small).eval(), rng.random((2, 30)) + 0.05
    E = rng.uniform(0.0, 2.0, (2, 40))
    calls = []
    original = model.site_part
    monkeypatch.setattr(model, "site_part", lambda *a: calls.append(1) or original(*a))
    small_batches = Predictor(model, batch_size=8).predict_counts(V, E)
    assert len(calls) == 2
    np.testing.assert_allclose(small_batches, Predictor(model).predict_counts(V, E), rtol=1e-6)
