"""Fixtures of the report tests: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))

from dbhelpers import BACKENDS, fresh_database_url

from hipec.store.db import create_db_engine, upgrade_database


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no tables)."""
    with fresh_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    """An engine on a fresh database upgraded to the newest revision."""
    engine = create_db_engine(empty_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()
