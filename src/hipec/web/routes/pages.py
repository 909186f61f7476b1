"""Server-rendered pages. Each route: check (dependency), call a service, render."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from hipec.clinical.candidacy import (
    CASE_FIELD_ACCEPTS,
    COMORBIDITIES,
    EXTRAPERITONEAL_SITES,
    PRIMARY_SITES,
    SYSTEMIC_RESPONSES,
    builtin_rule_sets,
)
from hipec.clinical.pci import REGION_COUNT
from hipec.errors import InvalidInputError
from hipec.store.repository import get_case
from hipec.store.users import ROLES, ActiveSession, list_users, update_user
from hipec.store.users import add_user as add_account
from hipec.store.vocabulary import ASSESSMENT_SOURCES
from hipec.web import services
from hipec.web.deps import require_edit_records, require_manage_users, require_read, unit_of_work
from hipec.web.outcomes import programme_outcomes
from hipec.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[ActiveSession, Depends(require_read)]
Editor = Annotated[ActiveSession, Depends(require_edit_records)]
Admin = Annotated[ActiveSession, Depends(require_manage_users)]


@router.get("/")
def home(user: Reader) -> Response:
    """The console starts at the case list."""
    return RedirectResponse("/cases", status_code=303)


@router.get("/cases")
def cases(request: Request, user: Reader) -> Response:
    """Every case, with search and filters."""
    filters = services.CaseFilters.parse(request.query_params)
    with unit_of_work(request) as session:
        rows = services.find_cases(session, filters)
    return render(
        request,
        "cases.html",
        {
            "rows": rows,
            "filters": filters,
            "sites": PRIMARY_SITES,
            "decisions": services.DECISIONS,
        },
    )


@router.get("/cases/{case_number}")
def case_page(request: Request, case_number: str, user: Reader) -> Response:
    """One case: patient, assessments, procedures with outcomes, runs, follow-up."""
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        return render(
            request,
            "case.html",
            {"patient": patient, "assessments": list(reversed(patient.assessments))},
        )


@router.get("/cases/{case_number}/assessments/{assessment_id}")
def assessment_page(
    request: Request, case_number: str, assessment_id: int, user: Reader
) -> Response:
    """One assessment: the PCI map and, if assessed, the candidacy decision with every reason."""
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        assessment = services.get_assessment(patient, assessment_id)
        return render(
            request,
            "assessment.html",
            {"patient": patient, "assessment": services.assessment_dict(assessment)},
        )


def _pci_form_page(
    request: Request, case_number: str, values: dict[str, Any], error: str | None, status: int
) -> Response:
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        latest = patient.assessments[-1] if patient.assessments else None
        scores = values.get("scores") or (
            list(latest.lesion_size_scores) if latest else [0] * REGION_COUNT
        )
        return render(
            request,
            "pci_editor.html",
            {
                "patient": patient,
                "scores": scores,
                "prefilled_from": latest if latest and not values.get("scores") else None,
                "sources": ASSESSMENT_SOURCES,
                "source": values.get("source", "laparotomy"),
                "assessed_on": values.get("assessed_on", dt.date.today().isoformat()),
                "notes": values.get("notes", ""),
                "error": error,
            },
            status_code=status,
        )


@router.get("/cases/{case_number}/pci")
def pci_editor(request: Request, case_number: str, user: Editor) -> Response:
    """The PCI editor: click the 13 regions of the drawing (or use the list) to set LS 0-3."""
    return _pci_form_page(request, case_number, {}, None, 200)


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _pci_from_form(form: FormData) -> dict[str, Any]:
    scores = []
    for region in range(REGION_COUNT):
        word = _form_text(form, f"r{region}") or "0"
        if word not in ("0", "1", "2", "3"):
            raise InvalidInputError(f"region {region} lesion size", f"must be 0-3, got {word!r}")
        scores.append(int(word))
    return {
        "assessed_on": _form_text(form, "assessed_on"),
        "source": _form_text(form, "source"),
        "lesion_size_scores": scores,
        "notes": _form_text(form, "notes") or None,
    }


@router.post("/cases/{case_number}/pci")
async def pci_save_form(request: Request, case_number: str, user: Editor) -> Response:
    """Save the editor's form (the page's script uses the JSON API; this serves no-script)."""
    form = await request.form()
    return await _run_sync(_pci_save_form, request, case_number, form, user)


async def _run_sync(func: Any, *args: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    result = await run_in_threadpool(func, *args)
    assert isinstance(result, Response)
    return result


def _pci_save_form(
    request: Request, case_number: str, form: FormData, user: ActiveSession
) -> Response:
    try:
        data = _pci_from_form(form)
        with unit_of_work(request) as session:
            saved = services.save_pci(session, case_number, data, actor=user.username)
            target = f"/cases/{case_number}/assessments/{saved.id}"
    except InvalidInputError as exc:
        values = {
            "source": _form_text(form, "source"),
            "assessed_on": _form_text(form, "assessed_on"),
            "notes": _form_text(form, "notes"),
        }
        return _pci_form_page(request, case_number, values, str(exc), 422)
    return RedirectResponse(target, status_code=303)


# -- candidacy -----------------------------------------------------------------------------------

NUMBER_FIELDS: dict[str, type] = {
    "performance_status": int,
    "egfr_ml_min_1_73m2": float,
    "bilirubin_umol_per_l": float,
    "albumin_g_per_l": float,
    "weight_loss_percent_6_months": float,
    "bmi_kg_per_m2": float,
    "age_years": int,
}
CHOICE_FIELDS = ("response_to_systemic_therapy", "anticipated_cc", "performance_scale")
LIST_FIELDS = {
    "extraperitoneal_disease": EXTRAPERITONEAL_SITES,
    "significant_comorbidities": COMORBIDITIES,
}


def clinical_from_form(form: FormData) -> dict[str, Any]:
    """The candidacy fields of the form; a blank field is "not recorded" (None)."""
    clinical: dict[str, Any] = {}
    for name, kind in NUMBER_FIELDS.items():
        word = _form_text(form, name)
        if not word:
            continue
        try:
            clinical[name] = kind(word)
        except ValueError:
            raise InvalidInputError(
                name, f"must be a number ({CASE_FIELD_ACCEPTS[name]}), got {word!r}"
            ) from None
    for name in CHOICE_FIELDS:
        word = _form_text(form, name)
        if word:
            clinical[name] = word
    for name, accepted in LIST_FIELDS.items():
        ticked = [v for v in form.getlist(name) if isinstance(v, str)]
        if not ticked:
            continue  # nothing ticked: not recorded
        if "none" in ticked:
            if len(ticked) > 1:
                raise InvalidInputError(name, "tick 'none' or sites, not both")
            clinical[name] = []
            continue
        unknown = [v for v in ticked if v not in accepted]
        if unknown:
            raise InvalidInputError(
                name, f"must be among {', '.join(accepted)}, got {unknown[0]!r}"
            )
        clinical[name] = ticked
    return clinical


def _candidacy_page(
    request: Request,
    case_number: str,
    values: dict[str, Any],
    error: str | None,
    status: int,
) -> Response:
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        today = dt.date.today()
        defaults = services.candidacy_defaults(patient, today)
        merged = {
            "rule_set": "default",
            "assessed_on": today.isoformat(),
            "source": "imaging",
            **{k: v for k, v in defaults.items() if v is not None},
            **values,
        }
        return render(
            request,
            "candidacy.html",
            {
                "patient": patient,
                "values": merged,
                "pci_total": sum(defaults["lesion_size_scores"] or []),
                "has_pci": defaults["lesion_size_scores"] is not None,
                "rule_sets": builtin_rule_sets(),
                "sources": ASSESSMENT_SOURCES,
                "responses": SYSTEMIC_RESPONSES,
                "extraperitoneal_sites": EXTRAPERITONEAL_SITES,
                "comorbidities": COMORBIDITIES,
                "error": error,
            },
            status_code=status,
        )


@router.get("/cases/{case_number}/candidacy")
def candidacy_form(request: Request, case_number: str, user: Editor) -> Response:
    """The candidacy form, prefilled from the record."""
    return _candidacy_page(request, case_number, {}, None, 200)


@router.post("/cases/{case_number}/candidacy")
async def candidacy_save(request: Request, case_number: str, user: Editor) -> Response:
    """Assess under the chosen rule set, save as an assessment, show every reason."""
    form = await request.form()
    return await _run_sync(_candidacy_save, request, case_number, form, user)


def _candidacy_save(
    request: Request, case_number: str, form: FormData, user: ActiveSession
) -> Response:
    values: dict[str, Any] = {key: form.get(key) for key in form if key != "csrf_token"}
    for name in LIST_FIELDS:
        values[name] = form.getlist(name)
    try:
        assessed_on = dt.date.fromisoformat(_form_text(form, "assessed_on"))
    except ValueError:
        return _candidacy_page(
            request, case_number, values, "assessed_on: must be a date (YYYY-MM-DD)", 422
        )
    try:
        with unit_of_work(request) as session:
            _, saved = services.evaluate_and_save_candidacy(
                session,
                case_number,
                rule_set=_form_text(form, "rule_set") or "default",
                assessed_on=assessed_on,
                source=_form_text(form, "source"),
                lesion_size_scores=None,
                clinical=clinical_from_form(form),
                notes=_form_text(form, "notes") or None,
                actor=user.username,
            )
            target = f"/cases/{case_number}/assessments/{saved.id}"
    except InvalidInputError as exc:
        return _candidacy_page(request, case_number, values, str(exc), 422)
    return RedirectResponse(target, status_code=303)


# -- planning ------------------------------------------------------------------------------------


@router.get("/cases/{case_number}/plan")
def plan_page(request: Request, case_number: str, user: Reader) -> Response:
    """Choose a regimen -> the dose plan (computed by the API; nothing is stored)."""
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        return render(
            request,
            "plan.html",
            {"patient": patient, "regimens": services.regimen_choices()},
        )


# -- outcomes ------------------------------------------------------------------------------------


@router.get("/outcomes")
def outcomes_page(request: Request, user: Reader, synthetic: str = "any") -> Response:
    """Complications, mortality and length of stay against the published benchmarks."""
    choice = {"any": None, "yes": True, "no": False}
    if synthetic not in choice:
        raise InvalidInputError("synthetic", f"must be any, yes or no, got {synthetic!r}")
    with unit_of_work(request) as session:
        outcomes = programme_outcomes(session, synthetic=choice[synthetic])
    return render(request, "outcomes.html", {"outcomes": outcomes, "synthetic": synthetic})


# -- accounts ------------------------------------------------------------------------------------


def _users_page(request: Request, error: str | None, status: int, notice: str | None) -> Response:
    with unit_of_work(request) as session:
        users = list_users(session)
        return render(
            request,
            "users.html",
            {"users": users, "roles": ROLES, "error": error, "notice": notice},
            status_code=status,
        )


@router.get("/admin/users")
def users_page(request: Request, user: Admin) -> Response:
    """Accounts: list, add, change role, disable, reset password."""
    return _users_page(request, None, 200, None)


@router.post("/admin/users")
async def users_add(request: Request, user: Admin) -> Response:
    """Create an account."""
    form = await request.form()

    def work() -> Response:
        try:
            with unit_of_work(request) as session:
                add_account(
                    session,
                    _form_text(form, "username").lower(),
                    _form_text(form, "role"),
                    str(form.get("password") or ""),
                    actor=user.username,
                )
        except InvalidInputError as exc:
            return _users_page(request, str(exc), 422, None)
        return _users_page(request, None, 200, f"Account {_form_text(form, 'username')} added.")

    return await _run_sync(work)


@router.post("/admin/users/{username}")
async def users_change(request: Request, username: str, user: Admin) -> Response:
    """Change an account's role or active flag, or set a new password; its sessions end."""
    form = await request.form()

    def work() -> Response:
        role = _form_text(form, "role") or None
        active_word = _form_text(form, "active")
        active = None if not active_word else active_word == "true"
        password = str(form.get("password") or "") or None
        if username == user.username and (active is False or (role and role != user.role)):
            return _users_page(
                request, "you cannot disable your own account or change your own role", 422, None
            )
        try:
            with unit_of_work(request) as session:
                update_user(
                    session,
                    username,
                    actor=user.username,
                    role=role,
                    active=active,
                    password=password,
                )
        except InvalidInputError as exc:
            return _users_page(request, str(exc), 422, None)
        return _users_page(request, None, 200, f"Account {username} changed.")

    return await _run_sync(work)
