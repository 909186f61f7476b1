"""``hipec db upgrade | status``: the case database's schema.

Every other command that needs the database calls :func:`open_store`, which refuses a database
that is not at the newest schema revision (one line: run ``hipec db upgrade``) and marks runs left
``running`` by a dead process as ``interrupted``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from hipec.cli._common import JsonOption, console, print_json

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

# SQLAlchemy and Alembic are imported inside the commands: the commands that need no database
# (pci, plan, ...) should not pay a second of start-up for them.

db_app = typer.Typer(
    name="db", help="The case database: create or upgrade its schema.", no_args_is_help=True
)


def open_store() -> Engine:
    """The configured database, at the newest revision, with dead runs marked interrupted."""
    from hipec.store.db import open_database
    from hipec.store.recorder import mark_interrupted_runs

    engine = open_database()
    mark_interrupted_runs(engine)
    return engine


@contextmanager
def store_session() -> Iterator[Session]:
    """One transaction on the configured database (see :func:`open_store`), then close it."""
    from hipec.store.db import transaction

    engine = open_store()
    try:
        with transaction(engine) as session:
            yield session
    finally:
        engine.dispose()


@db_app.command("upgrade")
def upgrade(json_output: JsonOption = False) -> None:
    """Create the database or bring its schema to the newest revision (Alembic)."""
    from hipec.store.db import create_db_engine, current_revision, safe_url, upgrade_database

    engine = create_db_engine()
    try:
        before = current_revision(engine)
        after = upgrade_database(engine)
        result = {"database": safe_url(engine), "from_revision": before, "revision": after}
    finally:
        engine.dispose()
    if json_output:
        print_json(result)
    elif before == after:
        console.print(f"{result['database']}: already at revision {after}")
    else:
        console.print(f"{result['database']}: upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def status(json_output: JsonOption = False) -> None:
    """Show where the database is and whether its schema is current."""
    from hipec.store.db import create_db_engine, current_revision, head_revision, safe_url

    engine = create_db_engine()
    try:
        current = current_revision(engine)
        head = head_revision()
        result = {
            "database": safe_url(engine),
            "revision": current,
            "head": head,
            "current": current == head,
        }
    finally:
        engine.dispose()
    if json_output:
        print_json(result)
        return
    state = "current" if result["current"] else "needs 'hipec db upgrade'"
    console.print(f"{result['database']}: revision {current or 'none'} (newest {head}), {state}")


def register(app: typer.Typer) -> None:
    """Add ``hipec db`` to ``app``."""
    app.add_typer(db_app, name="db")
