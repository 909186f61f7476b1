"""``hipec run`` through the real entry point (coarse control period: --period-s 5)."""

from __future__ import annotations

from typing import Any

import pytest

BASE = ["run", "--protocol", "dutch-mmc", "--height-cm", "170", "--weight-kg", "70"]
FAST = ["--fast", "--period-s", "5"]
ENV = {"OPENBLAS_NUM_THREADS": "1"}


def test_run_fast_json_has_the_issue_shape(hipec: Any) -> None:
    result = hipec(*BASE, *FAST, "--json", env=ENV)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert list(data) == [
        "outcome", "phases", "alarms", "doses", "time_to_target_min", "overshoot_c",
        "time_in_range_fraction", "max_region_c", "max_inflow_c", "core_max_c",
    ]  # fmt: skip
    assert data["outcome"] == "completed"
    assert [p["name"] for p in data["phases"]] == [
        "setup", "prime", "fill", "heat", "perfuse", "drain", "rinse", "complete",
    ]  # fmt: skip
    assert set(data["phases"][0]) == {"name", "start_min", "end_min"}
    assert [d["planned_min"] for d in data["doses"]] == [0.0, 30.0, 60.0]
    assert all(d["given_min"] is not None and d["drug"] == "mitomycin C" for d in data["doses"])
    assert data["alarms"] == []
    assert 0 <= data["time_in_range_fraction"] <= 1


def test_run_with_a_fault_reports_its_alarm(hipec: Any) -> None:
    result = hipec(
        *BASE, *FAST, "--controller", "pid", "--fault", "air-in-line@10", "--json", env=ENV
    )
    assert result.exit_code == 0, result.stderr
    alarms = result.json()["alarms"]
    air = next(a for a in alarms if a["code"] == "AIR_IN_LINE")
    assert air["priority"] == "high" and 10.0 <= air["raised_min"] <= 10.2
    assert set(air) == {"code", "priority", "raised_min", "acknowledged_min", "cleared_min"}


def test_run_without_json_prints_a_summary(hipec: Any) -> None:
    result = hipec(*BASE, *FAST, "--seed", "3", env=ENV)
    assert result.exit_code == 0, result.stderr
    assert "completed" in result.stdout and "Phases" in result.stdout and "Doses" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--fault", "heater-stuck-on"], ["fault", "NAME@MINUTES", "power-loss"]),
        (["--fault", "meltdown@3"], ["fault", "heater-stuck-on", "air-in-line"]),
        (["--fault", "leak@soon"], ["fault", "minutes"]),
        (["--controller", "mpc"], ["controller", "pid", "cascade"]),
        (["--speed", "10"], ["speed", "--fast"]),
        (["--technique", "laparoscopic"], ["technique", "open or closed"]),
        (["--height-cm", "20"], ["height_cm"]),
    ],
)
def test_run_refusals(hipec: Any, args: list[str], expected: list[str]) -> None:
    hipec(*BASE, "--fast", *args, "--json").assert_refused(*expected)
