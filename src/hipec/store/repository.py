"""Repositories: plain functions that take a Session, validate input and audit every change.

The caller owns the transaction (``with transaction(engine) as session:``); one command is one
transaction, so a refused input leaves nothing half-written. Input is a mapping (or the pydantic
model of :mod:`hipec.store.schemas`); bad input raises :class:`~hipec.errors.InvalidInputError`
naming the field. ``actor`` is who acts (the CLI passes :func:`hipec.store.db.current_actor`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from hipec.clinical.complications import comprehensive_complication_index
from hipec.clinical.pci import PciScore
from hipec.errors import InvalidInputError, NotFoundError
from hipec.store.audit import audited_delete, audited_insert, audited_update, jsonable, snapshot
from hipec.store.models import (
    SAMPLE_COLUMNS,
    Assessment,
    Complication,
    FollowUp,
    Patient,
    PerfusionRun,
    PostopCourse,
    Procedure,
    RunAlarm,
    RunDose,
    RunEvent,
    run_samples,
)
from hipec.store.schemas import (
    AssessmentIn,
    CaseIn,
    FollowUpIn,
    PatientIn,
    PerfusionRunIn,
    PostopIn,
    ProcedureIn,
    validate_input,
)

_PATIENT_FIELDS = tuple(PatientIn.model_fields)


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


def get_case(session: Session, case_number: str) -> Patient:
    """The case ``case_number``.

    Raises
    ------
    NotFoundError
        Field ``case`` if no such case exists.
    """
    patient = session.scalar(select(Patient).where(Patient.case_number == case_number))
    if patient is None:
        raise NotFoundError("case", f"no case {case_number!r} (see 'hipec cases list')")
    return patient


def list_cases(session: Session) -> list[Patient]:
    """Every case, by case number."""
    return list(session.scalars(select(Patient).order_by(Patient.case_number)))


def _refuse_duplicate(session: Session, case_number: str, field: str) -> None:
    exists = session.scalar(select(func.count()).where(Patient.case_number == case_number))
    if exists:
        raise InvalidInputError(field, f"case {case_number!r} already exists")


def add_case(
    session: Session, data: Mapping[str, Any] | CaseIn | PatientIn, *, actor: str
) -> Patient:
    """Add a case: the patient and, in a case document, its assessments, procedures, ...

    Raises
    ------
    InvalidInputError
        For a field outside what is accepted, or a case number that exists already.
    """
    case = data if isinstance(data, CaseIn) else validate_input(CaseIn, _as_mapping(data))
    _refuse_duplicate(session, case.case_number, "case_number")
    patient = audited_insert(
        session, Patient(**case.model_dump(include=set(_PATIENT_FIELDS))), actor=actor
    )
    for assessment in case.assessments:
        _insert_assessment(session, patient, assessment, actor)
    procedures = [_insert_procedure(session, patient, p, actor) for p in case.procedures]
    for follow_up in case.follow_ups:
        _insert_follow_up(session, patient, follow_up, actor)
    for run in case.perfusion_runs:
        procedure = procedures[run.procedure_index] if run.procedure_index is not None else None
        _insert_run(session, patient, procedure, run, actor)
    return patient


def _as_mapping(data: Mapping[str, Any] | PatientIn) -> Mapping[str, Any]:
    return data.model_dump() if isinstance(data, PatientIn) else data


def update_case(
    session: Session, case_number: str, changes: Mapping[str, Any], *, actor: str
) -> Patient:
    """Change patient fields of a case (the case number included); audited.

    Raises
    ------
    InvalidInputError
        For an unknown field or a value outside what is accepted.
    """
    patient = get_case(session, case_number)
    unknown = sorted(set(changes) - set(_PATIENT_FIELDS))
    if unknown:
        raise InvalidInputError(
            unknown[0], f"is not a patient field; accepted: {', '.join(_PATIENT_FIELDS)}"
        )
    current = {field: getattr(patient, field) for field in _PATIENT_FIELDS}
    merged = validate_input(PatientIn, {**current, **changes})
    if merged.case_number != case_number:
        _refuse_duplicate(session, merged.case_number, "case_number")
    return audited_update(session, patient, merged.model_dump(include=set(changes)), actor=actor)


def delete_case(session: Session, case_number: str, *, actor: str) -> None:
    """Delete a case and everything recorded about it; the audit entry keeps the whole case."""
    patient = get_case(session, case_number)
    audited_delete(session, patient, actor=actor, before=case_to_dict(patient))


# --------------------------------------------------------------------------------------------
# Assessments, procedures, post-operative course, follow-up
# --------------------------------------------------------------------------------------------


def _insert_assessment(
    session: Session, patient: Patient, item: AssessmentIn, actor: str
) -> Assessment:
    row = Assessment(
        patient=patient,
        **item.model_dump(exclude={"pci_regions"}),
    )
    return audited_insert(session, row, actor=actor)


def add_assessment(
    session: Session, case_number: str, data: Mapping[str, Any] | AssessmentIn, *, actor: str
) -> Assessment:
    """Add a staging (PCI with its regions, source, optional candidacy decision) to a case."""
    item = validate_input(AssessmentIn, data)
    return _insert_assessment(session, get_case(session, case_number), item, actor)


def _insert_postop(
    session: Session, procedure: Procedure, item: PostopIn, actor: str
) -> PostopCourse:
    course = audited_insert(
        session,
        PostopCourse(procedure=procedure, **item.model_dump(exclude={"complications"})),
        actor=actor,
    )
    for complication in item.complications:
        audited_insert(
            session, Complication(postop=course, **complication.model_dump()), actor=actor
        )
    return course


def _insert_procedure(
    session: Session, patient: Patient, item: ProcedureIn, actor: str
) -> Procedure:
    procedure = audited_insert(
        session, Procedure(patient=patient, **item.model_dump(exclude={"postop"})), actor=actor
    )
    if item.postop is not None:
        _insert_postop(session, procedure, item.postop, actor)
    return procedure


def add_procedure(
    session: Session, case_number: str, data: Mapping[str, Any] | ProcedureIn, *, actor: str
) -> Procedure:
    """Add a procedure (and its post-operative course if the input has ``postop``)."""
    item = validate_input(ProcedureIn, data)
    return _insert_procedure(session, get_case(session, case_number), item, actor)


def get_procedure(session: Session, procedure_id: int) -> Procedure:
    """The procedure with id ``procedure_id`` (NotFoundError field ``procedure`` if none)."""
    procedure = session.get(Procedure, procedure_id)
    if procedure is None:
        raise NotFoundError("procedure", f"no procedure with id {procedure_id}")
    return procedure


def set_postop_course(
    session: Session, procedure_id: int, data: Mapping[str, Any] | PostopIn, *, actor: str
) -> PostopCourse:
    """Record (or replace) the post-operative course of a procedure."""
    item = validate_input(PostopIn, data)
    procedure = get_procedure(session, procedure_id)
    if procedure.postop is not None:
        old = procedure.postop
        before = {**snapshot(old), "complications": [snapshot(c) for c in old.complications]}
        audited_delete(session, old, actor=actor, before=before)
        session.refresh(procedure)
    return _insert_postop(session, procedure, item, actor)


def _insert_follow_up(session: Session, patient: Patient, item: FollowUpIn, actor: str) -> FollowUp:
    return audited_insert(session, FollowUp(patient=patient, **item.model_dump()), actor=actor)


def add_follow_up(
    session: Session, case_number: str, data: Mapping[str, Any] | FollowUpIn, *, actor: str
) -> FollowUp:
    """Add a follow-up visit to a case."""
    item = validate_input(FollowUpIn, data)
    return _insert_follow_up(session, get_case(session, case_number), item, actor)


# --------------------------------------------------------------------------------------------
# Perfusion runs (import form; live runs go through hipec.store.recorder.RunRecorder)
# --------------------------------------------------------------------------------------------


def _insert_run(
    session: Session,
    patient: Patient,
    procedure: Procedure | None,
    item: PerfusionRunIn,
    actor: str,
) -> PerfusionRun:
    fields = item.model_dump(exclude={"procedure_index", "samples", "events", "alarms", "doses"})
    count = len(item.samples.get("seq", []))
    run = audited_insert(
        session,
        PerfusionRun(patient=patient, procedure=procedure, sample_count=count, **fields),
        actor=actor,
    )
    for event in item.events:
        session.add(RunEvent(run_id=run.id, **event.model_dump()))
    for alarm in item.alarms:
        session.add(RunAlarm(run_id=run.id, **alarm.model_dump()))
    for dose in item.doses:
        session.add(RunDose(run_id=run.id, **dose.model_dump()))
    if count:
        columns = [name for name in SAMPLE_COLUMNS if name != "run_id"]
        rows = [
            {"run_id": run.id, **{name: item.samples[name][i] for name in columns}}
            for i in range(count)
        ]
        session.execute(insert(run_samples), rows)
    session.flush()
    return run


def run_samples_columns(session: Session, run_id: int) -> dict[str, list[Any]]:
    """The samples of a run, column-wise (``{"seq": [...], "time_s": [...], ...}``), by seq."""
    columns = [c for c in run_samples.columns if c.name != "run_id"]
    result: dict[str, list[Any]] = {c.name: [] for c in columns}
    query = select(*columns).where(run_samples.c.run_id == run_id).order_by(run_samples.c.seq)
    for row in session.execute(query):
        for column, value in zip(columns, row, strict=True):
            result[column.name].append(value)
    return result


# --------------------------------------------------------------------------------------------
# Case documents (show, export)
# --------------------------------------------------------------------------------------------


def _clean(row_dict: dict[str, Any], drop: Sequence[str]) -> dict[str, Any]:
    return {key: value for key, value in row_dict.items() if key not in drop}


def _postop_dict(course: PostopCourse) -> dict[str, Any]:
    result = _clean(snapshot(course), ("id", "procedure_id"))
    result["complications"] = [
        _clean(snapshot(c), ("id", "postop_id")) for c in course.complications
    ]
    return result


def comprehensive_complication_index_of(course: PostopCourse) -> float:
    """The course's Comprehensive Complication Index [points] (0 without complications)."""
    return comprehensive_complication_index([c.clavien_dindo for c in course.complications])


def run_to_dict(
    session: Session | None,
    run: PerfusionRun,
    procedures: Sequence[Procedure],
    *,
    samples: bool,
) -> dict[str, Any]:
    """A run in export form; with ``samples`` (and a session) its samples column-wise."""
    result = _clean(snapshot(run), ("id", "patient_id", "procedure_id", "sample_count"))
    result["procedure_index"] = (
        next(i for i, p in enumerate(procedures) if p.id == run.procedure_id)
        if run.procedure_id is not None
        else None
    )
    result["events"] = [_clean(snapshot(e), ("id", "run_id")) for e in run.events]
    result["alarms"] = [_clean(snapshot(a), ("id", "run_id")) for a in run.alarms]
    result["doses"] = [_clean(snapshot(d), ("id", "run_id")) for d in run.doses]
    if samples:
        assert session is not None, "samples need a session"
        result["samples"] = run_samples_columns(session, run.id) if run.sample_count else {}
    return result


def case_to_dict(
    patient: Patient, *, session: Session | None = None, samples: bool = False
) -> dict[str, Any]:
    """The whole case as a document :class:`~hipec.store.schemas.CaseIn` reads back.

    Without ``samples`` the perfusion runs carry their summary, events, alarms and doses only.
    """
    result: dict[str, Any] = {field: jsonable(getattr(patient, field)) for field in _PATIENT_FIELDS}
    result["assessments"] = [
        _clean(snapshot(a), ("id", "patient_id", "pci_regions")) for a in patient.assessments
    ]
    procedures = list(patient.procedures)
    result["procedures"] = []
    for procedure in procedures:
        item = _clean(snapshot(procedure), ("id", "patient_id"))
        item["postop"] = _postop_dict(procedure.postop) if procedure.postop else None
        result["procedures"].append(item)
    result["follow_ups"] = [_clean(snapshot(f), ("id", "patient_id")) for f in patient.follow_ups]
    result["perfusion_runs"] = [
        run_to_dict(session, run, procedures, samples=samples) for run in patient.runs
    ]
    return result


def case_summary(patient: Patient) -> dict[str, Any]:
    """One line of ``hipec cases list``: the case and its latest PCI, CC and run status."""
    latest_pci = patient.assessments[-1].pci if patient.assessments else None
    latest_cc = next(
        (p.cc_score for p in reversed(patient.procedures) if p.cc_score is not None), None
    )
    return {
        "case_number": patient.case_number,
        "sex": patient.sex,
        "birth_year": patient.birth_year,
        "primary_site": patient.primary_site,
        "primary_icd10": patient.primary_icd10,
        "latest_pci": latest_pci,
        "latest_cc_score": latest_cc,
        "procedures": len(patient.procedures),
        "perfusion_runs": len(patient.runs),
        "synthetic": patient.synthetic,
    }


def pci_of(assessment: Assessment) -> PciScore:
    """The assessment's PCI as the clinical type."""
    return PciScore(tuple(int(score) for score in assessment.lesion_size_scores))


def finite_or_none(value: float) -> float | None:
    """``value``, or None for nan/inf (how the store writes a channel without a value)."""
    return value if math.isfinite(value) else None
