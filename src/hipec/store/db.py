"""Database engine, sessions, the acting user and the schema version.

Where the database is
---------------------
``HIPEC_DATABASE_URL`` (a SQLAlchemy URL; PostgreSQL as ``postgresql+psycopg://user@host/db``),
else the SQLite file ``hipec.sqlite3`` in ``HIPEC_DATA_DIR`` (else the platform's user data folder).
SQLite runs with foreign keys ON, write-ahead logging (WAL, so a reader never blocks the perfusion
writer) and a busy timeout.

Schema version
--------------
The schema changes only through the Alembic migrations in :mod:`hipec.store.migrations`.
``hipec db upgrade`` (:func:`upgrade_database`) brings a database to the newest revision. Every
other command *refuses* a database that is not at the newest revision (:func:`require_current`,
one line: run ``hipec db upgrade``) rather than upgrading it silently: a schema change is a step a
registry owner takes on purpose (after a backup), never a side effect of listing cases.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hipec.errors import HipecError, InvalidInputError
from hipec.settings import Settings, get_settings

SQLITE_FILE_NAME = "hipec.sqlite3"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Seconds a SQLite connection waits for a lock held by another process before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0


class DatabaseNotReadyError(HipecError):
    """The database is missing tables or is at an older schema revision than this hipec."""


class DatabaseUnavailableError(HipecError):
    """The database server cannot be reached or the file cannot be opened."""


def database_url(settings: Settings | None = None) -> str:
    """The configured database URL: ``HIPEC_DATABASE_URL`` or the SQLite file in the data folder."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.resolved_data_dir / SQLITE_FILE_NAME}"


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise InvalidInputError(
            "HIPEC_DATABASE_URL",
            "must be a SQLAlchemy URL such as postgresql+psycopg://user@host/db or "
            f"sqlite:///path/hipec.sqlite3, got {url!r}",
        ) from None


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def create_db_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default :func:`database_url`), with hipec's SQLite settings.

    Raises
    ------
    InvalidInputError
        Field ``HIPEC_DATABASE_URL`` if the URL does not parse or names an unknown driver.
    """
    parsed = _parse_url(url or database_url())
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            event.listen(engine, "connect", _on_sqlite_connect)
            return engine
        return create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise InvalidInputError(
            "HIPEC_DATABASE_URL",
            f"names a database driver hipec cannot load ({exc}); use sqlite:/// or "
            "postgresql+psycopg://",
        ) from None


def safe_url(engine: Engine) -> str:
    """The engine's URL with any password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (repositories return them)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit at the end of the block, roll back everything on any error."""
    with make_session_factory(engine).begin() as session:
        yield session


def current_actor() -> str:
    """Who is acting, for the audit log: ``HIPEC_USER``, else the operating-system user."""
    from_env = os.environ.get("HIPEC_USER", "").strip()
    if from_env:
        return from_env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers): still record something
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


# --------------------------------------------------------------------------------------------
# Schema version (Alembic)
# --------------------------------------------------------------------------------------------


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic configuration pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest schema revision this hipec knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships at least the initial migration
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, None for an empty database.

    Raises
    ------
    DatabaseUnavailableError
        If the database cannot be reached.
    """
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            f"database: cannot open {safe_url(engine)} ({_first_line(exc)})"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def upgrade_database(engine: Engine, revision: str = "head") -> str:
    """Run the migrations up to ``revision`` (default the newest) and return the new revision."""
    current_revision(engine)  # a clear one-line error if the database is unreachable
    command.upgrade(alembic_config(engine), revision)
    new = current_revision(engine)
    assert new is not None
    return new


def require_current(engine: Engine) -> None:
    """Refuse a database that is not at the newest schema revision.

    Raises
    ------
    DatabaseNotReadyError
        One line that names the database and says to run ``hipec db upgrade``.
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = safe_url(engine)
    if current is None:
        raise DatabaseNotReadyError(
            f"database: {where} has no hipec tables yet; run 'hipec db upgrade' to create them"
        )
    raise DatabaseNotReadyError(
        f"database: {where} is at schema revision {current}, this hipec needs {head}; "
        "run 'hipec db upgrade'"
    )


def open_database(url: str | None = None) -> Engine:
    """An engine for the configured database, refused unless it is at the newest revision."""
    engine = create_db_engine(url)
    try:
        require_current(engine)
    except HipecError:
        engine.dispose()
        raise
    return engine
