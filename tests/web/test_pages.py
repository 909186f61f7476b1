"""The server-rendered pages: content, escaping, the no-script forms, refusals."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from webhelpers import DEMO_SEED, KNOWN_CASE, LiveServer, Session

from hipec.store.db import transaction
from hipec.store.models import Assessment, AuditEntry


def test_case_list_filters_and_labels_synthetic_cases(as_role: Callable[[str], Session]) -> None:
    viewer = as_role("viewer").client
    page = viewer.get("/cases").text
    assert KNOWN_CASE in page and f"SYN-{DEMO_SEED}-001" in page
    assert "synthetic</span>" in page
    only_real = viewer.get("/cases", params={"synthetic": "no"}).text
    assert KNOWN_CASE in only_real and f"SYN-{DEMO_SEED}-" not in only_real
    bad = viewer.get("/cases", params={"site": "<script>"})
    assert bad.status_code == 422
    assert "<script>" not in bad.text and "&lt;script&gt;" in bad.text


def test_case_page_escapes_record_text(as_role: Callable[[str], Session]) -> None:
    page = as_role("viewer").client.get(f"/cases/{KNOWN_CASE}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>not bold</b>" not in page
    for heading in ("Patient", "Assessments", "Procedures and outcomes", "Perfusion runs"):
        assert f">{heading}</h2>" in page


def test_viewer_sees_no_edit_actions_and_is_refused_the_editor(
    as_role: Callable[[str], Session],
) -> None:
    viewer = as_role("viewer").client
    page = viewer.get(f"/cases/{KNOWN_CASE}").text
    assert f"/cases/{KNOWN_CASE}/pci" not in page
    refused = viewer.get(f"/cases/{KNOWN_CASE}/pci")
    assert refused.status_code == 403
    assert "your role (viewer) does not allow this" in refused.text


def test_pci_form_without_script_saves_an_assessment(
    as_role: Callable[[str], Session], live: LiveServer
) -> None:
    surgeon = as_role("surgeon")
    form = {f"r{i}": "0" for i in range(13)} | {"r6": "3", "r0": "1"}
    response = surgeon.client.post(
        f"/cases/{KNOWN_CASE}/pci",
        data={
            **form,
            "assessed_on": "2026-03-01",
            "source": "laparotomy",
            "csrf_token": surgeon.csrf,
        },
    )
    assert response.status_code == 303
    target = response.headers["location"]
    assert re.fullmatch(rf"/cases/{KNOWN_CASE}/assessments/\d+", target)
    detail = surgeon.client.get(target).text
    assert '<span class="big-number">4</span>' in detail
    bad = surgeon.client.post(
        f"/cases/{KNOWN_CASE}/pci",
        data={
            **form,
            "r3": "7",
            "assessed_on": "2026-03-01",
            "source": "laparotomy",
            "csrf_token": surgeon.csrf,
        },
    )
    assert bad.status_code == 422 and "region 3 lesion size" in bad.text


def test_candidacy_form_shows_the_decision_with_its_reasons(
    as_role: Callable[[str], Session], live: LiveServer
) -> None:
    surgeon = as_role("surgeon")
    form = surgeon.client.get(f"/cases/{KNOWN_CASE}/candidacy")
    assert form.status_code == 200 and 'name="rule_set"' in form.text
    response = surgeon.client.post(
        f"/cases/{KNOWN_CASE}/candidacy",
        data={
            "csrf_token": surgeon.csrf,
            "rule_set": "prodige7",
            "assessed_on": "2026-03-02",
            "source": "imaging",
            "response_to_systemic_therapy": "progression",
            "extraperitoneal_disease": "none",
            "performance_status": "1",
        },
    )
    assert response.status_code == 303, response.text[:2000]
    page = surgeon.client.get(response.headers["location"]).text
    assert "decision-not-a-candidate" in page or "decision-needs-team-review" in page
    assert "reason-exclude" in page or "reason-review" in page
    with transaction(live.engine) as session:
        saved = session.scalar(select(Assessment).order_by(Assessment.id.desc()))
        assert saved is not None and saved.rule_set == "prodige7" and saved.reasons
        actors = {
            e.actor
            for e in session.scalars(select(AuditEntry))
            if e.table_name == "assessments" and e.row_id == str(saved.id)
        }
    assert actors == {"surgeon"}


def test_candidacy_form_refusal_keeps_the_values(as_role: Callable[[str], Session]) -> None:
    surgeon = as_role("surgeon")
    response = surgeon.client.post(
        f"/cases/{KNOWN_CASE}/candidacy",
        data={
            "csrf_token": surgeon.csrf,
            "assessed_on": "2026-03-02",
            "source": "imaging",
            "albumin_g_per_l": "abc",
        },
    )
    assert response.status_code == 422
    assert "albumin_g_per_l" in response.text and 'value="abc"' in response.text


def test_plan_outcomes_and_users_pages(as_role: Callable[[str], Session]) -> None:
    viewer = as_role("viewer").client
    plan = viewer.get(f"/cases/{KNOWN_CASE}/plan").text
    assert 'id="regimen-data"' in plan and "dutch-mmc" in plan and 'value="168.0"' in plan
    outcomes = viewer.get("/outcomes").text
    assert "30-day mortality" in outcomes and "JAMA Netw Open 2019" in outcomes
    assert '<script src="/vendor/plotly.min.js"' in outcomes
    assert viewer.get("/admin/users").status_code == 403
    admin = as_role("admin").client
    users = admin.get("/admin/users").text
    assert "perfusionist" in users and "argon2" not in users


def test_plotly_is_served_from_the_installed_package(live: LiveServer) -> None:
    import httpx
    import plotly

    response = httpx.get(f"{live.base_url}/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "plotly.js v" in response.text[:200]
    assert plotly.__version__
