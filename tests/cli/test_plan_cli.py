"""``hipec plan`` through the real entry point."""

from __future__ import annotations

from typing import Any

import pytest

BASE = ("plan", "--protocol", "dutch-mmc", "--height-cm", "170", "--weight-kg", "70")


def test_plan_json(hipec: Any) -> None:
    result = hipec(*BASE, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    data = result.json()
    assert data["protocol"] == "dutch-mmc"
    assert data["bsa_m2"] == 1.8181
    assert data["bsa_formula"] == "mosteller"
    assert data["carrier"] == {
        "solution": "isotonic peritoneal dialysis solution",
        "volume_l": 3.64,
        "rule": "2 L/m2 (min 2 L, max 6 L)",
    }
    assert data["target_temperature_c"] == 41.5
    assert data["duration_min"] == 90
    assert [(d["drug"], d["mg"], d["at_min"], d["route"]) for d in data["doses"]] == [
        ("mitomycin C", 31.8, 0, "intraperitoneal"),
        ("mitomycin C", 15.9, 30, "intraperitoneal"),
        ("mitomycin C", 15.9, 60, "intraperitoneal"),
    ]
    assert data["systemic"] == []


def test_plan_closed_prodige7_with_dubois(hipec: Any) -> None:
    result = hipec(
        "plan", "-p", "prodige7", "--height-cm", "170", "--weight-kg", "70",
        "--technique", "closed", "--bsa-formula", "dubois", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["technique"] == "closed"
    assert data["bsa_formula"] == "dubois"
    # 360 mg/m2 x 1.8097 m2 (DuBois) = 651.5 mg
    assert data["doses"][0]["mg"] == pytest.approx(651.5, abs=0.1)
    assert [s["drug"] for s in data["systemic"]] == ["fluorouracil", "folinic acid"]
    assert data["systemic"][0]["at_min"] == -20


def test_plan_readable_summary(hipec: Any) -> None:
    result = hipec(*BASE)
    assert result.exit_code == 0, result.stderr
    for text in ("dutch-mmc", "31.8", "15.9", "63.6", "41.5 C", "Kuijpers", "not verified"):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("plan", "--protocol", "x", "--height-cm", "170", "--weight-kg", "70"),
            "error: protocol: unknown regimen 'x'; known: aspsm-mmc, dutch-mmc, elias-oxaliplatin,",
        ),
        (
            ("plan", "--protocol", "dutch-mmc", "--height-cm", "20", "--weight-kg", "70"),
            "error: height_cm: must be 100-250 cm, got 20",
        ),
        (
            (*BASE, "--technique", "closed"),
            "error: technique: regimen 'dutch-mmc' supports open, got 'closed'",
        ),
        (
            (*BASE, "--bsa-formula", "boyd", "--json"),
            "error: bsa_formula: must be one of mosteller, dubois, got 'boyd'",
        ),
    ],
)
def test_plan_refusals(hipec: Any, args: tuple[str, ...], expected: str) -> None:
    result = hipec(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert "Traceback" not in result.stderr


def test_plan_missing_option_is_a_usage_error(hipec: Any) -> None:
    result = hipec("plan", "--protocol", "dutch-mmc", "--height-cm", "170")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--weight-kg" in result.stderr
