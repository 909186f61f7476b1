"""Fixtures of the web tests; the helpers they use live in ``webhelpers``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webhelpers import LiveServer, Session, logged_in, seed_database, start_server


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded database file, copied for each console (seeding once keeps the suite quick)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = seed_database(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[LiveServer]:
    """One console shared by the tests that do not change accounts or throttle state."""
    server = start_server(tmp_path_factory.mktemp("live"), template_database)
    yield server
    server.stop()


@pytest.fixture
def fresh_live(tmp_path: Path, template_database: Path) -> Iterator[Callable[..., LiveServer]]:
    """A factory of private consoles (settings overrides as keyword arguments)."""
    started: list[LiveServer] = []

    def make(**overrides: Any) -> LiveServer:
        folder = tmp_path / f"server{len(started)}"
        folder.mkdir()
        server = start_server(folder, template_database, **overrides)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def as_role(live: LiveServer) -> Iterator[Callable[[str], Session]]:
    """Log in to the shared console as a role: ``as_role("surgeon")``."""
    sessions: list[Session] = []

    def make(role: str) -> Session:
        session = logged_in(live, role)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright: skipped where it is not installed, but in CI (which
    installs it) its absence fails the test."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("browser tests need /usr/bin/chromium in CI", pytrace=False)
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
