"""hipec codes: CPT units from perfusion minutes, ICD-10-CM codes from the primary site."""

from __future__ import annotations

import pytest

from clihelpers import make_runner

run = make_runner({})


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        ("60", [("96547", 1)]),
        ("95", [("96547", 1), ("96548", 1)]),
        ("120", [("96547", 1), ("96548", 2)]),
        ("30", []),
    ],
)
def test_codes_json(minutes: str, expected: list[tuple[str, int]]) -> None:
    result = run("codes", "--perfusion-min", minutes, "--json")
    assert result.exit_code == 0, result.stderr
    assert [(c["code"], c["units"]) for c in result.json()] == expected
    assert all(set(c) >= {"code", "units", "description"} for c in result.json())


def test_codes_with_primary_site_and_rule() -> None:
    result = run(
        "codes",
        "--perfusion-min",
        "95",
        "--primary-site",
        "appendix",
        "--time-rule",
        "complete",
        "--json",
    )
    assert [c["code"] for c in result.json()] == ["96547", "96548", "C18.1", "C78.6"]
    human = run("codes", "--perfusion-min", "20")
    assert human.exit_code == 0 and "no HIPEC code" in human.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--perfusion-min", "-5"), ("perfusion_min", "0-1440 min")),
        (("--perfusion-min", "60", "--time-rule", "x"), ("time_rule", "midpoint, complete")),
        (("--perfusion-min", "60", "--primary-site", "liver"), ("primary_site", "appendix")),
    ],
)
def test_codes_refusals(args: tuple[str, ...], words: tuple[str, ...]) -> None:
    result = run("codes", *args, "--json")
    assert result.exit_code == 2 and result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: ")
    for word in words:
        assert word in line
