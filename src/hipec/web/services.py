"""What the routes call: case queries and the orchestration of the clinical library.

No clinical rule lives here: PCI, candidacy and dose plans come from :mod:`hipec.clinical` and
:mod:`hipec.protocols`; records are written through :mod:`hipec.store.repository` (audited).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hipec.clinical.candidacy import (
    PRIMARY_SITES,
    assess,
    builtin_rule_sets,
    case_from_dict,
    load_rule_set,
)
from hipec.clinical.candidacy import (
    Assessment as CandidacyResult,
)
from hipec.clinical.pci import PciScore
from hipec.errors import InvalidInputError, NotFoundError
from hipec.protocols import get_regimen, list_regimens, plan_perfusion
from hipec.store.models import Assessment, Patient
from hipec.store.repository import add_assessment, get_case
from hipec.store.vocabulary import ASSESSMENT_SOURCES

DECISIONS = ("candidate", "needs team review", "not a candidate", "none")
SYNTHETIC_CHOICES = ("any", "yes", "no")

# --------------------------------------------------------------------------------------------
# The case list
# --------------------------------------------------------------------------------------------


def _optional_int(field: str, text: str | None, low: int, high: int) -> int | None:
    if text is None or not text.strip():
        return None
    word = text.strip()
    if not word.lstrip("-").isdecimal() or not low <= int(word) <= high:
        raise InvalidInputError(field, f"must be a whole number {low}-{high}, got {text!r}")
    return int(word)


@dataclass(frozen=True)
class CaseFilters:
    """Search and filters of the case list; empty means "any"."""

    q: str = ""
    site: str = ""
    pci_min: int | None = None
    pci_max: int | None = None
    decision: str = ""
    synthetic: str = "any"

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> CaseFilters:
        """From query parameters; InvalidInputError names a bad one."""
        site = params.get("site", "").strip()
        if site and site not in PRIMARY_SITES:
            raise InvalidInputError(
                "site", f"must be one of {', '.join(PRIMARY_SITES)}, got {site!r}"
            )
        decision = params.get("decision", "").strip()
        if decision and decision not in DECISIONS:
            raise InvalidInputError(
                "decision", f"must be one of {', '.join(DECISIONS)}, got {decision!r}"
            )
        synthetic = params.get("synthetic", "any").strip() or "any"
        if synthetic not in SYNTHETIC_CHOICES:
            raise InvalidInputError(
                "synthetic", f"must be one of {', '.join(SYNTHETIC_CHOICES)}, got {synthetic!r}"
            )
        pci_min = _optional_int("pci_min", params.get("pci_min"), 0, 39)
        pci_max = _optional_int("pci_max", params.get("pci_max"), 0, 39)
        if pci_min is not None and pci_max is not None and pci_min > pci_max:
            raise InvalidInputError(
                "pci_min", f"must not exceed pci_max ({pci_max}), got {pci_min}"
            )
        return cls(
            q=params.get("q", "").strip()[:100],
            site=site,
            pci_min=pci_min,
            pci_max=pci_max,
            decision=decision,
            synthetic=synthetic,
        )

    def to_params(self) -> dict[str, str]:
        """The filters as query parameters (only those set)."""
        values = {
            "q": self.q,
            "site": self.site,
            "pci_min": "" if self.pci_min is None else str(self.pci_min),
            "pci_max": "" if self.pci_max is None else str(self.pci_max),
            "decision": self.decision,
            "synthetic": "" if self.synthetic == "any" else self.synthetic,
        }
        return {key: value for key, value in values.items() if value}


def latest_decision(patient: Patient) -> Assessment | None:
    """The newest assessment that carries a candidacy decision."""
    return next((a for a in reversed(patient.assessments) if a.decision is not None), None)


def case_row(patient: Patient) -> dict[str, Any]:
    """One row of the case list."""
    latest = patient.assessments[-1] if patient.assessments else None
    decided = latest_decision(patient)
    latest_procedure = patient.procedures[-1] if patient.procedures else None
    return {
        "case_number": patient.case_number,
        "sex": patient.sex,
        "birth_year": patient.birth_year,
        "primary_site": patient.primary_site,
        "histology": patient.histology,
        "latest_pci": latest.pci if latest else None,
        "latest_pci_source": latest.source if latest else None,
        "decision": decided.decision if decided else None,
        "procedure_date": latest_procedure.performed_on.isoformat() if latest_procedure else None,
        "cc_score": latest_procedure.cc_score if latest_procedure else None,
        "perfusion_runs": len(patient.runs),
        "synthetic": patient.synthetic,
    }


def _matches(row: dict[str, Any], filters: CaseFilters) -> bool:
    if filters.q:
        needle = filters.q.lower()
        haystack = " ".join(
            str(row[key] or "") for key in ("case_number", "histology", "primary_site")
        ).lower()
        if needle not in haystack:
            return False
    if filters.site and row["primary_site"] != filters.site:
        return False
    pci = row["latest_pci"]
    if filters.pci_min is not None and (pci is None or pci < filters.pci_min):
        return False
    if filters.pci_max is not None and (pci is None or pci > filters.pci_max):
        return False
    if filters.decision:
        wanted = None if filters.decision == "none" else filters.decision
        if row["decision"] != wanted:
            return False
    return filters.synthetic == "any" or row["synthetic"] == (filters.synthetic == "yes")


def find_cases(session: Session, filters: CaseFilters) -> list[dict[str, Any]]:
    """Rows of the cases that pass ``filters``, by case number."""
    query = (
        select(Patient)
        .order_by(Patient.case_number)
        .options(
            selectinload(Patient.assessments),
            selectinload(Patient.procedures),
            selectinload(Patient.runs),
        )
    )
    rows = [case_row(patient) for patient in session.scalars(query)]
    return [row for row in rows if _matches(row, filters)]


# --------------------------------------------------------------------------------------------
# Assessments
# --------------------------------------------------------------------------------------------


def get_assessment(patient: Patient, assessment_id: int) -> Assessment:
    """The assessment ``assessment_id`` of ``patient`` (NotFoundError otherwise)."""
    for assessment in patient.assessments:
        if assessment.id == assessment_id:
            return assessment
    raise NotFoundError(
        "assessment", f"case {patient.case_number} has no assessment {assessment_id}"
    )


def assessment_dict(assessment: Assessment) -> dict[str, Any]:
    """An assessment in JSON form, with its id and region names."""
    score = PciScore(tuple(int(s) for s in assessment.lesion_size_scores))
    return {
        "id": assessment.id,
        "assessed_on": assessment.assessed_on.isoformat(),
        "source": assessment.source,
        **score.to_dict(),
        "lesion_size_scores": list(score.lesion_size_scores),
        "decision": assessment.decision,
        "rule_set": assessment.rule_set,
        "reasons": assessment.reasons,
        "notes": assessment.notes,
    }


def save_pci(
    session: Session, case_number: str, data: Mapping[str, Any], *, actor: str
) -> Assessment:
    """Save a PCI staging (date, source, 13 lesion size scores, notes) as an assessment."""
    allowed = {"assessed_on", "source", "lesion_size_scores", "notes"}
    return add_assessment(
        session, case_number, {k: v for k, v in data.items() if k in allowed}, actor=actor
    )


def patient_age_years(patient: Patient, on: dt.date) -> int:
    """Age in whole years on ``on`` from the birth year (the record keeps no birth date)."""
    return on.year - patient.birth_year


def candidacy_defaults(patient: Patient, on: dt.date) -> dict[str, Any]:
    """What the record already says about a candidacy case: site, histology, age, BMI, PCI."""
    defaults: dict[str, Any] = {
        "age_years": patient_age_years(patient, on),
        "bmi_kg_per_m2": None,
    }
    if patient.height_cm and patient.weight_kg:
        defaults["bmi_kg_per_m2"] = round(patient.weight_kg / (patient.height_cm / 100) ** 2, 1)
    latest = patient.assessments[-1] if patient.assessments else None
    defaults["lesion_size_scores"] = list(latest.lesion_size_scores) if latest else None
    return defaults


def check_rule_set(name: str) -> str:
    """``name`` if it is a built-in rule set (the console never reads rule files by path)."""
    names = builtin_rule_sets()
    if name not in names:
        raise InvalidInputError("rule_set", f"must be one of {', '.join(names)}, got {name!r}")
    return name


def check_source(source: str) -> str:
    """``source`` if it is an assessment source."""
    if source not in ASSESSMENT_SOURCES:
        raise InvalidInputError(
            "source", f"must be one of {', '.join(ASSESSMENT_SOURCES)}, got {source!r}"
        )
    return source


def evaluate_and_save_candidacy(
    session: Session,
    case_number: str,
    *,
    rule_set: str,
    assessed_on: dt.date,
    source: str,
    lesion_size_scores: list[int] | None,
    clinical: Mapping[str, Any],
    notes: str | None,
    actor: str,
) -> tuple[CandidacyResult, Assessment]:
    """Assess candidacy under a built-in rule set and save it as an assessment of the case.

    The primary site and histology come from the record; the PCI from ``lesion_size_scores``
    (default: the latest staging of the case); the rest from ``clinical`` (the fields of
    :class:`hipec.clinical.candidacy.CandidacyCase`; a missing one makes its rules ask for
    team review).
    """
    patient = get_case(session, case_number)
    check_rule_set(rule_set)
    check_source(source)
    scores = lesion_size_scores
    if scores is None:
        scores = candidacy_defaults(patient, assessed_on)["lesion_size_scores"]
    if scores is None:
        raise InvalidInputError(
            "lesion_size_scores", "this case has no PCI yet; stage it first (PCI editor)"
        )
    pci = PciScore(tuple(scores))
    forbidden = {"primary_site", "histology_type", "pci", "pci_regions", "case_id"} & set(clinical)
    if forbidden:
        raise InvalidInputError(
            sorted(forbidden)[0], "comes from the case record, not from the form"
        )
    document = {
        **{key: value for key, value in clinical.items() if value is not None},
        "case_id": patient.case_number,
        "primary_site": patient.primary_site,
        "histology_type": patient.histology_type,
        "pci": pci.total,
    }
    result = assess(case_from_dict(document, "clinical"), load_rule_set(rule_set))
    saved = add_assessment(
        session,
        case_number,
        {
            "assessed_on": assessed_on,
            "source": source,
            "lesion_size_scores": list(pci.lesion_size_scores),
            "decision": result.decision,
            "rule_set": result.rule_set,
            "reasons": [r.to_dict() for r in result.results],
            "notes": notes,
        },
        actor=actor,
    )
    return result, saved


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------


def regimen_choices() -> list[dict[str, Any]]:
    """Every regimen of the library: id, name, indication, techniques, citation."""
    return [
        {
            "id": r.id,
            "name": r.name,
            "indication": r.indication,
            "technique": r.technique,
            "techniques": list(r.techniques),
            "duration_min": r.duration_min,
            "citation": r.citation.short(),
        }
        for r in list_regimens()
    ]


def dose_plan(
    regimen_id: str,
    *,
    height_cm: float,
    weight_kg: float,
    bsa_formula: str = "mosteller",
    technique: str | None = None,
) -> dict[str, Any]:
    """``PerfusionPlan.to_dict()`` of a regimen for a patient (InvalidInputError if refused)."""
    try:
        regimen = get_regimen(regimen_id)
    except NotFoundError as exc:  # a field of the request, not a missing page: 422
        raise InvalidInputError("regimen", exc.message) from None
    plan = plan_perfusion(
        regimen,
        height_cm=height_cm,
        weight_kg=weight_kg,
        bsa_formula=bsa_formula,
        technique=technique or None,
    )
    return plan.to_dict()
