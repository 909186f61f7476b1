"""Alembic environment: runs the migrations on the engine hipec hands over.

hipec configures Alembic in code (:func:`hipec.store.db.alembic_config`), so no ``alembic.ini`` is
needed and an installed hipec can upgrade a database. For ``alembic revision --autogenerate`` during
development, the engine comes from :func:`hipec.store.db.create_db_engine` (``HIPEC_DATABASE_URL``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from hipec.store.db import create_db_engine
from hipec.store.models import Base
from hipec.store.users import AuthBase

config = context.config
# Accounts have their own metadata (kept out of registry exports); both belong to the schema.
target_metadata = [Base.metadata, AuthBase.metadata]


def run_migrations_online() -> None:
    """Run the migrations in one transaction on the configured engine."""
    given = config.attributes.get("engine")
    engine: Engine = given if isinstance(given, Engine) else create_db_engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("hipec migrations run online only (hipec db upgrade)")
run_migrations_online()
