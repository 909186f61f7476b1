"""hipec export fhir | json | csv and hipec import json, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from casedata import case_document
from clihelpers import Result, make_runner
from dbhelpers import BACKENDS, fresh_database_url

Run = Callable[..., Result]


@pytest.fixture(params=BACKENDS)
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    with fresh_database_url(request.param, tmp_path) as url:
        run = make_runner({"HIPEC_DATABASE_URL": url})
        assert run("db", "upgrade").exit_code == 0
        yield run


def _add(cli: Run, tmp_path: Path, number: str) -> None:
    path = tmp_path / f"{number}.json"
    path.write_text(json.dumps(case_document(number)))
    assert cli("cases", "add", "--file", str(path)).exit_code == 0


def test_export_fhir_writes_a_valid_bundle(cli: Run, tmp_path: Path) -> None:
    _add(cli, tmp_path, "F-1")
    result = cli("export", "fhir", "F-1")
    assert result.exit_code == 0, result.stderr
    bundle = Bundle.model_validate(result.json())
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry or []]
    assert kinds.count("Observation") == 2 and "Patient" in kinds
    unknown = cli("export", "fhir", "NOPE")
    assert unknown.exit_code == 2 and unknown.stdout == "" and "NOPE" in unknown.stderr


def test_json_round_trip_and_all_or_nothing_import(cli: Run, tmp_path: Path) -> None:
    _add(cli, tmp_path, "R-1")
    _add(cli, tmp_path, "R-2")
    out = tmp_path / "registry.json"
    assert cli("export", "json", "--out", str(out)).exit_code == 0
    first = json.loads(out.read_text())
    # into an empty database
    with fresh_database_url("sqlite", tmp_path / "second") as url:
        other = make_runner({"HIPEC_DATABASE_URL": url})
        other("db", "upgrade")
        imported = other("import", "json", str(out))
        assert imported.exit_code == 0, imported.stderr
        second = other("export", "json").json()
        assert {k: v for k, v in second.items() if k != "exported_at"} == {
            k: v for k, v in first.items() if k != "exported_at"
        }
        # importing again: every case exists; refused with line numbers, nothing imported
        again = other("import", "json", str(out))
        assert again.exit_code == 2 and "Traceback" not in again.stderr
        lines = again.stderr.strip().splitlines()
        assert len(lines) == 3 and lines[0].startswith("error: ") and "line " in lines[0]
        assert "exists in the database" in lines[0]
        assert len(other("cases", "list", "--json").json()) == 2


def test_csv_export_to_a_folder(cli: Run, tmp_path: Path) -> None:
    _add(cli, tmp_path, "S-1")
    result = cli("export", "csv", "--out", str(tmp_path / "csv"))
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "csv" / "patients.csv").read_text()
    assert text.splitlines()[0].startswith("id,case_number") and "S-1" in text
    missing = cli("export", "csv")
    assert missing.exit_code == 2 and "--out" in missing.stderr
