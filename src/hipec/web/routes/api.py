"""The JSON API under ``/api`` (OpenAPI schema at ``/api/openapi.json``, behind login).

Authentication is the session cookie of the pages; every state-changing request needs the
session's CSRF token in ``X-CSRF-Token``. Errors: 401 (no session), 403 (role or CSRF),
404 (unknown case), 422 ``{"detail": [{"loc", "msg", "type"}]}`` (input).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from hipec.clinical.candidacy import builtin_rule_sets, load_rule_set
from hipec.store.repository import case_to_dict, get_case
from hipec.store.users import ActiveSession, add_user, list_users, update_user, user_to_dict
from hipec.web import services
from hipec.web.deps import (
    Forbidden,
    require_edit_records,
    require_manage_users,
    require_read,
    unit_of_work,
)
from hipec.web.outcomes import programme_outcomes
from hipec.web.permissions import permissions_of
from hipec.web.schemas import (
    CandidacyBody,
    NewUserBody,
    PciAssessmentBody,
    PlanBody,
    UserChangeBody,
)

router = APIRouter(tags=["api"])

Reader = Annotated[ActiveSession, Depends(require_read)]
Editor = Annotated[ActiveSession, Depends(require_edit_records)]
Admin = Annotated[ActiveSession, Depends(require_manage_users)]


@router.get("/openapi.json", include_in_schema=False)
def openapi_schema(request: Request, user: Reader) -> JSONResponse:
    """The OpenAPI schema of the console."""
    app = request.app
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    return JSONResponse(schema)


@router.get("/me")
def me(user: Reader) -> dict[str, Any]:
    """Who is logged in, with which role and permissions."""
    return {"username": user.username, "role": user.role, "permissions": permissions_of(user.role)}


@router.get("/cases")
def cases(
    request: Request,
    user: Reader,
    q: str = "",
    site: str = "",
    pci_min: str = "",
    pci_max: str = "",
    decision: str = "",
    synthetic: str = "any",
) -> list[dict[str, Any]]:
    """Cases matching the filters (search in case number, histology and site)."""
    params = {
        "q": q,
        "site": site,
        "pci_min": pci_min,
        "pci_max": pci_max,
        "decision": decision,
        "synthetic": synthetic,
    }
    filters = services.CaseFilters.parse(params)
    with unit_of_work(request) as session:
        return services.find_cases(session, filters)


@router.get("/cases/{case_number}")
def case(request: Request, case_number: str, user: Reader) -> dict[str, Any]:
    """The whole case record (runs without their samples)."""
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        result = case_to_dict(patient)
        result["assessments"] = [services.assessment_dict(a) for a in patient.assessments]
        return result


@router.post("/cases/{case_number}/assessments", status_code=201)
def add_pci_assessment(
    request: Request, case_number: str, body: PciAssessmentBody, user: Editor
) -> dict[str, Any]:
    """Save a PCI staging (the PCI editor); audited with the user."""
    with unit_of_work(request) as session:
        saved = services.save_pci(session, case_number, body.model_dump(), actor=user.username)
        return {
            **services.assessment_dict(saved),
            "url": f"/cases/{case_number}/assessments/{saved.id}",
        }


@router.post("/cases/{case_number}/candidacy", status_code=201)
def add_candidacy_assessment(
    request: Request, case_number: str, body: CandidacyBody, user: Editor
) -> dict[str, Any]:
    """Assess candidacy under a built-in rule set and save it; the decision with every reason."""
    with unit_of_work(request) as session:
        result, saved = services.evaluate_and_save_candidacy(
            session,
            case_number,
            rule_set=body.rule_set,
            assessed_on=body.assessed_on,
            source=body.source,
            lesion_size_scores=body.lesion_size_scores,
            clinical=body.clinical,
            notes=body.notes,
            actor=user.username,
        )
        return {
            **result.to_dict(),
            "assessment": services.assessment_dict(saved),
            "url": f"/cases/{case_number}/assessments/{saved.id}",
        }


@router.get("/rule-sets")
def rule_sets(user: Reader) -> list[dict[str, Any]]:
    """The built-in candidacy rule sets."""
    result = []
    for name in builtin_rule_sets():
        rules = load_rule_set(name)
        result.append(
            {"name": rules.name, "description": rules.description, "rules": len(rules.rules)}
        )
    return result


@router.get("/regimens")
def regimens(user: Reader) -> list[dict[str, Any]]:
    """The regimen library."""
    return services.regimen_choices()


@router.post("/plan")
def plan(body: PlanBody, user: Reader) -> dict[str, Any]:
    """A dose plan for a patient and a regimen. A calculation: nothing is stored, so every role
    may plan; a plan becomes a record when a perfusion is run."""
    return services.dose_plan(
        body.regimen,
        height_cm=body.height_cm,
        weight_kg=body.weight_kg,
        bsa_formula=body.bsa_formula,
        technique=body.technique,
    )


@router.get("/outcomes")
def outcomes(request: Request, user: Reader, synthetic: bool | None = None) -> dict[str, Any]:
    """Complications, mortality, length of stay and the published benchmarks."""
    with unit_of_work(request) as session:
        return programme_outcomes(session, synthetic=synthetic)


@router.get("/users")
def users(request: Request, user: Admin) -> list[dict[str, Any]]:
    """Every account (never a password hash)."""
    with unit_of_work(request) as session:
        return [user_to_dict(u) for u in list_users(session)]


@router.post("/users", status_code=201)
def create_user(request: Request, body: NewUserBody, user: Admin) -> dict[str, Any]:
    """Create an account; audited."""
    with unit_of_work(request) as session:
        created = add_user(
            session, body.username.lower(), body.role, body.password, actor=user.username
        )
        return user_to_dict(created)


@router.patch("/users/{username}")
def change_user(
    request: Request, username: str, body: UserChangeBody, user: Admin
) -> dict[str, Any]:
    """Change role, active flag or password; the account's sessions end. Audited."""
    if username == user.username and (
        body.active is False or (body.role is not None and body.role != user.role)
    ):
        raise Forbidden("you cannot disable your own account or change your own role")
    with unit_of_work(request) as session:
        changed = update_user(
            session,
            username,
            actor=user.username,
            role=body.role,
            active=body.active,
            password=body.password,
        )
        return user_to_dict(changed)
