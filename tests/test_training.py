"""End-to-end: tiny trainings through the real pipeline into a temporary MLflow store.

The tests that train (e2e) read the session's shared tiny runs (``trained`` in
conftest.py) unless they need a run of their own."""

import dataclasses
import hashlib

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

import lnet
from lnet.data import ConfigError
from lnet.domain import InputDomain, is_size_free
from lnet.training import train
from tests.conftest import TINY_DATA, TINY_TRAIN_OVERRIDES, config_error_of, tiny

EIGEN_MODELS = ("eigen_net", "well_net")


@pytest.mark.e2e
@pytest.mark.parametrize("model", list(TINY_TRAIN_OVERRIDES))
def test_tiny_training_leaves_a_complete_run(model, trained, mlflow_store):
    result = trained(*tiny(model))
    client = MlflowClient(mlflow_store["uri"])
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["seed"] == "12345" and "model.net._target_" in params
    assert params["trainable_params"] == str(result.module.num_trainable_parameters())
    assert tags["data.key"] == result.datamodule.spec.key and tags["git.commit"]
    key = "test_mape" if model in EIGEN_MODELS else "test_mse"
    assert np.isfinite(metrics[key]) and "wall_seconds" in metrics and "fit_seconds" in metrics
    artifacts = {f.path for f in client.list_artifacts(result.run_id)}
    assert {"config.yaml", "plots", "data", "input_domain.json"} <= artifacts
    # the input domain of the training data (train + val): logged, and saved with the model
    domain = result.module.net.input_domain
    size_free = is_size_free(result.module.net)  # laws and size-free nets: sizes are lower bounds
    assert size_free == (model in ("box_counting", "weyl"))
    expected = dataclasses.replace(result.datamodule.input_domain(), size_free=size_free)
    assert domain == expected and domain.potentials == 8 + 3
    logged = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/input_domain.json")
    assert InputDomain.from_dict(logged) == domain and "amplitude" in logged["definitions"]
    assert params["input_domain.sites.min"] == params["input_domain.sites.max"] == "64"
    assert float(params["input_domain.amplitude.max"]) == pytest.approx(domain.amplitude.high)
    if model in EIGEN_MODELS:
        assert domain.count_fraction is None
    else:  # the exact training counts over the 64 sites: the energy range it learnt
        arrays = [result.datamodule.arrays[s] for s in ("train", "val")]
        top = max(a["N"].max() for a in arrays) / 64
        assert domain.count_fraction.high == top > 0
        assert float(params["input_domain.count_fraction.max"]) == pytest.approx(top)
    plots = {f.path for f in client.list_artifacts(result.run_id, "plots")}
    assert "plots/scatter_test.png" in plots
    assert len(run.inputs.dataset_inputs) == 1
    assert run.inputs.dataset_inputs[0].dataset.name == result.datamodule.spec.name
    input_tags = {t.key: t.value for t in run.inputs.dataset_inputs[0].tags}
    assert input_tags["sizes"] == "train=8,val=3,test=4" and input_tags["family"] == "uniform"
    if result.module.trainable:
        history = client.get_metric_history(
            result.run_id, "val/" + ("mape" if model in EIGEN_MODELS else "mse")
        )
        assert len(history) == 2  # one point per epoch
        assert any(a.path == "checkpoints" for a in client.list_artifacts(result.run_id))

    predictor = lnet.load_model(result.model_uri)
    assert predictor.domain == domain  # warns about inputs outside the training data
    test = result.datamodule.arrays["test"]
    in_memory = lnet.predict.Predictor(result.module.net)
    if model in EIGEN_MODELS:
        np.testing.assert_array_equal(
            predictor.predict_eigenvalues(test["V"]), in_memory.predict_eigenvalues(test["V"])
        )
        assert predictor.predict_eigenvalues(test["V"][0]).shape == (5,)
    else:
        np.testing.assert_array_equal(
            predictor.predict_counts(test["V"], test["E"]),
            in_memory.predict_counts(test["V"], test["E"]),
        )
        assert predictor.predict_counts(test["V"][0], test["E"][0]).shape == (test["E"].shape[1],)
        # the logged pyfunc serves generic MLflow clients too
        generic = mlflow.pyfunc.load_model(result.model_uri).predict(
            {"V": test["V"][:2], "E": test["E"][:2]}
        )
        np.testing.assert_array_equal(
            generic, in_memory.predict_counts(test["V"][:2], test["E"][:2])
        )


def test_model_and_data_kinds_must_match(compose_train):
    cfg = compose_train("model=eigen_net", "data.n=64", "data.energies.count=8")
    err = config_error_of(cfg)
    assert isinstance(err, ConfigError) and "data=eigenvalues" in str(err)


@pytest.mark.e2e
def test_failure_marks_run_failed(compose_train, mlflow_store, monkeypatch):
    cfg = compose_train(*TINY_TRAIN_OVERRIDES["weyl"], *TINY_DATA)

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("lnet.training.evaluate", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        train(cfg)
    client = MlflowClient(mlflow_store["uri"])
    runs = client.search_runs(
        [client.get_experiment_by_name("lnet").experiment_id],
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    assert runs[0].info.status == "FAILED"
    assert "disk on fire" in runs[0].data.tags["lnet.error"]


def test_load_model_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot load an lnet model"):
        lnet.load_model("runs:/0123456789abcdef/model")
    with pytest.raises(ValueError, match="cannot load an lnet model"):
        lnet.load_model(str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="non-empty string"):
        lnet.load_model("")


def test_predictor_rejects_wrong_lattice_and_bad_V():
    from lnet.models import PaperLandscapeNet
    from lnet.predict import Predictor

    p = Predictor(PaperLandscapeNet(n=64, box_strides=(4, 4, 4)))
    with pytest.raises(ValueError, match="n = 100 sites but this model takes n = 64"):
        p.predict_counts(np.ones(100), [0.1])
    with pytest.raises(ValueError, match=r"V\[3\] = -1 is negative"):
        p.predict_counts(np.r_[np.ones(3), -1.0, np.ones(60)], [0.1])
    with pytest.raises(ValueError, match="predict_counts"):
        p.predict_eigenvalues(np.ones(64))


@pytest.mark.e2e
def test_per_family_evaluation(compose_train, mlflow_store):
    cfg = compose_train(
        *TINY_TRAIN_OVERRIDES["weyl"],
        *TINY_DATA,
        "data/potential=mixture",
        "eval.families=[uniform,laplace]",
    )
    result = train(cfg)
    m = result.metrics
    assert {
        "family_uniform_test_mse",
        "family_laplace_test_mse",
        "family_laplace_test_mape",
    } <= set(m)
    client = MlflowClient(mlflow_store["uri"])
    table = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/family_generalization.json")
    assert table["laplace"]["held_out"] == 1.0 and table["uniform"]["held_out"] == 0.0
    assert "plots/family_generalization.png" in {
        a.path for a in client.list_artifacts(result.run_id, "plots")
    }
    # the per-family numbers are honest: recompute one of them without the model, from
    # the fitted Weyl law W -> Weyl_W(s·E) (continuum, the config's kind) and the exact counts
    from lnet.data import CountingDataModule
    from lnet.physics import count_eigenvalues, landscape_potential, weyl_count

    dm = CountingDataModule(
        n=64,
        potential={"family": "laplace"},
        energies={"mode": "between_eigenvalues", "count": 8},
        sizes={"train": 1, "val": 1, "test": 4},
        seed=0,
        data_dir=cfg.paths.data_dir,
        show_progress=False,
    )
    test = dm.load().arrays["test"]
    np.testing.assert_array_equal(test["N"], count_eigenvalues(test["V"], test["E"]))
    scale = m["fit_scale"]
    assert scale != 1.0  # fitted, not the default
    pred = weyl_count(landscape_potential(test["V"]), scale * test["E"], kind="continuum")
    assert m["family_laplace_test_mse"] == pytest.approx(
        np.mean((pred - test["N"]) ** 2), rel=1e-12
    )


@pytest.mark.e2e
def test_load_model_of_a_run_without_a_model(compose_train):
    result = train(
        compose_train(*TINY_TRAIN_OVERRIDES["weyl"], *TINY_DATA, "logger.log_model=false")
    )
    assert result.model_uri is None
    with pytest.raises(
        ValueError, match=f"cannot load an lnet model from 'runs:/{result.run_id}/model'"
    ):
        lnet.load_model(f"runs:/{result.run_id}/model")


def _tiny_counting_nets():
    from lnet.models import BoxCountingLaw, LandscapeNet, PaperLandscapeNet, WeylLaw

    small = dict(box_channels=(4, 4, 4), box_strides=(4, 4, 4), head=(4,))
    return [
        LandscapeNet(n=64, encoder_channels=(4,), kernel_size=3, decider_channels=(4,), **small),
        PaperLandscapeNet(n=64, decider_channels=(4,), kernel_size=3, **small),
        BoxCountingLaw(c1=1.3, c2=0.7, fit=False),
        WeylLaw(kind="lattice"),
    ]


@pytest.mark.parametrize("index", range(4))
def test_predictor_chunks_grouped_energies_of_every_counting_model(index):
    """Every counting model takes energies grouped by potential; chunking changes nothing."""
    import torch

    from lnet.physics import landscape_potential, periodic_derivative
    from lnet.predict import Predictor

    torch.manual_seed(0)
    net = _tiny_counting_nets()[index].eval()
    rng = np.random.default_rng(0)
    V, E = rng.random((5, 64)), rng.uniform(0.0, 1.0, (5, 7))
    W = landscape_potential(V)
    fields = [torch.from_numpy(a) for a in (V, W, periodic_derivative(W))]
    with torch.no_grad():
        grouped = net(*fields, torch.from_numpy(E)).numpy()
        # the same numbers from one energy per potential (pairs)
        pairs = [
            net(*(f.repeat_interleave(7, 0) for f in fields), torch.from_numpy(E.ravel()))
            .numpy()
            .reshape(5, 7)
        ][0]
    np.testing.assert_allclose(grouped, pairs, rtol=1e-5, atol=1e-6)
    for batch_size in (1, 3, 7, 1000):  # potentials and energies split into passes
        got = Predictor(net, batch_size=batch_size).predict_counts(V, E)
        np.testing.assert_allclose(got, grouped, rtol=1e-5, atol=1e-6)
    assert Predictor(net).predict_counts(V[0], E[0]).shape == (7,)


@pytest.mark.e2e
def test_importing_and_loading_a_model_is_quiet(trained, mlflow_store):
    """No MLflow type-hint advice on import, no download bars when a model loads."""
    import subprocess
    import sys

    result = trained(*tiny("weyl"))
    code = (
        "import lnet, lnet.training, numpy as np\n"
        f"m = lnet.load_model({result.model_uri!r})\n"
        "print(m.predict_counts(np.ones(64), [0.5]).shape)\n"
    )
    env = {"PATH": "", "MLFLOW_TRACKING_URI": mlflow_store["uri"]}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == "(1,)"
    assert "type hints" not in res.stderr
    assert "Downloading artifacts" not in res.stderr and "%|" not in res.stderr, res.stderr


@pytest.mark.e2e
def test_a_logged_model_loads_without_the_checkout(trained, mlflow_store):
    """The model carries lnet's code and pins what it needs: plain MLflow loads it in a
    process where the checkout (and the editable install's finder) is out of reach."""
    import subprocess
    import sys

    from lnet.config import project_root

    result = trained(*tiny("landscape_net"))
    test = result.datamodule.arrays["test"]
    expected = lnet.load_model(result.model_uri).predict_counts(test["V"][:2], test["E"][:2])
    code = f"""
import sys, importlib.util, json
import numpy as np
checkout = {str(project_root())!r}
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
import os
sys.path = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != checkout]
assert importlib.util.find_spec("lnet") is None, "lnet is still importable"
import mlflow
model = mlflow.pyfunc.load_model({result.model_uri!r})
assert "lnet" in sys.modules and not sys.modules["lnet"].__file__.startswith(checkout)
V, E = np.array(json.loads(sys.argv[1])), np.array(json.loads(sys.argv[2]))
print(json.dumps(np.asarray(model.predict({{"V": V, "E": E}})).tolist()))
"""
    import json

    res = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            json.dumps(test["V"][:2].tolist()),
            json.dumps(test["E"][:2].tolist()),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
        env={"MLFLOW_TRACKING_URI": mlflow_store["uri"], "PATH": ""},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    np.testing.assert_allclose(np.array(json.loads(res.stdout.strip().splitlines()[-1])), expected)
    reqs = mlflow.artifacts.load_text(f"{result.model_uri}/requirements.txt")
    assert f"torch=={__import__('torch').__version__.split('+')[0]}" in reqs
    assert "numba==" in reqs and "pytorch-lightning==" in reqs


def test_parent_run_is_the_one_run_whose_checkpoint_folder_holds_the_file(tmp_path):
    from lnet.training import StartPoint, init_checkpoint_tags, parent_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    folders = {name: tmp_path / name / "checkpoints" for name in ("a", "b")}
    runs = {}
    for name, folder in folders.items():
        folder.mkdir(parents=True)
        (folder / "epoch_003.ckpt").write_bytes(name.encode() * 100)
        exp = client.create_experiment(f"exp-{name}")  # parents in any experiment count
        runs[name] = client.create_run(exp, tags={"lnet.checkpoint_dir": str(folder)}).info.run_id
    assert parent_run(str(folders["b"] / "epoch_003.ckpt"), uri) == runs["b"]
    assert parent_run(str(tmp_path / "elsewhere.ckpt"), uri) is None
    # two runs claiming one folder: no parent rather than a guess
    other = client.get_experiment_by_name("exp-b").experiment_id
    client.create_run(other, tags={"lnet.checkpoint_dir": str(folders["a"])})
    assert parent_run(str(folders["a"] / "epoch_003.ckpt"), uri) is None
    ckpt = str(folders["b"] / "epoch_003.ckpt")
    tags = init_checkpoint_tags(StartPoint(init_ckpt=ckpt, init_source=ckpt), uri)
    assert tags["lnet.parent_run"] == runs["b"]
    assert tags["lnet.init_checkpoint_sha256"] == hashlib.sha256(b"b" * 100).hexdigest()
    # a pretrained member: the card's run, never a lookup in this store
    member = StartPoint(init_ckpt=ckpt, init_source="pretrained:x/1", init_parent="card-run")
    assert init_checkpoint_tags(member, uri)["lnet.parent_run"] == "card-run"
    assert init_checkpoint_tags(member, uri)["lnet.init_checkpoint"] == "pretrained:x/1"
    orphan = dataclasses.replace(member, init_parent=None)
    assert "lnet.parent_run" not in init_checkpoint_tags(orphan, uri)


def test_a_saved_net_loads_into_the_module_only_with_the_same_arguments(tmp_path):
    """ckpt_path may be a net saved by save_net (a pretrained member): its weights go
    into model.net; another class or other constructor arguments are a ConfigError
    naming ckpt_path and the argument."""
    from lnet.errors import ConfigError
    from lnet.models import CountingModule, UniversalLandscapeNet
    from lnet.models.landscape_net import LandscapeNet
    from lnet.predict import save_net
    from lnet.training import _load_weights

    def net(seed: int, **kw):
        torch.manual_seed(seed)
        args = {"encoder_channels": [3], "dilations": [1], "decider_channels": [6]}
        return UniversalLandscapeNet(**{**args, **kw})

    save_net(net(1), tmp_path / "member_1.pt")
    module = CountingModule(net(2))
    _load_weights(module, str(tmp_path / "member_1.pt"))
    for key, value in net(1).state_dict().items():
        assert torch.equal(module.net.state_dict()[key], value), key
    save_net(net(1, decider_channels=[7]), tmp_path / "other.pt")
    with pytest.raises(
        ConfigError, match=r"ckpt_path: .*decider_channels: \[7\] there, \[6\] here"
    ):
        _load_weights(module, str(tmp_path / "other.pt"))
    save_net(LandscapeNet(), tmp_path / "paper.pt")
    with pytest.raises(ConfigError, match="ckpt_path: .* holds a .*LandscapeNet but model.net"):
        _load_weights(module, str(tmp_path / "paper.pt"))
