"""Fresh, empty databases for tests: a SQLite file, or a PostgreSQL schema dropped afterwards.

PostgreSQL: ``HIPEC_TEST_POSTGRES_URL`` (default the CI server, trust auth, database ``test``).
Unreachable server: the test is skipped with the reason, unless ``CI`` is set (then it fails).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get(
    "HIPEC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL test server needed in CI: {reason}")
    pytest.skip(f"PostgreSQL test server not reachable ({reason})")


@contextmanager
def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of ``backend``; PostgreSQL schemas are dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hipec.sqlite3'}"
        return
    schema = f"hipec_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unavailable(str(exc.orig).strip().splitlines()[0])
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql("SET lock_timeout = '10s'")
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
