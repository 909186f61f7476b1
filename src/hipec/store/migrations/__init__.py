"""Alembic migrations of the case database (run them with ``hipec db upgrade``)."""
