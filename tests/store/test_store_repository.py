"""Repositories: validation, one transaction per command, audit in the same transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from casedata import case_document
from hipec.errors import InvalidInputError, NotFoundError
from hipec.store.audit import audit_trail
from hipec.store.db import transaction
from hipec.store.models import Assessment, AuditEntry, Complication, Patient
from hipec.store.repository import (
    add_assessment,
    add_case,
    add_follow_up,
    add_procedure,
    case_to_dict,
    comprehensive_complication_index_of,
    delete_case,
    get_case,
    list_cases,
    set_postop_course,
    update_case,
)


def _count(engine: Engine, model: type) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_whole_case_is_stored_and_read_back(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, case_document(), actor="dr-a")
    with transaction(engine) as session:
        patient = get_case(session, "T-001")
        case = case_to_dict(patient)
        assert case["assessments"][0]["pci"] == 2 + 3 + 1
        assert case["assessments"][0]["lesion_size_scores"][6] == 3
        procedure = case["procedures"][0]
        assert procedure["cc_score"] == 0
        assert procedure["crs_start"] == "2024-04-02T06:10:00+00:00"  # stored as UTC
        assert [c["clavien_dindo"] for c in procedure["postop"]["complications"]] == ["IIIa", "I"]
        assert comprehensive_complication_index_of(patient.procedures[0].postop) > 0
        assert [p.case_number for p in list_cases(session)] == ["T-001"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sex": "f"}, "sex"),
        ({"birth_year": 1850}, "birth_year"),
        ({"height_cm": 1.65}, "height_cm"),
        ({"case_number": "has space"}, "case_number"),
        ({"primary_icd10": "c18"}, "primary_icd10"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_bad_patient_fields_name_the_field(engine: Engine, change: dict, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught, transaction(engine) as session:
        add_case(session, case_document(**change), actor="a")
    assert caught.value.field == field
    assert _count(engine, Patient) == 0


def test_a_bad_nested_item_leaves_nothing_half_written(engine: Engine) -> None:
    document = case_document()
    document["procedures"][0]["postop"]["complications"][1]["clavien_dindo"] = "IIIc"
    with pytest.raises(InvalidInputError) as caught, transaction(engine) as session:
        add_case(session, document, actor="a")
    assert caught.value.field == "procedures[0].postop.complications[1].clavien_dindo"
    for model in (Patient, Assessment, Complication, AuditEntry):
        assert _count(engine, model) == 0


def test_a_failure_after_writes_rolls_back_rows_and_their_audit(engine: Engine) -> None:
    with pytest.raises(NotFoundError), transaction(engine) as session:
        add_case(session, case_document("T-002"), actor="a")
        add_assessment(
            session,
            "NO-SUCH",
            {"assessed_on": "2024-01-01", "source": "imaging", "lesion_size_scores": [0] * 13},
            actor="a",
        )
    assert _count(engine, Patient) == 0
    assert _count(engine, AuditEntry) == 0


def test_duplicate_case_numbers_are_refused(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, case_document(), actor="a")
    with pytest.raises(InvalidInputError, match="already exists"), transaction(engine) as session:
        add_case(session, case_document(), actor="a")


def test_every_change_is_audited_with_who_and_before_after(engine: Engine) -> None:
    with transaction(engine) as session:
        patient = add_case(
            session,
            {
                k: v
                for k, v in case_document().items()
                if k not in ("assessments", "procedures", "follow_ups")
            },
            actor="dr-a",
        )
        patient_id = str(patient.id)
    with transaction(engine) as session:
        update_case(session, "T-001", {"weight_kg": 60.0}, actor="dr-b")
        add_follow_up(
            session,
            "T-001",
            {
                "seen_on": "2025-01-01",
                "status": "alive-with-disease",
                "recurrence": True,
                "recurrence_sites": ["peritoneal"],
            },
            actor="dr-b",
        )
    with transaction(engine) as session:
        trail = audit_trail(session, "patients", patient_id)
        assert [(e.action, e.actor) for e in trail] == [("insert", "dr-a"), ("update", "dr-b")]
        assert trail[1].before["weight_kg"] == 62.5 and trail[1].after["weight_kg"] == 60.0
        assert trail[1].at.tzinfo is not None
        follow = audit_trail(session, "follow_ups")
        assert follow[0].after["recurrence_sites"] == ["peritoneal"]
    with transaction(engine) as session:
        delete_case(session, "T-001", actor="dr-c")
    with transaction(engine) as session:
        assert list_cases(session) == []
        deleted = audit_trail(session, "patients", patient_id)[-1]
        assert (deleted.action, deleted.actor) == ("delete", "dr-c")
        assert deleted.before["follow_ups"][0]["status"] == "alive-with-disease"


def test_update_validates_and_refuses_unknown_fields(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, case_document(), actor="a")
    with pytest.raises(InvalidInputError) as caught, transaction(engine) as session:
        update_case(session, "T-001", {"weight_kg": 900}, actor="a")
    assert caught.value.field == "weight_kg"
    with pytest.raises(InvalidInputError, match="not a patient field"), transaction(engine) as s:
        update_case(s, "T-001", {"pci": 3}, actor="a")


def test_procedures_and_postop_course_replace(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, case_document(procedures=[]), actor="a")
        procedure = add_procedure(
            session,
            "T-001",
            {"performed_on": "2024-05-01", "technique": "closed", "cc_score": 1},
            actor="a",
        )
        procedure_id = procedure.id
    with pytest.raises(InvalidInputError) as caught, transaction(engine) as session:
        add_procedure(
            session,
            "T-001",
            {
                "performed_on": "2024-05-01",
                "technique": "open",
                "resections": ["appendectomy-typo"],
            },
            actor="a",
        )
    assert caught.value.field == "resections"
    with transaction(engine) as session:
        set_postop_course(
            session,
            procedure_id,
            {"icu_days": 1, "complications": [{"description": "ileus", "clavien_dindo": "II"}]},
            actor="a",
        )
    with transaction(engine) as session:
        course = set_postop_course(session, procedure_id, {"mortality_30d": True}, actor="a")
        assert course.complications == []
    with pytest.raises(InvalidInputError, match="mortality_90d"), transaction(engine) as session:
        set_postop_course(
            session, procedure_id, {"mortality_30d": True, "mortality_90d": False}, actor="a"
        )


def test_pci_input_forms_and_disagreement(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, case_document(assessments=[]), actor="a")
        row = add_assessment(
            session,
            "T-001",
            {
                "assessed_on": "2024-01-01",
                "source": "imaging",
                "lesion_size_scores": [1] * 13,
                "pci": 13,
            },
            actor="a",
        )
        assert row.pci == 13
    with pytest.raises(InvalidInputError, match="add up to PCI 13"), transaction(engine) as s:
        add_assessment(
            s,
            "T-001",
            {
                "assessed_on": "2024-01-01",
                "source": "imaging",
                "lesion_size_scores": [1] * 13,
                "pci": 12,
            },
            actor="a",
        )
    with pytest.raises(InvalidInputError, match="source"), transaction(engine) as s:
        add_assessment(
            s,
            "T-001",
            {"assessed_on": "2024-01-01", "source": "ct", "lesion_size_scores": [0] * 13},
            actor="a",
        )


def test_the_database_enforces_foreign_keys(engine: Engine) -> None:
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.add(
            Assessment(
                patient_id=999,
                assessed_on=__import__("datetime").date(2024, 1, 1),
                source="imaging",
                pci=0,
                lesion_size_scores=[0] * 13,
                reasons=[],
            )
        )
