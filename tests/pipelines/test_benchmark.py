import numpy as np
import pytest
from rich.console import Console

from lnet import benchmarks as benchmark


@pytest.mark.slow  # rows at n = 10^4 (whole counting curves included)
def test_inference_table_covers_every_route_at_both_sizes():
    rows = benchmark.inference_rows(np.random.default_rng(0), quick=True)
    routes = (
        "exact count_eigenvalues",
        "PaperLandscapeNet (",
        "LandscapeNet",
        "box counting",
        "Weyl law",
    )
    for n in ("1,000", "10,000"):
        sized = [r for r in rows if f"n={n}:" in r.task]
        assert [any(route in r.task for r in sized) for route in routes] == [True] * 5
        for r in sized:
            assert r.ours_s > 0 and r.note.endswith("predictions/s")
    md = benchmark.render(rows, Console(file=None, quiet=True), "t", benchmark.INFERENCE_COLUMNS)
    lines = md.splitlines()
    assert len(lines) == 2 + len(rows) and lines[0].startswith("| route |")


def _small_case(B=4, m=30, n=200, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((B, n)), rng.uniform(0.0, 0.6, (B, m))


def test_sparse_hamiltonian_is_lnet_periodic_operator():
    from lnet.physics import hamiltonian

    V, _ = _small_case(B=1, n=50)
    H = benchmark.sparse_periodic_hamiltonian(V[0])
    assert H.format == "csc" and H.nnz == 3 * 50
    assert H[0, 49] == -1.0 and H[49, 0] == -1.0
    np.testing.assert_array_equal(H.toarray(), hamiltonian(V[0]).toarray())


def test_fast_routes_answer_the_same_question_as_lnet():
    from lnet.physics import count_eigenvalues, landscape

    V, E = _small_case()
    H = [benchmark.sparse_periodic_hamiltonian(v) for v in V]
    u = landscape(V)
    assert np.abs(benchmark.spsolve_landscape(H) - u).max() <= 1e-10 * np.abs(u).max()

    N = count_eigenvalues(V, E)
    k = N.max(axis=1)
    assert k.min() > 0
    np.testing.assert_array_equal(benchmark.eigsh_count(H, E, k), N)

    # the open chain is a different operator: its counts move by at most 1 (interlacing
    # under the rank-2 corner term with eigenvalues +1, -1), and they do move
    sterf = benchmark.open_chain_count(V, E, "sterf")
    np.testing.assert_array_equal(benchmark.open_chain_count(V, E, "stebz"), sterf)
    diff = np.abs(sterf - N)
    assert diff.max() == 1


def test_fast_route_rows_report_matching_answers():
    from lnet.physics import count_eigenvalues

    V, E = _small_case()
    rows = benchmark.fast_route_rows(V, E, 1e-3, 1e-4, sub_eigsh=2, sub_stebz=3)
    assert [r.task.split(":")[0] for r in rows] == ["count N_V(E)"] * 3 + ["landscape u = H^-1 1"]
    for r in rows:
        assert r.ours_s in (1e-3, 1e-4) and r.naive_s > 0 and r.ratio == r.naive_s / r.ours_s
    sterf, stebz, arpack, sparse = (r.note for r in rows)
    diff = np.abs(benchmark.open_chain_count(V, E) - count_eigenvalues(V, E))
    assert "OPEN chain" in sterf and f"differs on {np.count_nonzero(diff)} of {diff.size}" in sterf
    assert "max |N_open - N_V| = 1" in sterf and "(timed on 3, scaled)" in stebz
    assert "counts equal on all 60 pairs" in arpack and "k given to it" in arpack
    rel = float(sparse.rsplit("= ", 1)[1])
    assert sparse.startswith("sparse spsolve") and rel <= 1e-10
    md = benchmark.render(rows, Console(file=None, quiet=True), "t", benchmark.NUMERICS_COLUMNS)
    lines = md.splitlines()
    assert lines[0] == "| task | lnet [s] | other [s] | speed-up | other route / notes |"
    # a "|" inside a note (|N_open - N_V|) must not split the Markdown row into more cells
    assert [len(line.replace("\\|", "").split("|")) for line in lines] == [7] * (2 + len(rows))
    assert "max \\|N_open - N_V\\| = 1" in lines[2]


@pytest.mark.slow  # counts on 128x128 lattices
def test_two_d_rows_compare_equal_answers():
    """The 2-D table: every route it times beside exact counting gives the same counts."""
    rng = np.random.default_rng(0)
    rows = benchmark.two_d_rows(rng, quick=True)
    compared = [r for r in rows if r.naive_s is not None and "count" in r.task]
    assert len(compared) >= 3
    assert all("counts agree" in r.note for r in compared), [r.note for r in compared]
    assert any(r.task.startswith("2-D count scaling 128x128") for r in rows)


def test_three_d_dense_reference_counts_like_lnet():
    from lnet.benchmarks.three_d import bottom_energies, dense_counts
    from lnet.physics import count_eigenvalues

    rng = np.random.default_rng(3)
    V = rng.random((5, 4, 6))
    E = bottom_energies(V, 40, rng, fraction=0.5)
    assert E.shape == (40,) and np.all(np.diff(E) >= 0) and E[0] >= 0
    N = dense_counts(V, E)
    assert N[-1] >= 0.3 * V.size  # the energies reach into the bottom half
    np.testing.assert_array_equal(N, count_eigenvalues(V, E, dim=3))


@pytest.mark.slow  # dense eigvalsh at 12³, 3-D counts to 24³
def test_three_d_tables_say_how_each_cost_was_measured_or_scaled():
    from lnet.benchmarks.three_d import three_d_curve_rows, three_d_rows

    rows = three_d_rows(np.random.default_rng(0), quick=True)
    measured = [r for r in rows if "dense eigvalsh + searchsorted" in r.note]
    assert [r.task.split(":")[0] for r in measured] == ["3-D count 8³", "3-D count 12³"]
    assert all(r.note.endswith("counts agree") for r in measured)
    scaled = [r for r in rows if "timed at 12³" in r.note]
    assert len(scaled) == 1 and "x13 (n³)" in scaled[0].note  # (16/12)^9 = 13.3
    curve = three_d_curve_rows(np.random.default_rng(1), quick=True)
    assert [r.task.split(":")[0] for r in curve] == ["3-D whole curve 16³", "3-D whole curve 24³"]
    for r in curve:
        assert r.ours_s > 0 and r.naive_s > 0 and "timed on" in r.note


def test_shipped_curve_rows_time_the_pretrained_model_and_skip_without_it(tmp_path, monkeypatch):
    """The pretrained universal-1d rows (the route a user takes): two timed rows against
    the exact time given, naming the ensemble that answers (a uniform [0, 1) potential
    goes to the expert uniform-1d); none when no such model is shipped."""
    import lnet.pretrained
    from lnet.benchmarks.suite import shipped_curve_rows

    monkeypatch.delenv(lnet.pretrained.ENV_VAR, raising=False)
    rng = np.random.default_rng(3)
    E = np.sort(rng.uniform(0.0, 0.2, (1, 40)), axis=1)
    for V, name in [
        (rng.random((1, 1000)), "universal-1d, answered by its expert uniform-1d"),
        (rng.exponential(0.5, (1, 1000)), "universal-1d"),
    ]:
        rows = shipped_curve_rows(V, E, exact=0.5, repeats=1)
        alone = "whole curve n=1,000: pretrained universal-1d, its members alone (experts=False)"
        assert [r.task for r in rows] == [
            f"whole curve n=1,000: pretrained {name} (3 members, their mean), 40 energies",
            f"whole curve n=1,000: pretrained {name}, with the 90 % interval, 40 energies",
            *([f"{alone}, 40 energies"] if "expert" in name else []),
        ]
        assert all(r.ours_s > 0 and r.naive_s == 0.5 for r in rows)
    monkeypatch.setenv(lnet.pretrained.ENV_VAR, str(tmp_path))
    assert shipped_curve_rows(V, E, exact=0.5, repeats=1) == []
