"""lnet.pretrained: the shipped models (size, files, loading), available(), load(),
card(), lnet.load_model("pretrained:<name>"), the models root and package data."""

import fnmatch
import json
import shutil
import tomllib
import warnings

import numpy as np
import pytest

import lnet
import lnet.pretrained as pretrained
from lnet.config import project_root
from lnet.ensemble import EnsemblePredictor
from lnet.errors import OutOfRangeWarning
from lnet.pretrained.folder import (
    CALIBRATION,
    CARD_JSON,
    CARD_MD,
    MAX_FOLDER_BYTES,
    PACKAGE_DATA,
    folder_bytes,
    member_files,
    read_json,
)


def test_every_shipped_model_is_complete_and_within_2_mib(monkeypatch):
    """Each folder of lnet/pretrained/models/ (none until the weights are added)."""
    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    root = pretrained.models_root()
    assert root == project_root() / "lnet" / "pretrained" / "models"
    for name in pretrained.available():
        folder = root / name
        assert folder_bytes(folder) <= MAX_FOLDER_BYTES, name
        assert member_files(folder) and (folder / CARD_MD).is_file(), name
        card, calibration = read_json(folder / CARD_JSON), read_json(folder / CALIBRATION)
        assert card["name"] == name and calibration["interval"]["n_cal"] >= 9
        assert card["coverage"] and card["training"]["run_ids"], name
        model = pretrained.load(name)
        assert len(model) == len(card["members"]) and model.dim == card["dim"]
        assert pretrained.card(name).startswith(f"# Model card: {name}")


def shipped_models() -> list:
    """The shipped models as test parameters; the 3-D ones in the slow tier (the exact
    λ_k of a 16³ potential alone takes seconds)."""
    root = project_root() / "lnet" / "pretrained" / "models"
    return [
        pytest.param(name, marks=pytest.mark.slow)
        if read_json(root / name / CARD_JSON)["dim"] == 3
        else name
        for name in pretrained.available(root)
    ]


@pytest.mark.parametrize("name", shipped_models())
def test_every_shipped_model_counts_a_fresh_potential_of_its_training_lattice(
    name, monkeypatch, rng
):
    """Uniform [0, 1) (a law every shipped model trained on) on its first training
    lattice, 8 energies from λ_k to λ_4k (k = 1 % of the sites, within the bottom 10 %
    the models are trained on): the members' mean is within 25 % of the exact count,
    the interval is ordered and the input is inside the validity range; E = 10, far
    above the training energies, and 3 sites per side are not."""
    from lnet.physics import count_eigenvalues
    from lnet.physics.spectrum import kth_eigenvalue

    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    model = pretrained.load(name)
    card = read_json(pretrained.model_dir(name) / CARD_JSON)
    lattice = tuple(card["training"]["lattices"][0])
    V = rng.random((1, *lattice))
    k = max(2, int(np.prod(lattice)) // 100)
    dim = len(lattice)
    E = np.linspace(kth_eigenvalue(V[0], k, dim), kth_eigenvalue(V[0], 4 * k, dim), 8)[None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        count, low, high = model.predict_counts(V, E, return_interval=True)
    exact = count_eigenvalues(V, E, dim=dim)
    assert np.all(exact > 0)
    assert np.all(np.abs(count - exact) <= 0.25 * exact), (count, exact)
    assert np.all(low <= count) and np.all(count <= high)
    with pytest.warns(OutOfRangeWarning, match="count fraction") as record:  # far above λ_4k
        model.predict_counts(V, np.full((1, 2), 10.0))
    assert [w.message.statistic for w in record] == ["count_fraction"]
    with pytest.warns(OutOfRangeWarning) as record:  # 2-D, 3-D: each side is named too
        model.predict_counts(rng.random((1, *(3,) * len(lattice))), E)
    sides = {f"L{i + 1}" for i in range(dim)} if dim > 1 else set()
    assert {"sites", *sides} <= {w.message.statistic for w in record}


def test_available_lists_model_folders_only(built, tmp_path, monkeypatch):
    root = tmp_path / "models"
    shutil.copytree(built.folder, root / "tiny-1d")
    (root / "junk").mkdir()  # no calibration.json, no members
    shutil.copytree(built.folder, root / ".tiny-2.partial")  # being written
    (root / "README.md").write_text("x")
    assert pretrained.available(root) == ["tiny-1d"]
    monkeypatch.setenv(pretrained.ENV_VAR, str(root))
    assert pretrained.available() == ["tiny-1d"] and pretrained.models_root() == root
    assert pretrained.available(tmp_path / "nowhere") == []
    assert pretrained.available(tmp_path / "models" / "junk") == []


def test_load_model_pretrained_and_the_card(built, monkeypatch, rng):
    monkeypatch.setenv(pretrained.ENV_VAR, str(built.folder.parent))
    model = lnet.load_model("pretrained:tiny-1d")
    assert isinstance(model, EnsemblePredictor) and model.calibration is not None
    V, E = rng.uniform(0.2, 2.0, (2, 40)), rng.uniform(0.05, 1.0, (2, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)  # inside the members' domain
        count, low, high = model.predict_counts(V, E, return_interval=True)
    assert count.shape == low.shape == high.shape == (2, 5)
    assert np.all(low >= 0) and np.all(low <= count) and np.all(count <= high)
    text = pretrained.card("tiny-1d")
    assert text == (built.folder / "card.md").read_text()


def test_an_unknown_name_is_one_line_naming_the_available_ones(built, tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.ENV_VAR, str(built.folder.parent))
    with pytest.raises(ValueError) as info:
        lnet.load_model("pretrained:tiny-2d")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown pretrained model 'tiny-2d'; available: tiny-1d (in ")
    monkeypatch.setenv(pretrained.ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(
        pretrained.PretrainedError, match="available: none .no model is shipped yet"
    ):
        pretrained.card("tiny-1d")


def test_member_is_one_member_file_and_the_run_its_card_names(built, monkeypatch):
    """pretrained:<name>/<seed> (a fine-tune's ckpt_path) -> member_<seed>.pt and the
    card's run; a missing or unknown seed names the seeds there are."""
    monkeypatch.setenv(pretrained.ENV_VAR, str(built.folder.parent))
    members = read_json(built.folder / CARD_JSON)["members"]
    assert len(members) > 1
    for m in members:
        path, run = pretrained.member(f"pretrained:tiny-1d/{m['seed']}")
        assert path == built.folder / m["file"] and run == m["run_id"]
    seeds = ", ".join(m["seed"] for m in members)
    for spec in ("pretrained:tiny-1d/99", "pretrained:tiny-1d"):
        with pytest.raises(pretrained.PretrainedError, match=f"its seeds are {seeds}$"):
            pretrained.member(spec)
    with pytest.raises(pretrained.PretrainedError, match="unknown pretrained model 'tiny-2d'"):
        pretrained.member("pretrained:tiny-2d/1")


def test_pyproject_ships_the_model_folders_as_package_data(built):
    """A non-editable install carries every file of a model folder: pyproject's
    package-data globs (relative to lnet/pretrained/) match each of them."""
    config = tomllib.loads((project_root() / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["lnet.pretrained"]
    assert tuple(globs) == PACKAGE_DATA
    for path in built.folder.iterdir():
        relative = f"models/tiny-1d/{path.name}"
        assert any(fnmatch.fnmatch(relative, g) for g in globs), relative


@pytest.mark.parametrize("name", pretrained.available(project_root() / "lnet/pretrained/models"))
def test_every_shipped_card_states_its_members_validity_range(name, monkeypatch):
    """The card's validity section is the members' own input domain, count fraction
    (the training energies) included."""
    from lnet.pretrained.cards import validity
    from lnet.pretrained.folder import read_ensemble

    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    folder = pretrained.model_dir(name)
    domain = read_ensemble(folder).domain
    assert domain is not None and domain.count_fraction is not None
    assert 0 < domain.count_fraction.high <= 0.1
    assert read_json(folder / CARD_JSON)["validity"] == json.loads(json.dumps(validity(domain)))
    assert "| count_fraction |" in (folder / "card.md").read_text()


def test_universal_1d_hands_iid_uniform_potentials_to_uniform_1d(monkeypatch, rng):
    """The shipped generalist's experts.json: an i.i.d. uniform [0, 1) potential of
    n = 1000 is answered (count and interval) by uniform-1d, an exponential one by the
    generalist's own members; experts=False gives the members alone."""
    from lnet.routing import GENERALIST, RoutedPredictor

    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    model = lnet.load_model("pretrained:universal-1d")
    assert isinstance(model, RoutedPredictor) and [e.name for e in model.experts] == ["uniform-1d"]
    alone = pretrained.load("universal-1d", experts=False)
    assert type(alone) is EnsemblePredictor
    V = np.stack([rng.random(1000), rng.exponential(0.5, 1000)])
    E = rng.uniform(0.05, 0.6, (2, 4))
    assert model.route(V).tolist() == [0, GENERALIST]
    got = model.predict_counts(V, E, return_interval=True)
    expert = pretrained.load("uniform-1d").predict_counts(V[:1], E[:1], return_interval=True)
    mine = alone.predict_counts(V[1:], E[1:], return_interval=True)
    for g, a, b in zip(got, expert, mine, strict=True):
        np.testing.assert_array_equal(g, np.concatenate([a, b]))


def test_experts_are_found_inside_the_folder_or_beside_it(tmp_path, monkeypatch):
    from lnet.pretrained.folder import EXPERTS, EXPERTS_DIR, read_ensemble
    from lnet.routing import RoutedPredictor

    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    shipped = pretrained.models_root()
    alone = tmp_path / "alone" / "universal-1d"
    shutil.copytree(shipped / "universal-1d", alone)
    with pytest.raises(ValueError, match="expert 'uniform-1d' is neither .*experts.* nor "):
        read_ensemble(alone)
    assert type(read_ensemble(alone, experts=False)) is EnsemblePredictor
    shutil.copytree(shipped / "uniform-1d", alone / EXPERTS_DIR / "uniform-1d")
    assert isinstance(read_ensemble(alone), RoutedPredictor)
    (alone / EXPERTS).write_text(json.dumps({"experts": [{"name": "uniform-1d"}]}))
    with pytest.raises(ValueError, match="list of {name, gate} entries"):
        read_ensemble(alone)
    (alone / EXPERTS).write_text(json.dumps({"version": 99, "experts": []}))
    with pytest.raises(ValueError, match="newer than this lnet"):
        read_ensemble(alone)
