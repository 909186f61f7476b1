"""Migrations from empty, the schema-version guard, and SQLite settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from hipec.errors import InvalidInputError
from hipec.settings import Settings
from hipec.store.db import (
    DatabaseNotReadyError,
    DatabaseUnavailableError,
    create_db_engine,
    current_revision,
    database_url,
    head_revision,
    open_database,
    require_current,
    upgrade_database,
)

EXPECTED_TABLES = {
    "patients",
    "assessments",
    "procedures",
    "postop_courses",
    "complications",
    "follow_ups",
    "perfusion_runs",
    "run_samples",
    "run_events",
    "run_alarms",
    "run_doses",
    "audit_log",
}


def test_upgrade_from_empty_creates_every_table_at_head(empty_url: str) -> None:
    engine = create_db_engine(empty_url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(DatabaseNotReadyError, match="run 'hipec db upgrade'"):
            require_current(engine)
        assert upgrade_database(engine) == head_revision()
        tables = set(sa.inspect(engine).get_table_names())
        assert tables >= EXPECTED_TABLES
        sample_columns = {c["name"] for c in sa.inspect(engine).get_columns("run_samples")}
        assert {f"cavity_r{r}_c" for r in range(13)} <= sample_columns
        require_current(engine)
        # upgrading again is a no-op
        assert upgrade_database(engine) == head_revision()
    finally:
        engine.dispose()


def test_open_database_refuses_an_older_revision(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(
        DatabaseNotReadyError, match=r"revision 0000, this hipec needs .*hipec db upgrade"
    ):
        open_database(engine.url.render_as_string(hide_password=False))


def test_sqlite_runs_with_foreign_keys_and_wal(tmp_path: object) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/x/hipec.sqlite3")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_default_url_is_the_sqlite_file_in_the_data_folder(tmp_path: object) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None)
    assert database_url(settings) == f"sqlite:///{tmp_path}/hipec.sqlite3"
    explicit = Settings(database_url="postgresql+psycopg://u@h/db")
    assert database_url(explicit) == "postgresql+psycopg://u@h/db"


def test_bad_urls_are_one_line_errors() -> None:
    with pytest.raises(InvalidInputError, match="HIPEC_DATABASE_URL"):
        create_db_engine("not a url")
    with pytest.raises(InvalidInputError, match="driver"):
        create_db_engine("nosuchdb+driver://x/y")
    engine = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(DatabaseUnavailableError, match="cannot open"):
        current_revision(engine)
