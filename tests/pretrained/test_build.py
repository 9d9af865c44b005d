"""pipelines/pretrained.py build and register, on tiny random-weight members logged as
training runs in the session's MLflow store: the folder, numbers in card.json that an
independent recomputation reproduces, the MLflow records, the registered pyfunc model,
and one-line errors."""

import copy
import json
import warnings
from dataclasses import replace

import mlflow
import numpy as np
import pytest

import lnet
import lnet.data.test_sets as test_sets
from lnet.ensemble import EnsemblePredictor
from lnet.errors import OutOfRangeWarning
from lnet.models import EigenNet
from lnet.physics import count_eigenvalues
from lnet.pretrained import PretrainedError
from lnet.pretrained.build import BuildOptions, build, rebuild
from lnet.pretrained.cli import main
from lnet.pretrained.folder import MAX_FOLDER_BYTES, folder_bytes
from tests.pretrained.conftest import (
    CAL_POTENTIALS,
    HELD_OUT,
    SIZES,
    TEST_ENERGIES,
    TEST_POTENTIALS,
    log_training_run,
    tiny_build_options,
    tiny_net,
)

# a build calibrates and measures a model on fresh exact counts and logs it to MLflow,
# as a training does: the e2e tier (the fast suite keeps tests/pretrained/test_models.py)
pytestmark = pytest.mark.e2e


def _fresh(spec: dict) -> dict:
    """A set of card.json / calibration.json drawn again from its description alone:
    the generator's in-memory memo emptied first, the exact counts recounted here."""
    test_sets._test_sets.clear()
    drawn = test_sets.lattice_test_set(
        spec["potential"],
        tuple(spec["lattice"]),
        spec["potentials"],
        spec["energies"],
        spec["seed"],
        spec["fraction"],
    )
    return {**drawn, "N": count_eigenvalues(drawn["V"], drawn["E"])}


def test_build_writes_the_folder(built, member_runs):
    folder = built.folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "calibration.json",
        "card.json",
        "card.md",
        "member_1.pt",
        "member_2.pt",
        "member_3.pt",
    ]
    assert folder_bytes(folder) <= MAX_FOLDER_BYTES
    card = json.loads((folder / "card.json").read_text())
    assert card == built.card
    assert card["name"] == "tiny-1d" and card["dim"] == 1 and card["task"] == "counting"
    assert card["class"] == "lnet.models.universal_landscape_net.UniversalLandscapeNet"
    assert [m["run_id"] for m in card["members"]] == member_runs
    assert [m["seed"] for m in card["members"]] == ["1", "2", "3"]
    assert [m["fine_tuned_from"] for m in card["members"]] == [None] * 3  # from scratch
    assert "fine-tuned from" not in (folder / "card.md").read_text()
    train = card["training"]
    assert train["command"] == "python pipelines/train.py -m experiment=tiny_universal seed=1,2,3"
    assert train["commits"] == ["0123456789abcdef"] and train["run_ids"] == member_runs
    assert train["laws"] == ["uniform", "exponential"] and train["lattices"] == [[32], [48]]
    assert train["amplitudes"]["uniform"] == {"log_uniform": [0.5, 2.0]}
    assert card["validity"]["input_domain"]["ranges"]["sites"] == {"min": 32, "max": 48}
    # a size-free model takes any larger lattice: no upper bound, in JSON and on the card
    assert card["validity"]["accepted"]["sites"] == [32, None]
    assert "| sites | [32, 48] | [32, ∞) |" in (folder / "card.md").read_text()
    labels = [(s["label"], s["in_training"], tuple(s["lattice"])) for s in card["measurement_sets"]]
    assert labels == [
        (law, law != "laplace", size)
        for law in ("uniform", "exponential", *HELD_OUT)
        for size in SIZES
    ]
    # fresh seeds: calibration, measurement and training data seeds (0, 2) all distinct
    cal_seeds = {s["seed"] for s in card["calibration_sets"]}
    test_seeds = {s["seed"] for s in card["measurement_sets"]}
    assert len(test_seeds) == len(card["measurement_sets"]) and not cal_seeds & test_seeds
    assert not (cal_seeds | test_seeds) & {0, 1, 2}
    assert set(card["coverage"]) == {"uniform", "exponential", "laplace"}
    md = (folder / "card.md").read_text()
    assert md.startswith("# Model card: tiny-1d") and card["summary"] in md
    assert "| laplace | held out | n = 48 |" in md


def test_card_numbers_match_an_independent_recomputation(built, monkeypatch):
    monkeypatch.setenv("LNET_PRETRAINED_DIR", str(built.folder.parent))
    model = lnet.load_model("pretrained:tiny-1d")
    assert isinstance(model, EnsemblePredictor) and len(model) == 3
    for entry in built.card["measurement_sets"]:
        data = _fresh(entry)
        assert data["V"].shape == (TEST_POTENTIALS, *entry["lattice"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)  # laplace leaves the domain
            count, low, high = model.predict_counts(data["V"], data["E"], return_interval=True)
        N = data["N"]
        coverage = float(np.mean((low <= N) & (N <= high)))
        rel_err = float(np.mean(np.abs(count - N) / np.maximum(N, 1)))
        assert entry["metrics"]["coverage"] == pytest.approx(coverage, abs=1e-12), entry["label"]
        assert entry["metrics"]["rel_err"] == pytest.approx(rel_err, rel=1e-9)
        assert entry["metrics"]["mse"] == pytest.approx(np.mean((count - N) ** 2), rel=1e-9)
        assert entry["metrics"]["pairs"] == TEST_POTENTIALS * TEST_ENERGIES
        key = "x".join(map(str, entry["lattice"]))
        assert built.card["coverage"][entry["label"]][key] == entry["metrics"]["coverage"]


def test_q_is_the_conformal_quantile_of_the_calibration_half(built):
    calibration = json.loads((built.folder / "calibration.json").read_text())
    interval = calibration["interval"]
    model = lnet.pretrained.load("tiny-1d", root=built.folder.parent)
    model.domain = None
    r = []
    for spec in calibration["sets"]:
        assert spec["potentials"] == CAL_POTENTIALS and spec["energies"] == 1
        data = _fresh(spec)
        counts = model.member_counts(data["V"], data["E"])[:, 1::2]  # odd potentials
        mu, s = np.maximum(counts.mean(axis=0), 0), counts.std(axis=0)
        a = data["V"][1::2].mean(axis=1, keepdims=True)  # each potential's amplitude
        sigma = s + interval["kappa"] * (mu + 1) ** interval["gamma"] * (1 + a) ** interval["delta"]
        r.append((np.abs(data["N"][1::2] - mu) / sigma).ravel())
    r = np.sort(np.concatenate(r))
    n = r.size
    k = int(np.ceil((n + 1) * 0.9))
    assert interval["n_cal"] == n == CAL_POTENTIALS and interval["rank"] == k == 28
    assert interval["q"] == pytest.approx(r[k - 1], rel=1e-12)
    assert model.calibration.q == interval["q"]


def test_the_build_run_logs_coverage_and_the_card(built, mlflow_store):
    client = mlflow.MlflowClient(mlflow_store["uri"])
    run = client.get_run(built.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "lnet-pretrained"
    assert run.info.status == "FINISHED" and run.data.tags["lnet.pretrained"] == "tiny-1d"
    assert built.card["build"]["run_id"] == built.run_id
    for label, per_size in built.card["coverage"].items():
        for key, value in per_size.items():
            assert run.data.metrics[f"coverage_{label}_{key}"] == pytest.approx(value)
    assert run.data.metrics["interval_q"] == pytest.approx(built.card["interval"]["q"])
    top = {a.path for a in client.list_artifacts(built.run_id)}
    assert "card.md" in top
    logged = {a.path for a in client.list_artifacts(built.run_id, "pretrained/tiny-1d")}
    assert "pretrained/tiny-1d/card.json" in logged and "pretrained/tiny-1d/member_1.pt" in logged


def test_register_then_load_the_champion(built, mlflow_store, capsys, rng):
    from lnet.tracking.pyfunc import _tracking_store

    root = str(built.folder.parent)
    args = ["register", "tiny-1d", "--tracking-uri", mlflow_store["uri"], "--models-dir", root]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "registered lnet-tiny-1d version" in out
    assert 'mlflow models serve -m "models:/lnet-tiny-1d@champion"' in out
    V, E = rng.random((3, 40)) + 0.1, rng.uniform(0.05, 2.0, (3, 4))
    expected = lnet.pretrained.load("tiny-1d", root=root).predict_counts(V, E)
    with _tracking_store(mlflow_store["uri"]):
        pyfunc = mlflow.pyfunc.load_model("models:/lnet-tiny-1d@champion")
    np.testing.assert_allclose(pyfunc.predict({"V": V, "E": E}), expected, rtol=1e-12)
    loaded = lnet.load_model("models:/lnet-tiny-1d@champion", mlflow_store["uri"])
    assert (
        isinstance(loaded, EnsemblePredictor)
        and loaded.calibration.q == built.card["interval"]["q"]
    )


def test_list_prints_one_line_per_model(built, capsys):
    assert main(["list", "--models-dir", str(built.folder.parent)]) == 0
    assert capsys.readouterr().out.strip() == f"tiny-1d: {built.card['summary']}"


def test_the_figure_shows_the_count_its_interval_and_the_exact_count(built, tmp_path, capsys):
    from lnet.physics import count_eigenvalues
    from lnet.pretrained import load
    from lnet.pretrained.figure import example_figure, quasi_periodic_potential

    out = tmp_path / "example.png"
    args = ["figure", "tiny-1d", "--out", str(out), "--sites", "64"]
    assert main([*args, "--models-dir", str(built.folder.parent)]) == 0
    assert out.stat().st_size > 10_000 and capsys.readouterr().out.strip() == f"wrote {out}"
    V = quasi_periodic_potential(64, seed=3)
    assert V.shape == (64,) and V.min() >= 0.0
    E = np.linspace(0.1, 1.0, 30)
    model = load("tiny-1d", built.folder.parent)
    fig = example_figure(model, V, E, "t")
    band = fig.axes[1].collections[0].get_paths()[0].vertices  # the interval's outline
    _, low, high = model.predict_counts(V, E, return_interval=True)
    assert band[:, 1].min() == pytest.approx(low.min()) and band[:, 1].max() == pytest.approx(
        high.max()
    )
    exact = count_eigenvalues(V, E)
    covered = np.mean((np.ceil(low) <= exact) & (exact <= np.floor(high)))
    assert (
        fig.axes[1].get_title()
        == f"exact count inside the interval at {100 * covered:.0f} % of energies"
    )
    assert (
        main(
            [
                "figure",
                "tiny-1d",
                "--out",
                str(out),
                "--sites",
                "2",
                "--models-dir",
                str(built.folder.parent),
            ]
        )
        == 1
    )


def test_the_figure_shades_the_energies_above_the_training_energies(built, rng):
    """With a count fraction in the domain, the energies whose count warns are shaded
    and the title's coverage counts only the others; other warnings still reach the
    caller."""
    import dataclasses
    import warnings

    from lnet.domain import Range
    from lnet.errors import OutOfRangeWarning
    from lnet.physics import count_eigenvalues
    from lnet.pretrained import load
    from lnet.pretrained.figure import example_figure, quasi_periodic_potential

    model = load("tiny-1d", built.folder.parent)
    V, E = quasi_periodic_potential(64, seed=3), np.linspace(0.1, 1.0, 30)
    count, low, high = model.predict_counts(V, E, return_interval=True)
    top = np.median(count) / 64 / 1.5  # the upper half of the energies warns
    model.domain = dataclasses.replace(model.domain, count_fraction=Range(0.0, top))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)  # the shading says it instead
        fig = example_figure(model, V, E, "t")
    warned = count / 64 > model.domain.accepted()["count_fraction"].high
    assert 0 < warned.sum() < E.size
    (span,) = [p for p in fig.axes[1].patches]  # the shaded energies
    assert span.get_x() == pytest.approx(E[np.argmax(warned)])
    exact = count_eigenvalues(V, E)
    inside = (np.ceil(low) <= exact) & (exact <= np.floor(high))
    title = fig.axes[1].get_title()
    assert title == (
        f"exact count inside the interval at {100 * inside[~warned].mean():.0f} % of "
        "energies below the shading"
    )
    with pytest.warns(OutOfRangeWarning, match="amplitude"):  # not swallowed
        example_figure(model, 100 * V, E, "t")
    model.domain = dataclasses.replace(model.domain, count_fraction=Range(0.0, 1e-6))
    title = example_figure(model, V, E[count > 0.01], "t").axes[1].get_title()
    assert title == "every energy lies above the training energies"


def _build_error(store, run_ids, tmp_path, *extra) -> str:
    options = BuildOptions(lattices=SIZES, cal_potentials=10, root=tmp_path / "models")
    with pytest.raises(PretrainedError) as info:
        build(*extra or ("x",), run_ids, store["uri"], options)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_run_without_a_logged_model(mlflow_store, tmp_path):
    run_id = log_training_run(mlflow_store, tiny_net(7), 7, model=False)
    message = _build_error(mlflow_store, [run_id], tmp_path)
    assert message.startswith(f"run {run_id} has no logged lnet model")


def test_a_run_whose_model_does_not_count(mlflow_store, tmp_path):
    net = EigenNet(n=32, k=2, channels=(2,), hidden=(4,))
    run_id = log_training_run(mlflow_store, net, 8)
    message = _build_error(mlflow_store, [run_id], tmp_path)
    assert message == (
        f"run {run_id}: its model EigenNet is a 'eigenvalues' model; a pretrained ensemble "
        "takes counting models"
    )


def test_members_of_different_dimensions(mlflow_store, member_runs, tmp_path):
    run_2d = log_training_run(mlflow_store, tiny_net(9, dim=2), 9)
    message = _build_error(mlflow_store, [member_runs[0], run_2d], tmp_path)
    assert message.startswith("ensemble members differ: run ") and "(2-D" in message


def test_unknown_runs_repeated_runs_and_names(mlflow_store, member_runs, tmp_path):
    assert "not found" in _build_error(mlflow_store, ["0" * 32], tmp_path)
    assert "is given twice" in _build_error(mlflow_store, [member_runs[0]] * 2, tmp_path)
    assert "model name 'Bad Name'" in _build_error(mlflow_store, member_runs, tmp_path, "Bad Name")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"held_out": ["lapalce"]}, "held-out family 'lapalce' is unknown; allowed: constant"),
        ({"held_out": ["uniform"]}, "held-out family 'uniform' is drawn by the training law"),
        (
            {"cal_law": {"family": "uniform", "amplitude": -1}},
            "calibration law.amplitude: must be > 0",
        ),
        ({"cal_potentials": 4}, "calibration: a 90 % conformal quantile needs at least 9"),
        ({"lattices": [(8, 8)]}, "calibration lattices: 8x8 is a 2-D lattice but the model is 1-D"),
        ({"integer_below": -1.0}, "integer_below must be a finite number >= 0"),
        ({"integer_below": float("inf")}, "integer_below must be a finite number >= 0"),
    ],
)
def test_bad_build_options_are_one_line(mlflow_store, member_runs, tmp_path, options, message):
    from dataclasses import replace

    opts = replace(BuildOptions(lattices=SIZES, cal_potentials=10, root=tmp_path), **options)
    with pytest.raises(PretrainedError) as info:
        build("x", member_runs, mlflow_store["uri"], opts)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert not (tmp_path / "x").exists()


def test_the_command_line_prints_one_error_line(built, mlflow_store, member_runs, capsys):
    root = str(built.folder.parent)
    args = ["build", "tiny-1d", *member_runs, "--tracking-uri", mlflow_store["uri"]]
    assert main([*args, "--models-dir", root]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {built.folder} exists: pass --force to rebuild it"]
    assert main(["register", "nope", "--models-dir", root]) == 1
    assert capsys.readouterr().err.startswith(
        "error: unknown pretrained model 'nope'; available: tiny-1d"
    )


def test_command_line_arguments():
    from lnet.pretrained.cli import load_law, parse_lattices

    assert parse_lattices("1000, 10000") == [(1000,), (10000,)]
    assert parse_lattices("32x32,64X48") == [(32, 32), (64, 48)]
    law = load_law("universal")  # conf/data/potential/universal.yaml
    assert law["family"] == "mixture" and list(law["components"])[0] == "uniform"
    with pytest.raises(PretrainedError, match="--cal-law 'nope': no such file"):
        load_law("nope")


def test_the_pipeline_script_lists_the_models(built):
    import subprocess
    import sys

    from lnet.config import project_root

    script = project_root() / "pipelines" / "pretrained.py"
    args = [sys.executable, str(script), "list", "--models-dir", str(built.folder.parent)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"tiny-1d: {built.card['summary']}"


def test_the_command_line_builds_a_model(member_runs, mlflow_store, tmp_path, capsys):
    root = tmp_path / "models"
    args = ["build", "tiny-cli", *member_runs[:2], "--tracking-uri", mlflow_store["uri"]]
    args += ["--sizes", "32,48", "--cal-potentials", "20", "--test-potentials", "2"]
    args += ["--test-energies", "2", "--held-out", "rayleigh", "--models-dir", str(root)]
    args += ["--train-command", "python pipelines/train.py experiment=x seed=1,2"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    card = json.loads((root / "tiny-cli" / "card.json").read_text())
    assert out[0] == card["summary"] and out[1].startswith(f"wrote {root / 'tiny-cli'}")
    assert card["training"]["command"] == "python pipelines/train.py experiment=x seed=1,2"
    assert [m["seed"] for m in card["members"]] == ["1", "2"]
    assert set(card["coverage"]) == {"uniform", "exponential", "rayleigh"}
    assert card["interval"]["n_cal"] == 20  # 10 odd-indexed potentials per lattice
    assert main([*args[:-2], "--force"]) == 0  # rebuilt in place


def test_the_card_names_the_run_a_member_was_fine_tuned_from(built):
    from lnet.pretrained.cards import render_markdown

    card = copy.deepcopy(built.card)
    card["members"][1]["fine_tuned_from"] = "parent0123"
    rows = [r for r in render_markdown(card).splitlines() if r.startswith("| `member_")]
    assert len(rows) == 3
    assert rows[1].endswith("| `parent0123` |")
    assert rows[0].endswith("| (from scratch) |") and rows[2].endswith("| (from scratch) |")


def test_a_stop_request_ends_the_build_between_chunks(member_runs, mlflow_store, tmp_path):
    """Ctrl-C / SIGTERM under the build's run only set a flag: the build must check it,
    end its run KILLED and write no folder."""
    from lnet.tracking import stop

    seen = []

    def progress(items, description):
        seen.append(description)
        if "laplace" in description:  # a measurement set, after the calibration
            stop.request("SIGTERM")
        return items

    options = tiny_build_options(tmp_path / "models", mlflow_store, progress)
    try:
        with pytest.raises(stop.StopRequested, match="SIGTERM received; stopped before"):
            build("stopped-1d", member_runs, mlflow_store["uri"], options)
    finally:
        stop.clear()
    assert any("laplace" in d for d in seen)
    assert not (tmp_path / "models" / "stopped-1d").exists()
    client = mlflow.MlflowClient(mlflow_store["uri"])
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string="tags.`lnet.pretrained` = 'stopped-1d'",
    )
    assert [r.info.status for r in runs] == ["KILLED"]


def test_a_rebuild_from_the_folder_keeps_the_members_and_rounds_low_counts(
    built, mlflow_store, tmp_path, capsys
):
    """``build NAME --from-folder --force --integer-below T``: the same member files and
    training record, calibrated and measured again with the new count rule, and the
    card names the build it replaces."""
    import shutil

    root = tmp_path / "models"
    shutil.copytree(built.folder, root / "tiny-1d")
    before = {p.name: p.read_bytes() for p in (root / "tiny-1d").glob("member_*.pt")}
    args = ["build", "tiny-1d", "--from-folder", "--tracking-uri", mlflow_store["uri"]]
    args += ["--sizes", "32,48", "--cal-potentials", str(CAL_POTENTIALS), "--held-out", "laplace"]
    args += ["--test-potentials", str(TEST_POTENTIALS), "--test-energies", str(TEST_ENERGIES)]
    args += ["--models-dir", str(root), "--integer-below", "3"]
    assert main(args) == 1  # the folder is replaced: --force is required
    assert "pass --force" in capsys.readouterr().err
    with_run = [*args[:2], built.card["members"][0]["run_id"], *args[2:]]
    assert main([*with_run, "--force"]) == 1
    assert "give no run ids" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    card = json.loads((root / "tiny-1d" / "card.json").read_text())
    calibration = json.loads((root / "tiny-1d" / "calibration.json").read_text())
    assert card["point"]["integer_below"] == 3.0 == calibration["interval"]["integer_below"]
    assert built.card["point"]["integer_below"] == 0.0
    assert card["members"] == built.card["members"]
    for key in ("command", "commits", "run_ids", "law", "laws", "lattices", "fraction"):
        assert card["training"][key] == built.card["training"][key], key
    assert card["training"]["data_seeds"] == built.card["training"]["data_seeds"] == [0, 2]
    assert card["build"]["rebuilt_from"] == built.run_id != card["build"]["run_id"]
    assert card["validity"] == built.card["validity"]
    assert "replacing build run" in (root / "tiny-1d" / "card.md").read_text()
    assert "rounded to the nearest whole number" in (root / "tiny-1d" / "card.md").read_text()
    for name, blob in before.items():  # the same files, byte for byte (their sha256)
        assert (root / "tiny-1d" / name).read_bytes() == blob
    model = lnet.pretrained.load("tiny-1d", root=root)
    assert model.integer_below == 3.0
    low_counts = 0
    for entry in card["measurement_sets"]:
        data = _fresh(entry)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            mu = model.predict_counts(data["V"], data["E"], integer_below=0)
            count, low, high = model.predict_counts(data["V"], data["E"], return_interval=True)
        np.testing.assert_array_equal(count, np.where(mu < 3, np.round(mu), mu))
        low_counts += int(np.sum(mu < 3))
        N = data["N"]
        assert entry["metrics"]["rel_err"] == pytest.approx(
            np.mean(np.abs(count - N) / np.maximum(N, 1)), rel=1e-9
        )
        assert entry["metrics"]["coverage"] == pytest.approx(np.mean((low <= N) & (N <= high)))
    assert low_counts > 0  # the rule was exercised
    # a card from before data seeds were recorded: the rebuild says so, it does not guess
    path = root / "tiny-1d" / "card.json"
    old_card = json.loads(path.read_text())
    del old_card["training"]["data_seeds"]
    path.write_text(json.dumps(old_card))
    options = tiny_build_options(root, mlflow_store, lambda items, description: items)
    again = rebuild("tiny-1d", mlflow_store["uri"], replace(options, overwrite=True))
    assert again.card["training"]["data_seeds"] is None
    assert again.card["build"]["rebuilt_from"] == card["build"]["run_id"]


def test_zero_site_cells_give_each_class_its_own_quantile(built, mlflow_store, tmp_path):
    """A calibration law where half the potentials have zero sites (Bernoulli) and half
    none (uniform): one q per (lattice, class) cell, each the conformal quantile of that
    cell's quantile-half scores recomputed here from the sets alone; the card, the MLflow
    metrics and predict_counts use them; ``zero_cells=False`` drops them and a later
    rebuild keeps the folder's choice."""
    import shutil

    root = tmp_path / "models"
    shutil.copytree(built.folder, root / "tiny-1d")
    law = {
        "family": "mixture",
        "components": {
            "uniform": {"amplitude": {"log_uniform": [0.5, 2.0]}},
            "bernoulli": {"p": [0.2, 0.6], "amplitude": {"log_uniform": [0.5, 2.0]}},
        },
        "weights": None,
    }
    options = replace(
        tiny_build_options(root, mlflow_store, lambda items, description: items),
        overwrite=True,
        cal_law=law,
        cal_potentials=100,
    )
    assert all(e["zero_sites"] is None for e in built.card["interval"]["lattice_q"])  # off
    result = rebuild("tiny-1d", mlflow_store["uri"], replace(options, zero_cells=True))
    folder = root / "tiny-1d"
    calibration = json.loads((folder / "calibration.json").read_text())
    assert calibration["zero_cells"] is True
    cells = [e for e in calibration["interval"]["lattice_q"] if e["zero_sites"] is not None]
    assert sorted((e["sites"], e["zero_sites"]) for e in cells) == [
        (32, False),
        (32, True),
        (48, False),
        (48, True),
    ]
    interval = calibration["interval"]
    model = lnet.pretrained.load("tiny-1d", root=root)
    model.domain = None
    r, sites, zero = [], [], []
    for spec in calibration["sets"]:
        data = _fresh(spec)
        counts = model.member_counts(data["V"], data["E"])[:, 1::2]  # the quantile half
        mu, s = np.maximum(counts.mean(axis=0), 0), counts.std(axis=0)
        a = data["V"][1::2].mean(axis=1, keepdims=True)
        sigma = s + interval["kappa"] * (mu + 1) ** interval["gamma"] * (1 + a) ** interval["delta"]
        r.append((np.abs(data["N"][1::2] - mu) / sigma).ravel())
        sites.append(np.full(r[-1].size, data["V"].shape[1]))
        zero.append(np.any(data["V"][1::2] == 0, axis=1))
    r, sites, zero = (np.concatenate(x) for x in (r, sites, zero))
    client = mlflow.MlflowClient(mlflow_store["uri"])
    metrics = client.get_run(result.run_id).data.metrics
    for e in cells:
        mine = np.sort(r[(sites == e["sites"]) & (zero == e["zero_sites"])])
        k = int(np.ceil((mine.size + 1) * 0.9))
        assert e["n"] == mine.size >= 9 and e["rank"] == k
        assert e["q"] == pytest.approx(mine[k - 1], rel=1e-12)
        tail = "zero" if e["zero_sites"] else "positive"
        assert metrics[f"interval_q_{e['sites']}_sites_{tail}"] == pytest.approx(e["q"])
    assert len({e["q"] for e in cells}) == 4  # four cells, four quantiles
    text = (folder / "card.md").read_text()
    assert "some V = 0" in text and "| 48 sites | V > 0 |" in text
    covered_both = set()
    for entry in result.card["measurement_sets"]:
        data = _fresh(entry)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            _, low, high = model.predict_counts(data["V"], data["E"], return_interval=True)
        N = data["N"]
        assert entry["metrics"]["coverage"] == pytest.approx(np.mean((low <= N) & (N <= high)))
        covered_both |= set(np.any(data["V"] == 0, axis=1).tolist())
    assert covered_both == {False, True}  # both classes were measured
    kept = rebuild("tiny-1d", mlflow_store["uri"], options)  # zero_cells None: the folder's
    assert kept.card["interval"]["lattice_q"] == result.card["interval"]["lattice_q"]
    plain = rebuild("tiny-1d", mlflow_store["uri"], replace(options, zero_cells=False))
    assert all(e["zero_sites"] is None for e in plain.card["interval"]["lattice_q"])
    again = rebuild("tiny-1d", mlflow_store["uri"], options)
    assert json.loads((folder / "calibration.json").read_text())["zero_cells"] is False
    assert again.card["interval"]["lattice_q"] == plain.card["interval"]["lattice_q"]


def test_a_build_with_an_expert_routes_measures_and_registers_it(
    built, member_runs, mlflow_store, tmp_path, capsys
):
    """``build NAME RUN... --expert E``: experts.json, the expert law's measurement sets,
    card numbers that the loaded (routed) model reproduces, the members-alone numbers
    beside them, a rebuild that keeps the expert, and a registered model that carries it."""
    import shutil

    from lnet.pretrained.measure import no_progress
    from lnet.routing import GENERALIST, RoutedPredictor
    from lnet.tracking.pyfunc import _tracking_store

    uri, root = mlflow_store["uri"], tmp_path / "models"
    shutil.copytree(built.folder, root / "tiny-1d")
    config = {
        "data": {
            "n": 32,
            "seed": 0,
            "potential": {"family": "uniform", "amplitude": 1.0},
            "energies": {"mode": "spectrum_fraction", "count": 5, "fraction": 0.1},
            "extra_train": [{"n": 48, "seed": 2}],
        }
    }
    runs = [
        log_training_run(mlflow_store, tiny_net(s), s, config={**config, "seed": s}) for s in (4, 5)
    ]
    options = tiny_build_options(root, mlflow_store, no_progress)
    build("tiny-uniform", runs, uri, options)
    with pytest.raises(PretrainedError, match="expert tiny-1d: no goodness-of-fit gate"):
        build("tiny-routed", member_runs, uri, replace(options, experts=["tiny-1d"]))
    result = build("tiny-routed", member_runs, uri, replace(options, experts=["tiny-uniform"]))
    folder = result.folder
    assert json.loads((folder / "experts.json").read_text())["experts"] == [
        {"name": "tiny-uniform", "gate": {"law": config["data"]["potential"], "alpha": 1e-3}}
    ]
    card = result.card
    assert card["experts"][0]["name"] == "tiny-uniform"
    assert "## Experts" in (folder / "card.md").read_text()
    model = lnet.pretrained.load("tiny-routed", root=root)
    alone = lnet.pretrained.load("tiny-routed", root=root, experts=False)
    assert isinstance(model, RoutedPredictor) and type(alone) is EnsemblePredictor
    shares = {}
    for entry in card["measurement_sets"]:
        data = _fresh(entry)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            count, low, high = model.predict_counts(data["V"], data["E"], return_interval=True)
            mine = alone.predict_counts(data["V"], data["E"])
        N, m = data["N"], entry["metrics"]
        assert m["coverage"] == pytest.approx(np.mean((low <= N) & (N <= high)), abs=1e-12)
        assert m["mse"] == pytest.approx(np.mean((count - N) ** 2), rel=1e-9)
        share = float(np.mean(model.route(data["V"]) != GENERALIST))
        assert m["expert_share"] == share
        shares[(entry["label"], entry["lattice"][0])] = share
        if share > 0:
            assert m["generalist"]["mse"] == pytest.approx(np.mean((mine - N) ** 2), rel=1e-9)
        else:
            assert "generalist" not in m and m["mse"] == pytest.approx(np.mean((mine - N) ** 2))
    assert shares[("uniform_x1", 32)] == shares[("uniform_x1", 48)] == 1.0
    # on 32 and 48 sites the gate is weak (an Exp(1/2) draw may pass for uniform): that the
    # numbers follow the route is what counts here; tests/test_gate.py measures its power
    assert shares[("laplace", 48)] < 1.0
    # the rebuild keeps the expert unless told to drop it
    args = ["build", "tiny-routed", "--from-folder", "--force", "--tracking-uri", uri]
    args += ["--sizes", "32,48", "--cal-potentials", str(CAL_POTENTIALS), "--held-out", "laplace"]
    args += ["--test-potentials", str(TEST_POTENTIALS), "--test-energies", str(TEST_ENERGIES)]
    assert main([*args, "--models-dir", str(root)]) == 0
    assert (folder / "experts.json").is_file()
    assert json.loads((folder / "card.json").read_text())["experts"][0]["name"] == "tiny-uniform"
    # registered, the model travels with its expert
    assert main(["register", "tiny-routed", "--tracking-uri", uri, "--models-dir", str(root)]) == 0
    capsys.readouterr()
    rng = np.random.default_rng(3)
    V, E = np.stack([rng.random(48), rng.exponential(1.0, 48)]), rng.uniform(0.05, 1.0, (2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        expected = model.predict_counts(V, E)
        loaded = lnet.load_model("models:/lnet-tiny-routed@champion", uri)
        assert isinstance(loaded, RoutedPredictor) and loaded.route(V).tolist() == [0, GENERALIST]
        with _tracking_store(uri):
            pyfunc = mlflow.pyfunc.load_model("models:/lnet-tiny-routed@champion")
        np.testing.assert_allclose(pyfunc.predict({"V": V, "E": E}), expected, rtol=1e-12)
    assert main([*args, "--models-dir", str(root), "--no-experts"]) == 0
    assert not (folder / "experts.json").exists()
    assert "experts" not in json.loads((folder / "card.json").read_text())
