"""The cost-accuracy frontier: every route scored on the same potentials and energies."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pytest

from lnet.benchmarks.frontier import (
    energy_at_fraction,
    frontier_figure,
    frontier_points,
    frontier_test_set,
    interpolated_exact,
    run_frontier,
)
from lnet.benchmarks.frontier_cli import parse_shape
from lnet.models.metrics import relative_count_error
from lnet.physics import count_eigenvalues, landscape_potential, weyl_count


@pytest.fixture(scope="module")
def small_set():
    return frontier_test_set((6, 6), potentials=2, energies=40, fraction=0.2, seed=3)


def test_test_set_energies_lie_in_the_bottom_fraction(small_set):
    V, E, N = small_set["V"], small_set["E"], small_set["N"]
    assert V.shape == (2, 6, 6) and E.shape == N.shape == (2, 40)
    np.testing.assert_array_equal(N, count_eigenvalues(V, E, dim=2))
    k = int(np.ceil(0.2 * 36))
    for v, e in zip(V, E, strict=True):
        top = energy_at_fraction(v, 0.2, dim=2)
        assert (
            count_eigenvalues(v, [top], dim=2)[0]
            >= k
            > count_eigenvalues(v, [top * 0.999], dim=2)[0]
        )
        assert e.min() >= 0.0 and e.max() <= top


def test_interpolated_exact_is_exact_at_its_knots_and_monotone(small_set):
    V, E, N = small_set["V"], small_set["E"], small_set["N"]
    np.testing.assert_array_equal(interpolated_exact(V, E, 1, dim=2), N)
    coarse = interpolated_exact(V, E, 8, dim=2)
    for b in range(2):
        order = np.argsort(E[b])
        np.testing.assert_array_equal(coarse[b, order[::8]], N[b, order[::8]])
        assert np.all(np.diff(coarse[b, order]) >= 0)


def test_every_route_is_scored_against_the_exact_counts(small_set):
    V, E, N = small_set["V"], small_set["E"], small_set["N"]
    worst = lambda V, E: np.zeros(E.shape)  # noqa: E731  (a "net" that always answers 0)
    points = frontier_points(
        V, E, N, 2, kpm_grid=((16, 2), (256, 8)), exact_every=(1, 10), net=worst, box_law=None
    )
    by = {(p.method, p.setting): p for p in points}
    assert by[("exact", "m=40")].rel_err == 0.0
    assert by[("exact", "m=40/10 + interp")].rel_err > 0.0
    assert by[("kpm", "M=256 R=8")].rel_err < by[("kpm", "M=16 R=2")].rel_err
    W = landscape_potential(V, dim=2)
    torus = relative_count_error(weyl_count(W, E, kind="torus", dim=2), N)
    assert by[("weyl_torus", "no parameter")].rel_err == pytest.approx(torus)
    zero = np.mean(np.abs(N) / np.maximum(N, 1))
    assert by[("net", "trained model")].rel_err == pytest.approx(zero)
    assert all(p.seconds > 0 for p in points)
    fig = frontier_figure(points, "t")
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"


def test_the_exact_curve_can_be_timed_on_a_few_energies_and_scaled(small_set, monkeypatch):
    import lnet.benchmarks.frontier as frontier

    V, E, N = small_set["V"], small_set["E"], small_set["N"]
    counted = []
    real = frontier.count_eigenvalues
    monkeypatch.setattr(
        frontier,
        "count_eigenvalues",
        lambda V, E, dim: counted.append(E.shape) or real(V, E, dim=dim),
    )
    points = frontier_points(V, E, N, 2, kpm_grid=(), exact_every=(1,), exact_timed=5)
    exact = [p for p in points if p.method == "exact"]
    assert len(exact) == 1 and exact[0].setting == "m=40 (timed on 5, x8)"
    assert exact[0].rel_err == 0.0 and exact[0].seconds > 0
    assert counted == [(2, 5)]  # only the timed energies were counted


def test_run_frontier_fits_the_box_law_in_2d_and_takes_3d():
    points, _ = run_frontier((5, 6), potentials=1, energies=20, kpm_grid=((32, 2),))
    assert {p.method for p in points} == {"exact", "kpm", "weyl_lattice", "weyl_torus", "box_law"}
    points, _ = run_frontier((3, 4, 5), potentials=1, energies=20, kpm_grid=((32, 2),))
    assert {p.method for p in points} == {"exact", "kpm", "weyl_lattice", "weyl_torus"}


@pytest.mark.parametrize("text", ["12", "2x1", "axb", "2x2x2x2"])
def test_bad_shapes_are_named(text):
    with pytest.raises(ValueError, match=f"--frontier shape '{text}'"):
        parse_shape(text)
    assert parse_shape("4x5x6") == (4, 5, 6)


@pytest.mark.e2e
def test_benchmark_frontier_prints_saves_and_logs(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "out"
    cmd = [sys.executable, "pipelines/benchmark.py", "--frontier", "8x8", "--potentials", "1"]
    cmd += ["--energies", "30", "--out", str(out)]
    res = subprocess.run(
        cmd, capture_output=True, text=True, env={**_env(), "MLFLOW_TRACKING_URI": store}
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "cost-accuracy frontier at 8x8" in res.stdout
    rows = json.loads((out / "frontier_8x8.json").read_text())
    assert {r["method"] for r in rows} >= {"exact", "kpm", "weyl_lattice", "box_law"}
    client = mlflow.MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("lnet-benchmarks").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["shape"] == "8x8"
    assert run.data.metrics["exact_m30_rel_err"] == 0.0
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"frontier_8x8.png"}


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
