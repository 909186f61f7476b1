"""Dependencies of the routes: settings, database, the current user, permission and CSRF checks.

A route states what it needs in its signature::

    @router.post("/api/cases/{case_number}/assessments")
    def add(user: Annotated[ActiveSession, Depends(require(Permission.EDIT_RECORDS))], ...): ...

:func:`require` authenticates the session cookie (401 without one), checks the CSRF token of a
state-changing request (403), then the permission (403). The dependency object carries the
permission as ``required_permission``, which the role-matrix test reads from every route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hipec.store.db import transaction
from hipec.store.users import ActiveSession, lookup_session
from hipec.web.config import WebSettings
from hipec.web.permissions import Permission, allows
from hipec.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    LoginThrottle,
    tokens_match,
)


class LoginRequired(HTTPException):
    """No valid session: 401 for the API, a redirect to the login page for pages."""

    def __init__(self) -> None:
        super().__init__(status_code=401, detail="log in first")


class Forbidden(HTTPException):
    """Authenticated, but not allowed (role or CSRF)."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=403, detail=detail)


def web_settings(request: Request) -> WebSettings:
    """The app's settings."""
    settings = request.app.state.settings
    assert isinstance(settings, WebSettings)
    return settings


def engine_of(request: Request) -> Engine:
    """The app's database engine."""
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine


def throttle_of(request: Request) -> LoginThrottle:
    """The app's login throttle."""
    throttle = request.app.state.login_throttle
    assert isinstance(throttle, LoginThrottle)
    return throttle


@contextmanager
def unit_of_work(request: Request) -> Iterator[Session]:
    """One transaction on the app's database; committed when the block ends without error."""
    with transaction(engine_of(request)) as session:
        yield session


def _find_session(request: Request) -> ActiveSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    settings = web_settings(request)
    with unit_of_work(request) as session:
        return lookup_session(session, token, idle_timeout=settings.session_idle_timeout)


async def optional_user(request: Request) -> ActiveSession | None:
    """The logged-in user, or None; also kept on ``request.state.user`` for the templates."""
    if not hasattr(request.state, "user"):
        request.state.user = await run_in_threadpool(_find_session, request)
    user = request.state.user
    assert user is None or isinstance(user, ActiveSession)
    return user


def same_origin(request: Request) -> bool:
    """False if the browser says the request comes from another site (Origin, Sec-Fetch-Site)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme == request.url.scheme and parts.netloc == request.headers.get("host")


async def check_csrf(request: Request, expected: str | None) -> None:
    """Refuse (403) a state-changing request without the right CSRF token or from another site."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise Forbidden("cross-site request refused")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches it; the route reads the same form
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not tokens_match(expected, given):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")


def require(permission: Permission) -> Callable[[Request], Awaitable[ActiveSession]]:
    """A dependency: the current user, who must hold ``permission`` (401 / 403 otherwise)."""

    async def dependency(request: Request) -> ActiveSession:
        user = await optional_user(request)
        if user is None:
            raise LoginRequired()
        await check_csrf(request, user.csrf_token)
        if not allows(user.role, permission):
            raise Forbidden(
                f"your role ({user.role}) does not allow this ({permission.value}); "
                "ask an administrator if you need it"
            )
        return user

    dependency.required_permission = permission  # type: ignore[attr-defined]  # read by tests
    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


def required_permission(call: Any) -> Permission | None:
    """The permission a dependency made by :func:`require` checks (None for any other)."""
    value = getattr(call, "required_permission", None)
    return value if isinstance(value, Permission) else None


# One dependency object per permission, so that routes share them.
require_read = require(Permission.READ)
require_edit_records = require(Permission.EDIT_RECORDS)
require_run_perfusion = require(Permission.RUN_PERFUSION)
require_manage_users = require(Permission.MANAGE_USERS)
