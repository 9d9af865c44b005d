"""lnet.cli.exit_on_config_error: a failing job's error is one line, on the terminal and
in a multirun's job record, whatever its message spans (a store's SQL, a driver's hint)."""

import pytest

import lnet.cli as cli


def two_lines() -> None:
    raise RuntimeError(
        "terminating connection due to administrator command\n(Background on this error)"
    )


def test_a_run_prints_the_first_line_of_a_long_error(monkeypatch, capsys):
    monkeypatch.setattr(cli, "in_multirun", lambda: False)
    with pytest.raises(SystemExit) as exit_:
        cli.exit_on_config_error(two_lines)()
    assert exit_.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("error: RuntimeError: terminating connection due to administrator command …")


def test_a_multirun_job_records_one_line(monkeypatch, capsys):
    records = []
    monkeypatch.setattr(cli, "in_multirun", lambda: True)
    monkeypatch.setattr(
        cli, "record_job", lambda status, error=None, value=None: records.append((status, error))
    )
    assert cli.exit_on_config_error(two_lines)() is None
    assert records == [
        ("failed", "RuntimeError: terminating connection due to administrator command …")
    ]
    assert "\n" not in capsys.readouterr().err.strip()
