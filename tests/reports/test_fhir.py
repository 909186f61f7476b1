"""The FHIR export parses back with fhir.resources (R4B models) and carries what the issue asks."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import Engine

from casedata import case_document, reading
from hipec.protocols import get_regimen
from hipec.protocols.plan import plan_perfusion
from hipec.reports.fhir import PROFILE_SURGERY, case_bundle
from hipec.store.db import transaction
from hipec.store.recorder import RunRecorder
from hipec.store.repository import add_case, get_case


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_case_bundle_validates_and_has_every_resource(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(session, case_document(), actor="a")
        procedure_id = get_case(session, "T-001").procedures[0].id
    regimen = get_regimen("prodige7")
    plan = plan_perfusion(regimen, height_cm=165, weight_kg=62.5)
    recorder = RunRecorder(engine)
    recorder.start(
        "T-001", cavity_probe_regions=(0,), regimen=regimen, plan=plan, procedure_id=procedure_id
    )
    recorder.add_sample(reading(0.0, regions=(0,)))
    recorder.record_dose(plan.doses[0].drug, 700.0, 120.0)
    recorder.finish(perfusion_min=30.0)
    with transaction(engine) as session:
        bundle = case_bundle(get_case(session, "T-001"))

    parsed = Bundle.model_validate(json.loads(json.dumps(bundle)))
    assert parsed.type == "collection"
    patient = _resources(bundle, "Patient")[0]
    assert patient["birthDate"] == "1962" and "name" not in patient
    conditions = _resources(bundle, "Condition")
    codes = [[c["code"] for c in cond["code"]["coding"]] for cond in conditions]
    assert codes == [["C18.1"], ["836274002", "C78.6"]]
    procedures = _resources(bundle, "Procedure")
    assert len(procedures) == 2
    assert all(p["meta"]["profile"] == [PROFILE_SURGERY] for p in procedures)
    hipec = procedures[1]
    assert hipec["code"]["coding"][0]["code"] == "96547"
    assert (
        hipec["partOf"][0]["reference"]
        == bundle["entry"][
            next(i for i, e in enumerate(bundle["entry"]) if e["resource"] is procedures[0])
        ]["fullUrl"]
    )
    doses = _resources(bundle, "MedicationAdministration")
    assert len(doses) == 1 and doses[0]["dosage"]["dose"]["value"] == 700.0
    observations = _resources(bundle, "Observation")
    pci = next(o for o in observations if o["code"]["coding"][0]["code"] == "pci")
    assert pci["valueInteger"] == 6 and len(pci["component"]) == 13
    assert pci["component"][6]["valueInteger"] == 3
    cc = next(o for o in observations if o["code"]["coding"][0]["code"] == "cc-score")
    assert cc["valueInteger"] == 0
    urls = {e["fullUrl"] for e in bundle["entry"]}
    references = json.dumps(bundle).count('"reference": "urn:uuid:')
    assert references > 0 and all(
        ref in urls
        for ref in [r["reference"] for res in procedures for r in res["reasonReference"]]
    )


def test_a_peritoneal_primary_has_no_secondary_condition(engine: Engine) -> None:
    with transaction(engine) as session:
        add_case(
            session,
            case_document(
                "M-1",
                primary_site="mesothelioma",
                primary_icd10=None,
                histology_type="epithelioid-mesothelioma",
            ),
            actor="a",
        )
        bundle = case_bundle(get_case(session, "M-1"))
    Bundle.model_validate(bundle)
    conditions = _resources(bundle, "Condition")
    assert [c["code"]["coding"][0]["code"] for c in conditions] == ["C45.1"]
