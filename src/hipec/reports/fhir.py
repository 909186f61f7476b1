"""One case as a FHIR R4 Bundle (type ``collection``), following mCODE where a profile fits.

Resources
---------
- ``Patient``: pseudonymous; identifier = the case number, birth date = the birth year only.
- ``Condition`` for the primary tumour (mCODE PrimaryCancerCondition; ICD-10-CM code) and for the
  secondary malignancy of the peritoneum (mCODE SecondaryCancerCondition; SNOMED CT 836274002
  "carcinomatosis of peritoneum" per the hipec domain brief, *not verified* against a SNOMED
  release, with ICD-10-CM C78.6). A peritoneal primary (mesothelioma) has no secondary condition.
- ``Procedure`` per cytoreductive surgery and per perfusion run (mCODE
  CancerRelatedSurgicalProcedure; category SNOMED CT 387713003 surgical procedure; the HIPEC
  procedure coded CPT 96547; CRS carries a local code since hipec has no verified code for it).
- ``MedicationAdministration`` per dose given (mCODE CancerRelatedMedicationAdministration), its
  time = run start + the dose's device time.
- ``Observation`` for each PCI (a component per region; a local code system, since no LOINC code
  for the PCI exists) and for each CC score.

References between entries use ``urn:uuid:`` full URLs derived from the case number, so the same
case always exports the same bundle. The bundle validates against the R4B models of
``fhir.resources`` in the tests (R4B leaves these five resources as in R4).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hipec.clinical.cytoreduction import CC_DESCRIPTIONS
from hipec.clinical.pci import PCI_REGIONS
from hipec.reports.coding import (
    CPT_CODES,
    HIPEC_FIRST_CODE,
    ICD10_CODES,
    PERITONEAL_PRIMARY_SITES,
    SECONDARY_PERITONEUM_CODE,
    diagnosis_codes,
)
from hipec.store.models import Patient, PerfusionRun, Procedure
from hipec.store.vocabulary import RESECTIONS

SNOMED = "http://snomed.info/sct"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
#: hipec's own code system for what no standard terminology codes (PCI, CC score, CRS).
HIPEC_CODE_SYSTEM = "http://hipec.example.org/fhir/CodeSystem/hipec"
CASE_NUMBER_SYSTEM = "http://hipec.example.org/fhir/NamingSystem/case-number"

_MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PROFILE_PRIMARY = _MCODE + "mcode-primary-cancer-condition"
PROFILE_SECONDARY = _MCODE + "mcode-secondary-cancer-condition"
PROFILE_SURGERY = _MCODE + "mcode-cancer-related-surgical-procedure"
PROFILE_MEDICATION = _MCODE + "mcode-cancer-related-medication-administration"

#: Codes not checked against their terminology's release; carried as configuration, marked here.
UNVERIFIED_CODES: dict[str, dict[str, Any]] = {
    "carcinomatosis_of_peritoneum": {
        "system": SNOMED,
        "code": "836274002",
        "display": "Carcinomatosis of peritoneum",
        "source": "hipec domain brief section 6 (mCODE SecondaryCancerCondition)",
        "verified": False,
    },
    "intraperitoneal_route": {
        "system": SNOMED,
        "code": "38239002",
        "display": "Intraperitoneal route",
        "source": "SNOMED CT route of administration hierarchy (not checked by hipec)",
        "verified": False,
    },
}
SURGICAL_PROCEDURE_CATEGORY = {
    "system": SNOMED,
    "code": "387713003",
    "display": "Surgical procedure",
}

_RUN_STATUS = {
    "running": "in-progress",
    "completed": "completed",
    "aborted": "stopped",
    "interrupted": "stopped",
}


def _coding(entry: dict[str, Any]) -> dict[str, Any]:
    return {"system": entry["system"], "code": entry["code"], "display": entry["display"]}


def _urn(case_number: str, *parts: object) -> str:
    name = "/".join(str(part) for part in (case_number, *parts))
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'hipec:' + name)}"


def _ref(url: str) -> dict[str, str]:
    return {"reference": url}


def _local(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": HIPEC_CODE_SYSTEM, "code": code, "display": display}]}


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _period(start: dt.datetime | None, end: dt.datetime | None) -> dict[str, str]:
    period: dict[str, str] = {}
    if start is not None:
        period["start"] = _instant(start)
    if end is not None:
        period["end"] = _instant(end)
    return period


def _patient(patient: Patient, url: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": CASE_NUMBER_SYSTEM, "value": patient.case_number}],
        "gender": patient.sex,
        "birthDate": f"{patient.birth_year:04d}",
        "meta": {"tag": [{"system": HIPEC_CODE_SYSTEM, "code": "synthetic"}]}
        if patient.synthetic
        else {},
    }


def _conditions(patient: Patient, subject: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    entries: list[tuple[str, dict[str, Any]]] = []
    codes = diagnosis_codes(patient.primary_site, patient.primary_icd10)
    primary = next((c for c in codes if c.code != SECONDARY_PERITONEUM_CODE), None)
    if primary is not None:
        entries.append(
            (
                _urn(patient.case_number, "condition", "primary"),
                {
                    "resourceType": "Condition",
                    "meta": {"profile": [PROFILE_PRIMARY]},
                    "code": {
                        "coding": [
                            {
                                "system": ICD10_CM,
                                "code": primary.code,
                                "display": primary.description,
                            }
                        ],
                        "text": patient.histology or f"Primary tumour: {patient.primary_site}",
                    },
                    "subject": subject,
                },
            )
        )
    if patient.primary_site not in PERITONEAL_PRIMARY_SITES and any(
        c.code == SECONDARY_PERITONEUM_CODE for c in codes
    ):
        icd = ICD10_CODES[SECONDARY_PERITONEUM_CODE]
        entries.append(
            (
                _urn(patient.case_number, "condition", "secondary"),
                {
                    "resourceType": "Condition",
                    "meta": {"profile": [PROFILE_SECONDARY]},
                    "code": {
                        "coding": [
                            _coding(UNVERIFIED_CODES["carcinomatosis_of_peritoneum"]),
                            {"system": ICD10_CM, "code": icd.code, "display": icd.description},
                        ],
                        "text": "Secondary malignancy of the peritoneum",
                    },
                    "subject": subject,
                },
            )
        )
    return entries


def _crs(
    procedure: Procedure, subject: dict[str, str], reasons: list[dict[str, str]]
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "meta": {"profile": [PROFILE_SURGERY]},
        "status": "completed",
        "category": {"coding": [SURGICAL_PROCEDURE_CATEGORY]},
        "code": {**_local("crs", "Cytoreductive surgery"), "text": "Cytoreductive surgery"},
        "subject": subject,
        "reasonReference": reasons,
    }
    period = _period(procedure.crs_start, procedure.crs_end)
    if period:
        resource["performedPeriod"] = period
    else:
        resource["performedDateTime"] = procedure.performed_on.isoformat()
    if procedure.resections:
        resource["note"] = [
            {"text": "Resections: " + "; ".join(RESECTIONS[c].label for c in procedure.resections)}
        ]
    if procedure.cc_score is not None:
        resource["outcome"] = {
            "text": f"CC-{procedure.cc_score}: {CC_DESCRIPTIONS[procedure.cc_score]}"
        }
    return resource


def _hipec(
    run: PerfusionRun, subject: dict[str, str], reasons: list[dict[str, str]], crs_url: str | None
) -> dict[str, Any]:
    entry = CPT_CODES[HIPEC_FIRST_CODE]
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "meta": {"profile": [PROFILE_SURGERY]},
        "status": _RUN_STATUS[run.status],
        "category": {"coding": [SURGICAL_PROCEDURE_CATEGORY]},
        "code": {
            "coding": [{"system": CPT, "code": entry.code, "display": entry.description}],
            "text": "Hyperthermic intraperitoneal chemotherapy (HIPEC)"
            + (f", regimen {run.regimen_id}" if run.regimen_id else ""),
        },
        "subject": subject,
        "reasonReference": reasons,
        "performedPeriod": _period(run.started_at, run.ended_at),
    }
    if crs_url is not None:
        resource["partOf"] = [_ref(crs_url)]
    if run.status in ("aborted", "interrupted"):
        resource["statusReason"] = {"text": run.end_reason or f"perfusion {run.status}"}
    return resource


def _pci_observation(assessment: Any, subject: dict[str, str]) -> dict[str, Any]:
    scores = [int(s) for s in assessment.lesion_size_scores]
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {**_local("pci", "Peritoneal Cancer Index"), "text": "Peritoneal Cancer Index"},
        "subject": subject,
        "effectiveDateTime": assessment.assessed_on.isoformat(),
        "method": {"text": assessment.source},
        "valueInteger": int(assessment.pci),
        "component": [
            {
                "code": _local(
                    f"pci-region-{region.index}", f"PCI region {region.index} {region.name}"
                ),
                "valueInteger": score,
            }
            for region, score in zip(PCI_REGIONS, scores, strict=True)
        ],
    }


def case_bundle(patient: Patient) -> dict[str, Any]:
    """The case as a FHIR R4 ``Bundle`` (JSON-ready dict)."""
    case = patient.case_number
    patient_url = _urn(case, "patient")
    subject = _ref(patient_url)
    entries: list[tuple[str, dict[str, Any]]] = [(patient_url, _patient(patient, patient_url))]
    conditions = _conditions(patient, subject)
    entries += conditions
    reasons = [_ref(url) for url, _ in conditions]
    for assessment in patient.assessments:
        entries.append((_urn(case, "pci", assessment.id), _pci_observation(assessment, subject)))
    crs_urls: dict[int, str] = {}
    for procedure in patient.procedures:
        url = _urn(case, "procedure", procedure.id)
        crs_urls[procedure.id] = url
        entries.append((url, _crs(procedure, subject, reasons)))
        if procedure.cc_score is not None:
            entries.append(
                (
                    _urn(case, "cc", procedure.id),
                    {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {
                            **_local("cc-score", "Completeness of cytoreduction score"),
                            "text": "Completeness of cytoreduction (CC) score",
                        },
                        "subject": subject,
                        "effectiveDateTime": procedure.performed_on.isoformat(),
                        "partOf": [_ref(url)],
                        "valueInteger": procedure.cc_score,
                    },
                )
            )
    for run in patient.runs:
        run_url = _urn(case, "run", run.id)
        crs_url = crs_urls.get(run.procedure_id) if run.procedure_id is not None else None
        entries.append((run_url, _hipec(run, subject, reasons, crs_url)))
        for dose in run.doses:
            if dose.given_mg is None:
                continue
            given = run.started_at + dt.timedelta(seconds=dose.given_at_s or 0.0)
            entries.append(
                (
                    _urn(case, "dose", dose.id),
                    {
                        "resourceType": "MedicationAdministration",
                        "meta": {"profile": [PROFILE_MEDICATION]},
                        "status": "completed",
                        "medicationCodeableConcept": {"text": dose.drug},
                        "subject": subject,
                        "effectiveDateTime": _instant(given),
                        "partOf": [_ref(run_url)],
                        "reasonReference": reasons,
                        "dosage": {
                            "route": {
                                "coding": [_coding(UNVERIFIED_CODES["intraperitoneal_route"])],
                                "text": dose.route,
                            },
                            "dose": {
                                "value": round(float(dose.given_mg), 3),
                                "unit": "mg",
                                "system": UCUM,
                                "code": "mg",
                            },
                        },
                    },
                )
            )
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(dt.datetime.now(dt.UTC)),
        "entry": [
            {"fullUrl": url, "resource": {k: v for k, v in resource.items() if v != {}}}
            for url, resource in entries
        ],
    }
