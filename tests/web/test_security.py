"""Login, cookies, CSRF, throttling, logout, session ending, headers, redirects."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from sqlalchemy import select
from webhelpers import LiveServer, Session, logged_in

from hipec.store.db import transaction
from hipec.store.models import AuditEntry
from hipec.store.users import WebSession, token_digest, update_user
from hipec.web.security import LoginThrottle


def _set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]


def test_login_sets_a_strict_httponly_session_cookie(live: LiveServer) -> None:
    session = Session(live.base_url)
    response = session.login("viewer", live.passwords["viewer"])
    assert response.status_code == 303
    assert response.headers["location"] == "/cases"
    [cookie] = _set_cookie_headers(response, "hipec_session")
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/" in flags
    # plain http on the loopback address: no Secure flag (the browser would drop the cookie)
    assert "secure" not in flags
    session.close()


def test_cookie_is_secure_when_configured(fresh_live: Callable[..., LiveServer]) -> None:
    server = fresh_live(cookie_secure="true")
    client = httpx.Client(base_url=server.base_url)
    page = client.get("/login")
    [login_cookie] = _set_cookie_headers(page, "hipec_login_csrf")
    assert "secure" in {part.strip().lower() for part in login_cookie.split(";")}
    token = login_cookie.split(";")[0].split("=", 1)[1]
    # an http client must not send a Secure cookie back; send it by hand to see the answer
    response = client.post(
        "/login",
        data={"username": "viewer", "password": server.passwords["viewer"], "csrf_token": token},
        headers={"Cookie": f"hipec_login_csrf={token}"},
    )
    assert response.status_code == 303
    [cookie] = _set_cookie_headers(response, "hipec_session")
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}
    client.close()


def test_the_database_keeps_only_the_token_digest(live: LiveServer) -> None:
    session = Session(live.base_url)
    session.login("viewer", live.passwords["viewer"])
    token = session.client.cookies["hipec_session"]
    with transaction(live.engine) as db:
        digests = set(db.scalars(select(WebSession.token_sha256)))
        tokens = [row for row in db.scalars(select(WebSession)) if token in row.token_sha256]
    assert token_digest(token) in digests
    assert not tokens
    session.close()


def test_wrong_password_is_refused_without_saying_which_part(live: LiveServer) -> None:
    session = Session(live.base_url)
    for username, password in (("viewer", "not-the-password"), ("nobody-here", "whatever-123")):
        response = session.login(username, password)
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
        assert "hipec_session" not in response.headers.get("set-cookie", "")
    session.close()


def test_login_form_needs_its_csrf_token(live: LiveServer) -> None:
    client = httpx.Client(base_url=live.base_url)
    response = client.post(
        "/login", data={"username": "viewer", "password": live.passwords["viewer"]}
    )
    assert response.status_code == 403
    session = Session(live.base_url)
    token = session.login_form_token()
    cross = session.client.post(
        "/login",
        data={"username": "viewer", "password": live.passwords["viewer"], "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    client.close()
    session.close()


def test_logout_invalidates_the_session_server_side(live: LiveServer) -> None:
    session = logged_in(live, "surgeon")
    token = session.client.cookies["hipec_session"]
    assert session.client.get("/api/me").json()["username"] == "surgeon"
    response = session.client.post("/logout", data={"csrf_token": session.csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    # even a copy of the old cookie no longer works
    replay = httpx.Client(base_url=live.base_url, cookies={"hipec_session": token})
    assert replay.get("/api/me").status_code == 401
    assert replay.get("/cases", follow_redirects=False).status_code == 303
    replay.close()
    session.close()
    with transaction(live.engine) as db:
        events = [
            e.before for e in db.scalars(select(AuditEntry)) if e.table_name == "web_sessions"
        ]
    assert {"event": "logout"} in events


def test_logout_needs_the_csrf_token(live: LiveServer) -> None:
    session = logged_in(live, "viewer")
    response = session.client.post("/logout", data={})
    assert response.status_code == 403
    assert session.client.get("/api/me").status_code == 200
    session.close()


def test_throttling_refuses_even_the_right_password(fresh_live: Callable[..., LiveServer]) -> None:
    server = fresh_live(login_max_failures=3, login_window_seconds=600)
    session = Session(server.base_url)
    for _ in range(3):
        assert session.login("surgeon", "wrong-password-x").status_code == 401
    blocked = session.login("surgeon", server.passwords["surgeon"])
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many failed logins" in blocked.text
    # another account from the same address still gets in (address limit is 4x higher)
    assert session.login("viewer", server.passwords["viewer"]).status_code == 303
    session.close()


def test_throttling_by_address(fresh_live: Callable[..., LiveServer]) -> None:
    server = fresh_live(login_max_failures=1, login_window_seconds=600)
    session = Session(server.base_url)
    for name in ("a1", "a2", "a3", "a4"):  # 4 = 1 x the address factor
        assert session.login(name + "-nobody", "wrong-password-x").status_code == 401
    assert session.login("viewer", server.passwords["viewer"]).status_code == 429
    session.close()


def test_throttle_window_slides() -> None:
    now = [0.0]
    throttle = LoginThrottle(2, 60.0, clock=lambda: now[0])
    keys = {"user:a": 2}
    assert throttle.retry_after_s(keys) == 0
    throttle.record_failure(["user:a"])
    now[0] = 10.0
    throttle.record_failure(["user:a"])
    assert throttle.retry_after_s(keys) == 50
    now[0] = 59.9
    assert throttle.retry_after_s(keys) == 1
    now[0] = 60.0  # the first failure left the window
    assert throttle.retry_after_s(keys) == 0
    throttle.record_failure(["user:a"])
    throttle.reset("user:a")
    assert throttle.retry_after_s(keys) == 0


def test_disabling_or_changing_an_account_ends_its_sessions(live: LiveServer) -> None:
    session = logged_in(live, "perfusionist")
    assert session.client.get("/api/me").status_code == 200
    with transaction(live.engine) as db:
        update_user(
            db, "perfusionist", actor="test", role="perfusionist", password="a-new-password-1"
        )
    assert session.client.get("/api/me").status_code == 401
    with transaction(live.engine) as db:
        update_user(db, "perfusionist", actor="test", password=live.passwords["perfusionist"])
    session.close()


def test_idle_sessions_end(fresh_live: Callable[..., LiveServer]) -> None:
    server = fresh_live(session_idle_minutes=0.01)  # 0.6 s
    session = Session(server.base_url)
    assert session.login("viewer", server.passwords["viewer"]).status_code == 303
    time.sleep(1.0)
    assert session.client.get("/api/me").status_code == 401
    session.close()


def test_next_parameter_cannot_leave_the_site(live: LiveServer) -> None:
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "/cases/T-001"):
        session = Session(live.base_url)
        token = session.login_form_token()
        response = session.client.post(
            "/login",
            data={
                "username": "viewer",
                "password": live.passwords["viewer"],
                "csrf_token": token,
                "next": target,
            },
        )
        assert response.status_code == 303
        expected = target if target == "/cases/T-001" else "/cases"
        assert response.headers["location"] == expected, target
        session.close()


def test_security_headers_on_every_page(live: LiveServer) -> None:
    client = httpx.Client(base_url=live.base_url)
    for url in ("/login", "/healthz"):
        response = client.get(url)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
    client.close()
