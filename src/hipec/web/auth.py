"""Logging in and out: throttled password check, session creation, the session cookie."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from fastapi import Request, Response

from hipec.store.users import ActiveSession, NewSession, authenticate, create_session, end_session
from hipec.web.config import WebSettings
from hipec.web.deps import throttle_of, unit_of_work, web_settings
from hipec.web.security import SESSION_COOKIE

#: A client address may fail this many times the per-username limit (shared hospital NAT).
ADDRESS_LIMIT_FACTOR = 4


class LoginThrottledError(Exception):
    """Too many failed logins for this username or address."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class LoginFailedError(Exception):
    """Wrong username or password, or an inactive account (deliberately not said which)."""


@dataclass(frozen=True)
class LoginResult:
    """A successful login."""

    username: str
    session: NewSession


def client_address(request: Request) -> str:
    """The client's address as the server sees it."""
    return request.client.host if request.client else "unknown"


def log_in(request: Request, username: str, password: str) -> LoginResult:
    """Check the password (throttled) and start a session.

    Raises
    ------
    LoginThrottledError
        If the username or the address has failed too often within the window.
    LoginFailedError
        If the username or password is wrong or the account is inactive.
    """
    settings = web_settings(request)
    throttle = throttle_of(request)
    username = username.strip().lower()
    address = client_address(request)
    user_key, address_key = f"user:{username}", f"addr:{address}"
    limits = {
        user_key: settings.login_max_failures,
        address_key: settings.login_max_failures * ADDRESS_LIMIT_FACTOR,
    }
    wait = throttle.retry_after_s(limits)
    if wait:
        raise LoginThrottledError(wait)
    with unit_of_work(request) as session:
        user = authenticate(session, username, password)
        if user is None:
            throttle.record_failure([user_key, address_key])
            raise LoginFailedError()
        new = create_session(
            session,
            user,
            lifetime=settings.session_lifetime,
            client=address,
            actor=user.username,
        )
    throttle.reset(user_key)
    return LoginResult(username=username, session=new)


def log_out(request: Request, user: ActiveSession) -> None:
    """End the session: its token stops working at once, whoever holds a copy."""
    with unit_of_work(request) as session:
        end_session(session, user.session_id, actor=user.username)


def is_loopback_http(request: Request) -> bool:
    """True for a plain-http request to 127.0.0.1, ::1 or localhost."""
    if request.url.scheme != "http":
        return False
    host = (request.url.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(request: Request, settings: WebSettings) -> bool:
    """Whether cookies get the ``Secure`` flag (see ``HIPEC_COOKIE_SECURE``)."""
    if settings.cookie_secure == "true":
        return True
    if settings.cookie_secure == "false":
        return False
    return not is_loopback_http(request)


def set_session_cookie(response: Response, request: Request, new: NewSession) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure (see :func:`cookie_secure`),
    a session cookie in the browser (no Max-Age: closing the browser forgets it); the server
    expires the session itself."""
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, web_settings(request)),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, web_settings(request)),
    )
