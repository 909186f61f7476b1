"""``hipec validate`` through the real entry point."""

from __future__ import annotations

from typing import Any

FAST_ENV = {"OPENBLAS_NUM_THREADS": "1"}


def test_validate_json_one_experiment(hipec: Any) -> None:
    result = hipec("validate", "--json", "-e", "mmc-van-der-speeten-2011", env=FAST_ENV)
    assert result.exit_code == 0, result.stderr
    rows = result.json()
    assert [row["experiment"] for row in rows] == ["mmc-van-der-speeten-2011"] * 4
    assert all(row["met"] for row in rows)
    remaining = next(row for row in rows if "perfusate at 90 min" in row["quantity"])
    assert remaining["published"] == 0.29 and abs(remaining["model"] - 0.29) <= 0.05
    assert remaining["source"] == "VanDerSpeeten2011"


def test_validate_table_reports_unmet_rows_with_notes(hipec: Any) -> None:
    result = hipec("validate", "--experiment", "mmc-cerretani-2005", env=FAST_ENV)
    assert result.exit_code == 0, result.stderr  # a report: unmet rows do not fail the command
    assert "Cerretani2005" in result.stdout and "no" in result.stdout
    assert "within tolerance" in result.stdout
    assert "[1] " in result.stdout  # the notes explaining the unmet values


def test_validate_refuses_unknown_experiment(hipec: Any) -> None:
    result = hipec("validate", "-e", "nonsense")
    result.assert_refused("experiment", "mmc-cerretani-2005")
