"""Helpers of the web tests: a real console (uvicorn on a free 127.0.0.1 port, a temporary SQLite
database with one account per role and a few cases) and logged-in httpx clients.

A module of its own name, not conftest: test modules import from it, and ``conftest`` is ambiguous
once several test folders have one."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine

from hipec.store import users as users_module
from hipec.store.db import create_db_engine, transaction, upgrade_database
from hipec.store.demo import seed_demo_registry
from hipec.store.repository import add_case
from hipec.store.users import ROLES, add_user
from hipec.web.app import create_app
from hipec.web.config import WebSettings

# Hash cheaply in the in-process servers of these tests (production keeps RFC 9106 parameters,
# checked in test_accounts_and_demo.py; the command-line tests run the real ones).
users_module._HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)

PASSWORDS = {role: f"{role}-password-123" for role in ROLES}
KNOWN_CASE = "T-001"
#: Screenshots the browser tests take are also copied here, for people to look at.
SHOTS = Path("/tmp/hipec-shots")
KNOWN_CASE_DOCUMENT: dict[str, Any] = {
    "case_number": KNOWN_CASE,
    "sex": "female",
    "birth_year": 1968,
    "height_cm": 168.0,
    "weight_kg": 64.0,
    "primary_site": "colorectal",
    "histology_type": "adenocarcinoma",
    "histology": "adenocarcinoma of the sigmoid <b>not bold</b>",
    "notes": "<script>alert('x')</script> must be shown as text",
    "assessments": [
        {
            "assessed_on": "2026-01-10",
            "source": "imaging",
            "lesion_size_scores": [2, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0],
        }
    ],
}
DEMO_CASES = 12
DEMO_SEED = 11


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running console."""

    base_url: str
    engine: Engine
    server: uvicorn.Server
    thread: threading.Thread
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.engine.dispose()


def seed_database(url: str) -> Engine:
    engine = create_db_engine(url)
    upgrade_database(engine)
    with transaction(engine) as session:
        for role, password in PASSWORDS.items():
            add_user(session, role, role, password, actor="test-setup")
        add_case(session, KNOWN_CASE_DOCUMENT, actor="test-setup")
        seed_demo_registry(session, count=DEMO_CASES, seed=DEMO_SEED, actor="test-setup")
    return engine


def start_server(tmp: Path, template: Path, **overrides: Any) -> LiveServer:
    path = tmp / "web.sqlite3"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    settings = WebSettings(database_url=url, **overrides)
    app = create_app(settings, engine=engine)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", engine, server, thread)


_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Session:
    """A browser-like client: cookies, and the CSRF token of its session."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=20)
        self.csrf = ""

    def login_form_token(self) -> str:
        page = self.client.get("/login")
        match = _LOGIN_CSRF.search(page.text)
        assert match, page.text
        return match.group(1)

    def login(self, username: str, password: str) -> httpx.Response:
        token = self.login_form_token()
        response = self.client.post(
            "/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": token,
                "next": "/cases",
            },
        )
        if response.status_code == 303:
            self.refresh_csrf()
        return response

    def refresh_csrf(self) -> None:
        page = self.client.get("/cases")
        match = _META_CSRF.search(page.text)
        assert match and match.group(1), page.text[:500]
        self.csrf = match.group(1)

    def post_json(self, url: str, data: Any, *, csrf: str | None = None) -> httpx.Response:
        token = self.csrf if csrf is None else csrf
        headers = {"X-CSRF-Token": token} if token else {}
        return self.client.post(url, json=data, headers=headers)

    def close(self) -> None:
        self.client.close()


def logged_in(server: LiveServer, role: str) -> Session:
    session = Session(server.base_url)
    response = session.login(role, server.passwords[role])
    assert response.status_code == 303, response.text
    return session


@dataclass
class DemoConsole:
    """A running ``hipec serve --demo`` and what it printed."""

    port: int
    base_url: str
    output: str
    passwords: dict[str, str]


@contextmanager
def demo_console(folder: Path, *, until: str, timeout_s: float) -> Iterator[DemoConsole]:
    """Run ``hipec serve --demo`` (the real entry point) with its data in ``folder``, read its
    output until it shows ``until`` (or ``timeout_s`` passes), wait for the server to answer, and
    stop it afterwards."""
    port = free_port()
    env = {**os.environ, "HIPEC_DATA_DIR": str(folder), "COLUMNS": "120"}
    env.pop("HIPEC_DATABASE_URL", None)
    script = Path(sys.executable).with_name("hipec")
    process = subprocess.Popen(
        [str(script), "serve", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        output = ""
        deadline = time.monotonic() + timeout_s
        while until not in output and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        passwords = dict(re.findall(r"│ (admin|surgeon|perfusionist|viewer)\s+│ (\S+)\s+│", output))
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield DemoConsole(port, base, output, passwords)
    finally:
        process.terminate()
        process.wait(timeout=30)
