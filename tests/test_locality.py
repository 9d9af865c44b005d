import numpy as np
import pytest

from lnet.locality import level_energies, locality_table, main
from lnet.physics import count_eigenvalues


@pytest.fixture
def potentials(rng):
    return rng.random((3, 60))


def test_level_energies_sit_between_levels(potentials):
    E, N = level_energies(potentials, 5)
    assert E.shape == N.shape == (3, 5)
    np.testing.assert_array_equal(N, np.broadcast_to(np.arange(1, 6), (3, 5)))
    np.testing.assert_array_equal(count_eigenvalues(potentials, E), N)


def test_a_degenerate_level_is_counted_with_its_partner():
    # constant V on an even ring: every level but the lowest is doubly degenerate
    E, N = level_energies(np.full((1, 8), 0.5), 3)
    np.testing.assert_array_equal(N, [[1, 3, 3]])


def test_table_rows_bracket_and_vanish_without_cuts(potentials):
    df = locality_table(potentials, levels=5, spacings=(10, 60), barriers=(1.0, 1e9))
    assert list(df.columns) == ["rule", "boundary", "mse", "bias", "variance", "cuts"]
    assert len(df) == 4 * 3
    by = df.set_index(["rule", "boundary"])
    assert by.loc[("every 10 sites", "dirichlet"), "bias"] <= 0.0
    assert by.loc[("every 10 sites", "neumann"), "bias"] >= 0.0
    assert by.loc[("every 10 sites", "free"), "cuts"] == 6.0
    assert by.loc[("every 10 sites", "free"), "mse"] > 0.0  # windows of 10 sites err
    for boundary in ("free", "dirichlet", "neumann"):
        # one cut opens the ring (at most one level off); a barrier no peak reaches is exact
        assert by.loc[("every 60 sites", boundary), "mse"] <= 1.0
        assert by.loc[("W >= 1e+09·E", boundary), "mse"] == 0.0
        assert by.loc[("W >= 1e+09·E", boundary), "cuts"] == 0.0
    row = by.loc[("every 10 sites", "free")]
    assert row["variance"] == pytest.approx(row["mse"] - row["bias"] ** 2)


def test_bad_levels_and_spacings_are_named(potentials):
    with pytest.raises(ValueError, match="levels"):
        locality_table(potentials, levels=60)
    with pytest.raises(ValueError, match="spacings"):
        locality_table(potentials, levels=2, spacings=(0,))


def test_main_prints_the_table(capsys):
    df = main(["--n", "40", "--levels", "3", "--potentials", "2", "--family", "exponential"])
    out = capsys.readouterr().out
    assert "exponential" in out and "every 25 sites" in out and "W >= 6·E" in out
    assert len(df) == (5 + 5) * 3


def test_progress_is_called_once_per_row(potentials):
    calls = []
    df = locality_table(
        potentials, levels=2, spacings=(7,), barriers=(2.0,), progress=lambda: calls.append(1)
    )
    assert len(calls) == len(df) == 6


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--family", "foo"], "unknown family 'foo'"),
        (["--amplitude", "-1"], "potential.amplitude"),
        (["--n", "40", "--levels", "40"], "--levels must be in"),
        (["--potentials", "0"], "--potentials >= 1"),
    ],
)
def test_main_names_bad_arguments(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert match in capsys.readouterr().err
