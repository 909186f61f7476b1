"""Every route of the app, every role: nobody gets a power the permission matrix does not give.

The routes are enumerated from the app's router, so a route added tomorrow is checked too: it must
either be public (and listed here) or name exactly one permission through ``deps.require``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount
from webhelpers import KNOWN_CASE, LiveServer, Session, logged_in

from hipec.store.db import transaction
from hipec.store.models import Assessment, Patient
from hipec.store.users import ROLES
from hipec.web.app import PUBLIC_PATHS
from hipec.web.deps import required_permission
from hipec.web.permissions import ROLE_PERMISSIONS, Permission, allows

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EXPECTED_PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/healthz"),
    ("GET", "/vendor/plotly.min.js"),
}


def _permissions(route: APIRoute | APIWebSocketRoute) -> list[Permission]:
    found: list[Permission] = []

    def walk(dependant: Any) -> None:
        for dependency in dependant.dependencies:
            permission = required_permission(dependency.call)
            if permission is not None:
                found.append(permission)
            walk(dependency)

    walk(route.dependant)
    return found


def _endpoints(
    routes: list[BaseRoute], *, websockets: bool = False
) -> Iterator[tuple[str, str, APIRoute | APIWebSocketRoute]]:
    # FastAPI keeps included routers as branches; iter_route_contexts gives the effective routes
    # (with their prefixes), exactly as the app dispatches them
    count = 0
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, Mount):
            assert context.path == "/static", f"unexpected mount {context.path}"
            continue
        assert context.path is not None
        if isinstance(route, APIWebSocketRoute):
            # checked here for its permission; its refusals are tested in test_live.py
            if websockets:
                yield "WS", context.path, route
            continue
        assert isinstance(route, APIRoute), f"{route!r} is not an APIRoute"
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            count += 1
            yield method, context.path, route
    assert count > 20, "the route enumeration found too few routes"


def test_the_matrix_is_the_documented_one() -> None:
    assert set(ROLE_PERMISSIONS) == set(ROLES)
    assert ROLE_PERMISSIONS["viewer"] == {Permission.READ}
    for role in ("surgeon", "perfusionist"):
        assert ROLE_PERMISSIONS[role] == {
            Permission.READ,
            Permission.EDIT_RECORDS,
            Permission.RUN_PERFUSION,
        }
    assert ROLE_PERMISSIONS["admin"] == {Permission.READ, Permission.MANAGE_USERS}
    assert not allows("nobody", Permission.READ)


def test_every_route_is_public_or_names_exactly_one_permission(live: LiveServer) -> None:
    app = _app(live)
    public = set()
    for method, path, route in _endpoints(app.routes, websockets=True):
        permissions = _permissions(route)
        if not permissions:
            public.add((method, path))
            assert path in PUBLIC_PATHS, f"{method} {path} checks no permission"
        else:
            assert len(set(permissions)) == 1, f"{method} {path}: {permissions}"
    assert public == EXPECTED_PUBLIC


def _app(live: LiveServer) -> Any:
    return live.server.config.app


def _path_values(live: LiveServer) -> dict[str, str]:
    with transaction(live.engine) as session:
        patient = session.scalar(select(Patient).where(Patient.case_number == KNOWN_CASE))
        assert patient is not None
        assessment_id = session.scalar(
            select(Assessment.id).where(Assessment.patient_id == patient.id)
        )
    return {"case_number": KNOWN_CASE, "assessment_id": str(assessment_id), "username": "viewer"}


def _fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no test value for a parameter of {path}: add it to _path_values"
    return path


def _call(session: Session, method: str, url: str, *, csrf: str | None = None) -> Any:
    token = session.csrf if csrf is None else csrf
    headers = {"X-CSRF-Token": token} if token else {}
    if method == "GET":
        return session.client.get(url)
    if url.startswith("/api/"):
        return session.client.request(method, url, json={}, headers=headers)
    return session.client.request(method, url, data={"csrf_token": token}, headers=headers)


def _protected(live: LiveServer) -> list[tuple[str, str, Permission]]:
    values = _path_values(live)
    result = []
    for method, path, route in _endpoints(_app(live).routes):
        permissions = _permissions(route)
        if permissions:
            result.append((method, _fill(path, values), permissions[0]))
    return result


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_permissions_on_every_route(live: LiveServer, role: str) -> None:
    session = logged_in(live, role)
    problems = []
    try:
        for method, url, permission in _protected(live):
            if (method, url) == ("POST", "/logout"):
                throwaway = logged_in(live, role)
                response = _call(throwaway, method, url)
                throwaway.close()
            else:
                response = _call(session, method, url)
            if allows(role, permission):
                if response.status_code in (401, 403) or response.status_code >= 500:
                    problems.append(f"{method} {url}: allowed, got {response.status_code}")
            elif response.status_code != 403:
                problems.append(
                    f"{method} {url}: must be refused (403), got {response.status_code}"
                )
    finally:
        session.close()
    assert not problems, "\n".join(problems)


def test_anonymous_requests_are_refused_everywhere(live: LiveServer) -> None:
    anonymous = Session(live.base_url)
    try:
        for method, url, _ in _protected(live):
            response = _call(anonymous, method, url, csrf="")
            if url.startswith("/api/"):
                assert response.status_code == 401, (method, url, response.status_code)
            elif method == "GET":
                assert response.status_code == 303, (method, url)
                assert response.headers["location"].startswith("/login?next=")
            else:
                # a form post without a session: sent to the login page, nothing done
                assert response.status_code == 303, (method, url, response.status_code)
    finally:
        anonymous.close()


def test_every_state_changing_route_refuses_missing_wrong_or_cross_site_csrf(
    live: LiveServer,
) -> None:
    sessions = {role: logged_in(live, role) for role in ROLES}
    try:
        for method, url, permission in _protected(live):
            if method not in UNSAFE:
                continue
            role = next(r for r in ROLES if allows(r, permission))
            session = sessions[role]
            for token in ("", "wrong-token"):
                response = _call(session, method, url, csrf=token)
                assert response.status_code == 403, (method, url, token, response.status_code)
            cross = session.client.request(
                method,
                url,
                json={} if url.startswith("/api/") else None,
                data=None if url.startswith("/api/") else {"csrf_token": session.csrf},
                headers={"X-CSRF-Token": session.csrf, "Origin": "https://evil.example"},
            )
            assert cross.status_code == 403, (method, url, "cross-site")
        # and the session still works: the refusals changed nothing
        assert sessions["surgeon"].client.get("/api/me").status_code == 200
    finally:
        for session in sessions.values():
            session.close()
