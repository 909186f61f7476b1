"""Registry export and import: round trip, all-or-nothing refusals with line and reason, CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from casedata import case_document, reading
from hipec.protocols import get_regimen
from hipec.protocols.plan import plan_perfusion
from hipec.store.db import create_db_engine, transaction, upgrade_database
from hipec.store.recorder import RunRecorder
from hipec.store.registry import (
    RegistryImportError,
    export_csv,
    export_registry,
    import_registry,
    read_registry_file,
)
from hipec.store.repository import add_case, get_case, list_cases


def _fill(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, case_document("T-001"), actor="a")
        add_case(
            session,
            case_document(
                "T-002",
                sex="male",
                primary_site="mesothelioma",
                primary_icd10="C45.1",
                histology_type=None,
            ),
            actor="a",
        )
        procedure_id = get_case(session, "T-001").procedures[0].id
    regimen = get_regimen("prodige7")
    recorder = RunRecorder(engine, commit_interval_s=0.0)
    recorder.start(
        "T-001",
        cavity_probe_regions=(0, 6, 3),
        regimen=regimen,
        plan=plan_perfusion(regimen, height_cm=165, weight_kg=62.5),
        procedure_id=procedure_id,
    )
    for second in range(5):
        recorder.add_sample(reading(float(second), probe_nan=second == 2))
    recorder.add_event(1.0, "phase", "drug added", {"phase": "perfusion"})
    recorder.raise_alarm("air", "high", "air in line", 3.0)
    recorder.record_dose("oxaliplatin", 700.0, 1.0)
    recorder.finish("completed", perfusion_min=30.0, summary={"cem43_min": 12.5})


def _without_time(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "exported_at"}


def test_export_import_export_gives_the_same_data(engine: Engine, tmp_path: Path) -> None:
    _fill(engine)
    with transaction(engine) as session:
        first = export_registry(session)
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(first, indent=2))
    data, lines = read_registry_file(path)
    assert len(lines) == 2
    target = create_db_engine(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    try:
        upgrade_database(target)
        with transaction(target) as session:
            assert import_registry(session, data, actor="importer", case_lines=lines) == [
                "T-001",
                "T-002",
            ]
        with transaction(target) as session:
            second = export_registry(session)
    finally:
        target.dispose()
    assert _without_time(second) == _without_time(first)
    run = first["cases"][0]["perfusion_runs"][0]
    assert run["procedure_index"] == 0 and len(run["samples"]["seq"]) == 5
    assert run["samples"]["cavity_r0_c"][2] is None


def test_bad_cases_are_refused_with_line_and_reason_and_nothing_is_imported(
    engine: Engine, tmp_path: Path
) -> None:
    good = case_document("N-001")
    bad_cc = case_document("N-002")
    bad_cc["procedures"][0]["cc_score"] = "CC-7"
    bad_sex = case_document("N-003", sex="x")
    document = {"format": "hipec-registry", "version": 1, "cases": [good, bad_cc, bad_sex, good]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document, indent=2))
    data, lines = read_registry_file(path)
    with pytest.raises(RegistryImportError) as caught, transaction(engine) as session:
        import_registry(session, data, actor="a", case_lines=lines)
    problems = caught.value.problems
    assert [p.line for p in problems] == [lines[1], lines[2], lines[3]]
    assert problems[0].position == "cases[1] (case N-002).procedures[0].cc_score"
    assert "CC-0 to CC-3" in problems[0].reason
    assert problems[1].position == "cases[2] (case N-003).sex"
    assert "given twice" in problems[2].reason
    text = path.read_text().splitlines()
    assert text[lines[1] - 1].strip() == "{"  # the line is where that case's object opens
    with transaction(engine) as session:
        assert list_cases(session) == []


def test_existing_case_numbers_and_wrong_documents_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    with transaction(engine) as session:
        add_case(session, case_document("E-1"), actor="a")
    document = {"format": "hipec-registry", "version": 1, "cases": [case_document("E-1")]}
    with (
        pytest.raises(RegistryImportError, match="exists in the database"),
        transaction(engine) as s,
    ):
        import_registry(s, document, actor="a")
    with pytest.raises(Exception, match="version"), transaction(engine) as s:
        import_registry(s, {**document, "version": 99}, actor="a")
    path = tmp_path / "not.json"
    path.write_text('{"cases": [}')
    with pytest.raises(Exception, match="not valid JSON"):
        read_registry_file(path)


def test_csv_export_writes_one_file_per_table(engine: Engine, tmp_path: Path) -> None:
    _fill(engine)
    with transaction(engine) as session:
        files = export_csv(session, tmp_path / "csv")
    names = {f.stem for f in files}
    assert {"patients", "assessments", "procedures", "run_samples", "audit_log"} <= names
    with (tmp_path / "csv" / "patients.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["case_number"] for r in rows] == ["T-001", "T-002"]
    with (tmp_path / "csv" / "assessments.csv").open() as handle:
        assessment = next(csv.DictReader(handle))
    assert json.loads(assessment["lesion_size_scores"])[6] == 3
    with (tmp_path / "csv" / "run_samples.csv").open() as handle:
        samples = list(csv.DictReader(handle))
    assert len(samples) == 5 and samples[2]["cavity_r0_c"] == ""
