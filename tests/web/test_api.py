"""The JSON API through a real server: records, plans, candidacy, errors, audit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from webhelpers import DEMO_CASES, KNOWN_CASE, LiveServer, Session

from hipec.clinical.pci import PciScore
from hipec.protocols import get_regimen, plan_perfusion
from hipec.store.db import transaction
from hipec.store.models import AuditEntry
from hipec.store.repository import get_case

PCI_SCORES = [3, 2, 1, 0, 0, 1, 2, 3, 0, 1, 0, 0, 2]


def test_me_names_the_role_and_its_permissions(as_role: Callable[[str], Session]) -> None:
    body = as_role("perfusionist").client.get("/api/me").json()
    assert body == {
        "username": "perfusionist",
        "role": "perfusionist",
        "permissions": ["read", "edit-records", "run-perfusion"],
    }


def test_save_a_pci_assessment_audited_with_the_user(
    as_role: Callable[[str], Session], live: LiveServer
) -> None:
    surgeon = as_role("surgeon")
    response = surgeon.post_json(
        f"/api/cases/{KNOWN_CASE}/assessments",
        {"assessed_on": "2026-02-01", "source": "laparoscopy", "lesion_size_scores": PCI_SCORES},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["pci"] == PciScore(tuple(PCI_SCORES)).total == 15
    assert body["regions"][6] == {"index": 6, "name": "Pelvis", "lesion_size_score": 2}
    assert body["url"] == f"/cases/{KNOWN_CASE}/assessments/{body['id']}"
    with transaction(live.engine) as session:
        assert get_case(session, KNOWN_CASE).assessments[-1].pci == 15
        entry = session.scalar(
            select(AuditEntry).where(
                AuditEntry.table_name == "assessments", AuditEntry.row_id == str(body["id"])
            )
        )
        assert entry is not None and entry.actor == "surgeon" and entry.action == "insert"


@pytest.mark.parametrize(
    ("scores", "loc"),
    [
        (PCI_SCORES[:12], ["body", "lesion_size_scores"]),
        ([*PCI_SCORES[:12], 4], ["body", "lesion_size_scores", 12]),
    ],
)
def test_bad_pci_is_422_with_the_field(
    as_role: Callable[[str], Session], scores: list[int], loc: list[object]
) -> None:
    response = as_role("surgeon").post_json(
        f"/api/cases/{KNOWN_CASE}/assessments",
        {"assessed_on": "2026-02-01", "source": "imaging", "lesion_size_scores": scores},
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert error["msg"]


def test_unknown_fields_and_sources_are_refused(as_role: Callable[[str], Session]) -> None:
    surgeon = as_role("surgeon")
    response = surgeon.post_json(
        f"/api/cases/{KNOWN_CASE}/assessments",
        {
            "assessed_on": "2026-02-01",
            "source": "palpation",
            "lesion_size_scores": PCI_SCORES,
            "decision": "candidate",
        },
    )
    assert response.status_code == 422
    locs = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert ("body", "source") in locs and ("body", "decision") in locs


def test_unknown_case_is_404(as_role: Callable[[str], Session]) -> None:
    viewer = as_role("viewer")
    response = viewer.client.get("/api/cases/NO-SUCH-CASE")
    assert response.status_code == 404
    assert response.json()["detail"][0]["loc"] == ["case"]


def test_plan_matches_the_library(as_role: Callable[[str], Session]) -> None:
    response = as_role("viewer").post_json(
        "/api/plan", {"regimen": "dutch-mmc", "height_cm": 170, "weight_kg": 70}
    )
    assert response.status_code == 200, response.text
    expected = plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70).to_dict()
    assert response.json() == expected
    assert [d["mg"] for d in response.json()["doses"]] == [31.8, 15.9, 15.9]


@pytest.mark.parametrize(
    ("body", "loc", "text"),
    [
        ({"regimen": "no-such", "height_cm": 170, "weight_kg": 70}, ["regimen"], "no-such"),
        ({"regimen": "dutch-mmc", "height_cm": 20, "weight_kg": 70}, ["height_cm"], "100-250"),
        (
            {"regimen": "dutch-mmc", "height_cm": 170, "weight_kg": 70, "technique": "closed"},
            ["technique"],
            "open",
        ),
        ({"regimen": "dutch-mmc", "height_cm": 170}, ["body", "weight_kg"], "required"),
    ],
)
def test_plan_errors_are_422_naming_the_field(
    as_role: Callable[[str], Session], body: dict[str, object], loc: list[str], text: str
) -> None:
    response = as_role("surgeon").post_json("/api/plan", body)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert text.lower() in error["msg"].lower()


def test_candidacy_assessment_saves_the_decision_and_every_reason(
    as_role: Callable[[str], Session], live: LiveServer
) -> None:
    response = as_role("perfusionist").post_json(
        f"/api/cases/{KNOWN_CASE}/candidacy",
        {
            "rule_set": "default",
            "assessed_on": "2026-02-02",
            "source": "imaging",
            "clinical": {
                "extraperitoneal_disease": [],
                "response_to_systemic_therapy": "response",
                "performance_status": 0,
                "egfr_ml_min_1_73m2": 90,
                "bilirubin_umol_per_l": 8,
                "significant_comorbidities": [],
                "albumin_g_per_l": 40,
                "weight_loss_percent_6_months": 2,
                "bmi_kg_per_m2": 22.7,
                "anticipated_cc": 0,
                "age_years": 58,
            },
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["decision"] == "candidate"
    assert body["rule_set"] == "default"
    assert body["assessment"]["decision"] == "candidate"
    assert len(body["assessment"]["reasons"]) == len(body["reasons"]) > 5
    assert body["case"]["pci"] == body["assessment"]["pci"]


def test_candidacy_refusals_name_the_field(as_role: Callable[[str], Session]) -> None:
    surgeon = as_role("surgeon")
    base = {"assessed_on": "2026-02-02", "source": "imaging"}
    cases = [
        ({**base, "rule_set": "../../etc/passwd"}, ["rule_set"]),
        ({**base, "clinical": {"performance_status": 9}}, ["clinical", "performance_status"]),
        ({**base, "clinical": {"primary_site": "gastric"}}, ["primary_site"]),
    ]
    for body, loc in cases:
        response = surgeon.post_json(f"/api/cases/{KNOWN_CASE}/candidacy", body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == loc


def test_case_filters(as_role: Callable[[str], Session]) -> None:
    viewer = as_role("viewer").client
    everything = viewer.get("/api/cases").json()
    assert len(everything) >= DEMO_CASES + 1
    synthetic = viewer.get("/api/cases", params={"synthetic": "yes"}).json()
    assert len(synthetic) == DEMO_CASES and all(row["synthetic"] for row in synthetic)
    real = viewer.get("/api/cases", params={"synthetic": "no"}).json()
    assert KNOWN_CASE in [row["case_number"] for row in real]
    ranged = viewer.get("/api/cases", params={"pci_min": 5, "pci_max": 12}).json()
    assert all(5 <= row["latest_pci"] <= 12 for row in ranged)
    site = viewer.get("/api/cases", params={"site": "colorectal"}).json()
    assert site and all(row["primary_site"] == "colorectal" for row in site)
    searched = viewer.get("/api/cases", params={"q": "sigmoid"}).json()
    assert [row["case_number"] for row in searched] == [KNOWN_CASE]
    for decision in ("candidate", "none"):
        rows = viewer.get("/api/cases", params={"decision": decision}).json()
        expected = None if decision == "none" else decision
        assert all(row["decision"] == expected for row in rows)
    bad = viewer.get("/api/cases", params={"pci_min": "40"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["pci_min"]


def test_openapi_schema_lists_the_api(as_role: Callable[[str], Session]) -> None:
    schema = as_role("viewer").client.get("/api/openapi.json").json()
    assert "/api/plan" in schema["paths"]
    assert "/api/cases/{case_number}/assessments" in schema["paths"]


def test_outcomes_api(as_role: Callable[[str], Session]) -> None:
    body = as_role("viewer").client.get("/api/outcomes", params={"synthetic": True}).json()
    assert body["courses"] <= body["procedures"] <= DEMO_CASES
    assert {b["measure"] for b in body["benchmarks"]} >= {
        "major_complication_rate",
        "mortality_30d",
    }


def test_admin_manages_accounts_without_ever_showing_a_hash(
    fresh_live: Callable[..., LiveServer],
) -> None:
    from webhelpers import logged_in

    server = fresh_live()
    admin = logged_in(server, "admin")
    created = admin.post_json(
        "/api/users", {"username": "nurse1", "role": "viewer", "password": "a-long-password"}
    )
    assert created.status_code == 201, created.text
    listing = admin.client.get("/api/users")
    assert "argon2" not in listing.text and "password" not in listing.text
    assert {"nurse1", "admin"} <= {u["username"] for u in listing.json()}
    nurse = Session(server.base_url)
    assert nurse.login("nurse1", "a-long-password").status_code == 303
    assert nurse.client.get("/api/me").json()["role"] == "viewer"
    weak = admin.post_json("/api/users", {"username": "x2", "role": "viewer", "password": "short"})
    assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["password"]
    self_demote = admin.client.patch(
        "/api/users/admin", json={"role": "viewer"}, headers={"X-CSRF-Token": admin.csrf}
    )
    assert self_demote.status_code == 403
    disabled = admin.client.patch(
        "/api/users/nurse1", json={"active": False}, headers={"X-CSRF-Token": admin.csrf}
    )
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert nurse.client.get("/api/me").status_code == 401
    assert Session(server.base_url).login("nurse1", "a-long-password").status_code == 401
    with transaction(server.engine) as session:
        entries = [e for e in session.scalars(select(AuditEntry)) if e.table_name == "users"]
    assert {e.actor for e in entries if e.after and e.after.get("username") == "nurse1"} == {
        "admin"
    }
    assert all("password_hash" not in (e.after or {}) for e in entries)
    admin.close()
    nurse.close()
