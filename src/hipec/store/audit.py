"""The audit log: who changed which row, when, from what to what.

Every repository function writes its audit entries in the *same* session (so the same transaction)
as the change: either both are committed or neither. Perfusion samples, events and alarms are the
machine's append-only record and are not audited one by one; the run they belong to is audited when
it is created and when it is closed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from hipec.store.models import AuditEntry, Base

AuditAction = Literal["insert", "update", "delete"]


def jsonable(value: Any) -> Any:
    """A column value in JSON form (dates and datetimes as ISO 8601 text)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def snapshot(row: Base) -> dict[str, Any]:
    """Every column of ``row`` in JSON form."""
    mapper = inspect(type(row))
    return {attr.key: jsonable(getattr(row, attr.key)) for attr in mapper.column_attrs}


def _row_id(row: Base) -> str:
    identity = inspect(row).identity
    return ",".join(str(part) for part in identity) if identity else "?"


def record(
    session: Session,
    *,
    actor: str,
    action: AuditAction,
    row: Base,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Add one audit entry for ``row`` (flushed already, so it has its id)."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        table_name=str(row.__tablename__),
        row_id=_row_id(row),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


RowT = TypeVar("RowT", bound=Base)


def audited_insert(session: Session, row: RowT, *, actor: str) -> RowT:
    """Add ``row`` and its audit entry."""
    session.add(row)
    session.flush()
    record(session, actor=actor, action="insert", row=row, before=None, after=snapshot(row))
    return row


def audited_update(session: Session, row: RowT, changes: dict[str, Any], *, actor: str) -> RowT:
    """Set ``changes`` on ``row`` and audit the before and after states (nothing if unchanged)."""
    before = snapshot(row)
    for key, value in changes.items():
        setattr(row, key, value)
    session.flush()
    after = snapshot(row)
    if after != before:
        record(session, actor=actor, action="update", row=row, before=before, after=after)
    return row


def audited_delete(
    session: Session, row: Base, *, actor: str, before: dict[str, Any] | None = None
) -> None:
    """Delete ``row``; the audit entry keeps ``before`` (default: the row's columns)."""
    kept = before if before is not None else snapshot(row)
    record(session, actor=actor, action="delete", row=row, before=kept, after=None)
    session.delete(row)
    session.flush()


def audit_trail(
    session: Session, table_name: str | None = None, row_id: str | None = None
) -> list[AuditEntry]:
    """Audit entries, oldest first, optionally for one table and one row."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if table_name is not None:
        query = query.where(AuditEntry.table_name == table_name)
    if row_id is not None:
        query = query.where(AuditEntry.row_id == row_id)
    return list(session.scalars(query))
