"""``compare.py --page`` writes a docs results page from the store: runs written
directly with known tags and metrics, so every cell on the page is known in advance."""

import itertools
import re

import numpy as np
import pytest

from lnet import comparison as compare
from lnet.results_page import GENERATED_MARK
from tests.pipelines.test_compare import finished_run

FAMILY_ERRORS = {"uniform": [1.0, 2.0, 6.0], "bernoulli_p0.3": [4.0, 4.0, 10.0]}
MACHINE = "Test CPU 9000, 2 cores, no GPU, Linux x86_64, Python 3.11.7"


def section(page: str, title: str) -> str:
    """The text of one ``## title`` section."""
    return page.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def rows(table: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``table``, as cells."""
    lines = [ln for ln in table.splitlines() if ln.startswith("|")][2:]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


@pytest.fixture(scope="module")
def page_runs(mlflow_store):
    """Two seeds of one 3-D model with laws and three test lattices logged, and a
    dirty-tree run at another commit."""
    import mlflow

    law_rel = {1: 0.1, 2: 0.3}
    ids = []
    for seed in (1, 2):
        metrics = {
            "test_mse": 4.0 * seed,
            "test_rel_err": 0.05 * seed,
            "law_weyl_lattice_test_rel_err": law_rel[seed],
            "law_weyl_lattice_test_mse": 10.0,
            "wall_seconds": 90.0 * seed,
        }
        for family, mse in (("uniform", 2.0), ("bernoulli_p0.3", 6.0), ("laplace", 1.0)):
            metrics[f"family_{family}_test_mse"] = mse * seed
            metrics[f"family_{family}_test_mape"] = 3.0
            metrics[f"family_{family}_test_rel_err"] = 0.01 * seed
        for side in (8, 16, 32):  # logged out of numerical order on purpose
            metrics[f"shape_{side}x{side}x{side}_test_rel_err"] = side / 1000 * seed
            metrics[f"shape_{side}x{side}x{side}_law_box_rel_err"] = 0.5
        run_id = finished_run(
            mlflow_store,
            model="universal_landscape_net_3d",
            experiment="page_test",
            seed=seed,
            per_potential={"mse": [1.0 * seed, 3.0 * seed], "mape": [5.0, 7.0]},
            metrics=metrics,
        )
        client = mlflow.MlflowClient(mlflow_store["uri"])
        # per-potential MSE of two families on the same 3 potentials for both seeds;
        # laplace has metrics but no per-potential errors: no interval
        client.log_dict(
            run_id,
            {
                family: {"mse_per_potential": [value * seed for value in per_potential]}
                for family, per_potential in FAMILY_ERRORS.items()
            },
            "family_generalization.json",
        )
        client.set_tag(run_id, "git.commit", f"{seed}" * 40)
        client.set_tag(run_id, "git.dirty", "true" if seed == 2 else "false")
        client.set_tag(run_id, "lnet.machine", MACHINE)
        ids.append(run_id)
    return ids


def test_page_names_each_run_its_commit_machine_and_the_measured_numbers(
    mlflow_store, page_runs, tmp_path
):
    page = tmp_path / "docs" / "generated" / "three-d.md"
    args = ["page_test", "--tracking-uri", mlflow_store["uri"], "--out", str(tmp_path / "r")]
    assert compare.main([*args, "--no-log", "--page", str(page), "--title", "3-D"]) == 0
    text = page.read_text()
    assert text.startswith("# 3-D\n") and GENERATED_MARK in text
    assert f"python pipelines/compare.py page_test --page {page} --title 3-D" in text
    runs = rows(section(text, "Runs"))
    assert [(r[0].strip("`"), r[2], r[3], r[6]) for r in runs] == [
        (page_runs[0][:8], "1", "`1111111`", MACHINE),
        (page_runs[1][:8], "2", "`2222222+dirty`", MACHINE),
    ]
    assert [r[5] for r in runs] == ["1.5 min", "3.0 min"]
    laws = {r[0]: r for r in rows(section(text, "Landscape laws on the same test set"))}
    # mean ± sample std of 0.1 and 0.3, and of the model's 0.05 and 0.1
    assert laws["weyl_lattice"][3] == f"0.2 ± {np.std([0.1, 0.3], ddof=1):.3g}"
    assert laws["weyl_lattice"][1] == "10 ± 0"  # two runs, the same value
    assert laws["model"][3] == f"0.075 ± {np.std([0.05, 0.1], ddof=1):.3g}"
    lattices = rows(section(text, "Test lattices"))
    assert [r[0] for r in lattices] == ["8 × 8 × 8", "16 × 16 × 16", "32 × 32 × 32"]
    assert lattices[2][1] == f"0.048 ± {np.std([0.032, 0.064], ddof=1):.3g}"
    assert lattices[0][3] == "0.5 ± 0"  # the box law; MSE was not logged: a dash
    assert lattices[0][2] == "–"
    families = {r[1]: r for r in rows(section(text, "Test families"))}
    assert list(families) == ["bernoulli_p0.3", "laplace", "uniform"]
    assert {r[0] for r in families.values()} == {"universal_landscape_net_3d"}
    # MSE 6 and 12 over the seeds
    assert families["bernoulli_p0.3"][2:] == [
        f"9 ± {np.std([6.0, 12.0], ddof=1):.3g}",
        families["bernoulli_p0.3"][3],
        "3 ± 0",
        f"0.015 ± {np.std([0.01, 0.02], ddof=1):.3g}",
    ]
    assert families["laplace"][3] == "–"
    # the seed-mean's interval over the 3 potentials (seeds 1 and 2: 1.5 × the errors),
    # against the exact bootstrap distribution (all 3³ resamples): each end lies between
    # its 1 % and 5 % (95 % and 99 %) quantiles
    for family, per_potential in FAMILY_ERRORS.items():
        seed_mean = 1.5 * np.array(per_potential)
        means = [seed_mean[list(i)].mean() for i in itertools.product(range(3), repeat=3)]
        low, high = (float(x) for x in families[family][3].strip("[]").split(","))
        assert (
            np.quantile(means, 0.01, method="inverted_cdf") - 1e-9
            <= low
            <= np.quantile(means, 0.05, method="inverted_cdf") + 0.005
        )
        assert (
            np.quantile(means, 0.95, method="inverted_cdf") - 0.005
            <= high
            <= np.quantile(means, 0.99, method="inverted_cdf") + 1e-9
        )
    assert "| universal_landscape_net_3d | 2 |" in section(text, "Test metrics")
    assert re.search(r"!\[[^]]*\]\(three-d\.png\)", text)
    assert page.with_suffix(".png").stat().st_size > 1000


def test_page_regenerates_its_own_file_but_never_overwrites_a_hand_written_one(
    mlflow_store, page_runs, tmp_path
):
    args = ["page_test", "--tracking-uri", mlflow_store["uri"], "--out", str(tmp_path), "--no-log"]
    page = tmp_path / "page.md"
    assert compare.main([*args, "--page", str(page)]) == 0
    first = page.read_text()
    assert compare.main([*args, "--page", str(page)]) == 0  # its own page: replaced
    assert page.read_text().split("## Runs")[1] == first.split("## Runs")[1]
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n")
    with pytest.raises(SystemExit, match="was not generated by compare.py"):
        compare.main([*args, "--page", str(notes)])
    assert notes.read_text() == "# my notes\n"
    with pytest.raises(SystemExit, match="must be a Markdown file"):
        compare.main([*args, "--page", str(tmp_path / "page.txt")])
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_page_of_a_sweep_tabulates_and_draws_the_metrics_against_the_swept_key(
    mlflow_store, tmp_path
):
    # val MSE per run: 4 and 6 at data.sizes.train=250 (mean 5, std √2), 2 at 1000
    for train_size, seed, val_mse in ((250, 1, 4.0), (250, 2, 6.0), (1000, 1, 2.0)):
        finished_run(
            mlflow_store,
            model="universal_landscape_net",
            experiment="page_sweep",
            seed=seed,
            params={"data.sizes.train": str(train_size)},
            metrics={
                "test_mse": val_mse + 1,
                "val_mse": val_mse,
                "size_1000_test_rel_err": val_mse / 100,
                "family_laplace_test_mse": 2 * val_mse,
            },
        )
    page = tmp_path / "scaling.md"
    args = ["page_sweep", "--tracking-uri", mlflow_store["uri"], "--out", str(tmp_path / "r")]
    sweep = ["--by", "data.sizes.train", "--metrics", "val_mse"]
    assert compare.main([*args, "--no-log", *sweep, "--page", str(page)]) == 0
    text = page.read_text()
    command = "python pipelines/compare.py page_sweep --by data.sizes.train --metrics val_mse"
    assert f"{command} --page {page}" in text  # the command reproduces the curve
    curve = rows(section(text, "Against data.sizes.train"))
    assert curve == [
        ["universal_landscape_net", "250", "2", f"5 ± {np.sqrt(2.0):.2g}"],
        ["universal_landscape_net", "1000", "1", "2"],
    ]
    # the lattice and family tables keep the swept values apart
    lattices = section(text, "Test lattices")
    assert lattices.index("**data.sizes.train = 250**") < lattices.index(
        "**data.sizes.train = 1000**"
    )
    per_value = lattices.split("**data.sizes.train = 1000**")
    assert rows(per_value[0])[0][1] == f"0.05 ± {np.sqrt(2.0) / 100:.3g}"
    assert rows(per_value[1])[0][1] == "0.02"
    families = {r[0]: r[2] for r in rows(section(text, "Test families"))}
    assert families == {
        "universal_landscape_net (data.sizes.train=1000)": "4",
        "universal_landscape_net (data.sizes.train=250)": f"10 ± {2 * np.sqrt(2.0):.3g}",
    }
    assert "![metrics against data.sizes.train" in text
    assert page.with_suffix(".png").stat().st_size > 1000
    assert compare.main([*args, "--no-log", "--page", str(page)]) == 0  # no --by: no curve
    assert "## Against" not in page.read_text()
