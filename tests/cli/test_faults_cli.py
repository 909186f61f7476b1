"""``hipec faults`` through the real entry point."""

from __future__ import annotations

from typing import Any

from hipec.devices.faults import FAULT_NAMES

ENV = {"OPENBLAS_NUM_THREADS": "1"}


def test_faults_runs_12_json(hipec: Any) -> None:
    result = hipec("faults", "--runs", "12", "--json", env=ENV)
    data = result.json()
    # exit 0 exactly when every requirement is met, 1 otherwise (the JSON says which runs failed)
    assert result.exit_code == (0 if data["passed"] else 1), result.stderr
    assert "Traceback" not in result.stderr
    assert data["runs"] == 12 and data["control_runs"] == 1
    assert data["failed_runs"] == len(data["failures"])
    rows = {row["fault"]: row for row in data["faults"]}
    assert set(rows) == {*FAULT_NAMES, "control"}
    assert sum(row["runs"] for row in rows.values()) == 13
    for name in FAULT_NAMES:
        row = rows[name]
        assert set(row) >= {
            "runs", "passed", "detected", "detection_median_s", "detection_max_s", "limit_s",
            "worst_region_c", "worst_inflow_c", "worst_inflow_margin_k", "safe_actions",
            "failures",
        }  # fmt: skip
        assert row["detected"] == row["runs"]  # no fault goes undetected
        assert row["worst_region_c"] <= 44.0 and row["worst_inflow_margin_k"] >= 0.0
    for name in ("heater-stuck-on", "pump-stall", "occlusion", "air-in-line", "power-loss"):
        assert rows[name]["detection_max_s"] <= 10.0
    assert rows["control"]["failures"] == {}


def test_faults_refuses_bad_runs_and_seed(hipec: Any) -> None:
    hipec("faults", "--runs", "0", env=ENV).assert_refused("runs", "must be 1-")
    hipec("faults", "--seed", "-1", "--json", env=ENV).assert_refused("seed", ">= 0")
    hipec("faults", "--workers", "0", "--runs", "1", env=ENV).assert_refused("workers", "1-64")
