"""Login and logout, and the health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse

from hipec.store.users import ActiveSession
from hipec.web.auth import (
    LoginFailedError,
    LoginThrottledError,
    clear_session_cookie,
    cookie_secure,
    log_in,
    log_out,
    set_session_cookie,
)
from hipec.web.deps import Forbidden, optional_user, require_read, same_origin, web_settings
from hipec.web.security import LOGIN_CSRF_COOKIE, new_token, tokens_match
from hipec.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other sites, ``//host``) -> /cases."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/cases"
    return target


def _login_page(
    request: Request, *, next_path: str, error: str | None, username: str, status_code: int
) -> Response:
    token = new_token()
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_path, "error": error, "username": username},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, web_settings(request)),
        path="/login",
        max_age=3600,
    )
    return response


@router.get("/healthz")
def health() -> PlainTextResponse:
    """Liveness probe (public; says nothing about the data)."""
    return PlainTextResponse("ok")


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The login page (or straight on, if already logged in)."""
    if await optional_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next), error=None, username="", status_code=200)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/cases",
) -> Response:
    """Check the password (throttled), start a session, set the cookie, go on."""
    if not same_origin(request) or not tokens_match(
        request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token
    ):
        raise Forbidden("the login form expired or came from another site; reload the page")
    target = safe_next(next)
    try:
        result = log_in(request, username, password)
    except LoginThrottledError as exc:
        response = _login_page(
            request,
            next_path=target,
            error=f"Too many failed logins for this account or address. Try again in "
            f"{exc.retry_after_s} seconds.",
            username=username,
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except LoginFailedError:
        return _login_page(
            request,
            next_path=target,
            error="Wrong username or password (or the account is disabled).",
            username=username,
            status_code=401,
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, result.session)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, user: Annotated[ActiveSession, Depends(require_read)]) -> Response:
    """End the session (server-side: the token is dead even if someone copied it)."""
    log_out(request, user)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response
