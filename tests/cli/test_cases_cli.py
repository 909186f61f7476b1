"""hipec db upgrade, hipec cases add | list | show, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from casedata import case_document
from clihelpers import Result, make_runner
from dbhelpers import BACKENDS, fresh_database_url

Run = Callable[..., Result]


@pytest.fixture(params=BACKENDS)
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    with fresh_database_url(request.param, tmp_path) as url:
        yield make_runner({"HIPEC_DATABASE_URL": url, "HIPEC_USER": "dr-test"})


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_commands_refuse_a_database_without_tables(cli: Run) -> None:
    _refused(cli("cases", "list"), "hipec db upgrade")


def test_add_list_show(cli: Run, tmp_path: Path) -> None:
    upgraded = cli("db", "upgrade", "--json")
    assert upgraded.exit_code == 0 and upgraded.json()["revision"]
    added = cli(
        "cases",
        "add",
        "--case-number",
        "C-1",
        "--sex",
        "male",
        "--birth-year",
        "1958",
        "--primary-site",
        "colorectal",
        "--height-cm",
        "180",
        "--weight-kg",
        "82",
        "--json",
    )
    assert added.exit_code == 0, added.stderr
    assert added.json()["case_number"] == "C-1"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case_document("C-2")))
    assert cli("cases", "add", "--file", str(path)).exit_code == 0
    listed = cli("cases", "list", "--json")
    assert [row["case_number"] for row in listed.json()] == ["C-1", "C-2"]
    assert listed.json()[1]["latest_pci"] == 6 and listed.json()[1]["latest_cc_score"] == 0
    shown = cli("cases", "show", "C-2", "--json").json()
    assert shown["procedures"][0]["postop"]["comprehensive_complication_index"] > 0
    assert [c["code"] for c in shown["diagnosis_codes"]] == ["C18.1", "C78.6"]
    human = cli("cases", "show", "C-2")
    assert human.exit_code == 0 and "PCI 6" in human.stdout and "CC-0" in human.stdout
    assert "C-1" in cli("cases", "list").stdout


def test_add_from_a_toml_file(cli: Run, tmp_path: Path) -> None:
    cli("db", "upgrade")
    path = tmp_path / "case.toml"
    path.write_text(
        'case_number = "C-9"\nsex = "female"\nbirth_year = 1970\nprimary_site = "ovarian"\n'
    )
    assert cli("cases", "add", "--file", str(path)).exit_code == 0
    assert cli("cases", "show", "C-9", "--json").json()["primary_site"] == "ovarian"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--sex", "m"), ("sex", "'female', 'male'")),
        (("--birth-year", "1850"), ("birth_year", "1900-")),
        (("--height-cm", "1.8"), ("height_cm", "100-250 cm")),
        (("--primary-site", "liver"), ("primary_site", "colorectal")),
    ],
)
def test_bad_fields_are_refused_in_one_line(
    cli: Run, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    cli("db", "upgrade")
    base: dict[str, Any] = {
        "--case-number": "C-1",
        "--sex": "male",
        "--birth-year": "1958",
        "--primary-site": "colorectal",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [item for pair in base.items() for item in pair]
    _refused(cli("cases", "add", *argv), *words)
    assert cli("cases", "list", "--json").json() == []


def test_duplicates_unknown_cases_and_bad_files(cli: Run, tmp_path: Path) -> None:
    cli("db", "upgrade")
    args = (
        "cases",
        "add",
        "--case-number",
        "C-1",
        "--sex",
        "male",
        "--birth-year",
        "1958",
        "--primary-site",
        "colorectal",
    )
    assert cli(*args).exit_code == 0
    _refused(cli(*args), "case_number", "already exists")
    _refused(cli("cases", "show", "NOPE"), "case", "NOPE")
    bad = tmp_path / "bad.json"
    document = case_document("C-5")
    document["procedures"][0]["cc_score"] = "CC-9"
    bad.write_text(json.dumps(document))
    _refused(cli("cases", "add", "--file", str(bad)), "procedures[0].cc_score", "CC-0 to CC-3")
    assert [r["case_number"] for r in cli("cases", "list", "--json").json()] == ["C-1"]
