"""Console accounts, their roles, and server-side login sessions.

Accounts live in their own declarative base (:class:`AuthBase`, own ``MetaData``), not in
:class:`hipec.store.models.Base`: the registry export (``hipec export``) writes every table of
``Base.metadata`` and must never carry password hashes or session tokens. The tables are still
created by the Alembic migrations (revision ``0002``), like every other table.

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, RFC 9106 low-memory profile). A
session is a random 256-bit token handed to the browser once; the database keeps only its
SHA-256 digest, so a copy of the database does not let anyone log in. Every change to an account
is written to the audit log with the acting user; hashes never enter the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    MetaData,
    String,
    delete,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from hipec.errors import InvalidInputError, NotFoundError
from hipec.store.models import NAMING_CONVENTION, AuditEntry, UtcDateTime, utc_now

Role = Literal["admin", "surgeon", "perfusionist", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)

#: Usernames: lower-case letters, digits, ".", "_" and "-", 2-40 characters, starting alphanumeric.
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
#: Shortest password accepted [characters] (NIST SP 800-63B asks for at least 8; we ask for more).
MIN_PASSWORD_LENGTH = 10
#: Longest password accepted [characters]; bounds the hashing work one request can cause.
MAX_PASSWORD_LENGTH = 256

#: Argon2id parameters: RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes).
PASSWORD_HASH_PARAMETERS = profiles.RFC_9106_LOW_MEMORY
_HASHER = PasswordHasher.from_parameters(PASSWORD_HASH_PARAMETERS)


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so the answer takes as long either way."""
    return _HASHER.hash(secrets.token_urlsafe(16))


class AuthBase(DeclarativeBase):
    """Declarative base of the account tables (kept out of the registry export)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime}  # noqa: RUF012 - read by SQLAlchemy


class User(AuthBase):
    """One console account."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'surgeon', 'perfusionist', 'viewer')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class WebSession(AuthBase):
    """A logged-in browser: the token's digest, its CSRF token and its expiry."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column()
    client: Mapped[str | None] = mapped_column(String(100))


# --------------------------------------------------------------------------------------------
# Passwords
# --------------------------------------------------------------------------------------------


def check_password_strength(password: str) -> str:
    """Return ``password`` if it is long enough, else refuse it.

    Raises
    ------
    InvalidInputError
        Field ``password`` if it has fewer than :data:`MIN_PASSWORD_LENGTH` or more than
        :data:`MAX_PASSWORD_LENGTH` characters.
    """
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            "password",
            f"must have {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters, "
            f"got {len(password)}",
        )
    return password


def hash_password(password: str) -> str:
    """The Argon2id hash (PHC string) of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``password_hash``; None checks a dummy (same cost)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return (
            _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password (16 URL-safe characters, 96 bits) for demo accounts."""
    return secrets.token_urlsafe(12)


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


def check_username(username: str) -> str:
    """``username`` if it matches :data:`USERNAME_PATTERN` (InvalidInputError otherwise)."""
    if not USERNAME_PATTERN.match(username):
        raise InvalidInputError(
            "username",
            "must be 2-40 lower-case letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit, got {username!r}",
        )
    return username


def check_role(role: str) -> Role:
    """``role`` if it is one of :data:`ROLES` (InvalidInputError otherwise)."""
    if role not in ROLES:
        raise InvalidInputError("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    return role  # type: ignore[return-value]  # checked against the Literal's values above


def _user_snapshot(user: User) -> dict[str, Any]:
    # never the hash: the audit log is exported and read by people who must not see it
    return {"id": user.id, "username": user.username, "role": user.role, "active": user.active}


def _audit(
    session: Session,
    *,
    actor: str,
    action: Literal["insert", "update", "delete"],
    table: str,
    row_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            table_name=table,
            row_id=str(row_id),
            before=before,
            after=after,
        )
    )


def get_user(session: Session, username: str) -> User:
    """The account ``username`` (NotFoundError field ``username`` if none)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("username", f"no user {username!r} (see 'hipec users list')")
    return user


def find_user(session: Session, username: str) -> User | None:
    """The account ``username``, or None."""
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    """Every account, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def add_user(session: Session, username: str, role: str, password: str, *, actor: str) -> User:
    """Create an account; audited (without the hash).

    Raises
    ------
    InvalidInputError
        For a malformed username, an unknown role, a too short password or a taken username.
    """
    check_username(username)
    check_role(role)
    check_password_strength(password)
    if find_user(session, username) is not None:
        raise InvalidInputError("username", f"user {username!r} already exists")
    user = User(username=username, role=role, password_hash=hash_password(password), active=True)
    session.add(user)
    session.flush()
    _audit(
        session,
        actor=actor,
        action="insert",
        table="users",
        row_id=user.id,
        before=None,
        after=_user_snapshot(user),
    )
    return user


def update_user(
    session: Session,
    username: str,
    *,
    actor: str,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change an account's role, active flag or password; audited. Ends its sessions if it is
    deactivated, changes role or gets a new password (the old sessions carried the old rights)."""
    user = get_user(session, username)
    before = _user_snapshot(user)
    if role is not None:
        user.role = check_role(role)
    if active is not None:
        user.active = active
    if password is not None:
        user.password_hash = hash_password(check_password_strength(password))
    session.flush()
    after = _user_snapshot(user)
    if after != before or password is not None:
        changed = {**after, "password_changed": password is not None}
        _audit(
            session,
            actor=actor,
            action="update",
            table="users",
            row_id=user.id,
            before=before,
            after=changed,
        )
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active account whose password matches, else None (same work whether or not the
    username exists). Rehashes the password when Argon2's parameters were raised."""
    user = find_user(session, username)
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None  # verify_password is False without a hash
    if not user.active:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def user_to_dict(user: User) -> dict[str, Any]:
    """An account in JSON form (never the hash)."""
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


# --------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a session token (what the database keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session just created: the token for the cookie (shown once) and its CSRF token."""

    token: str
    csrf_token: str
    expires_at: dt.datetime


def create_session(
    session: Session, user: User, *, lifetime: dt.timedelta, client: str | None, actor: str
) -> NewSession:
    """Start a login session for ``user``; audited as a login."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utc_now()
    row = WebSession(
        token_sha256=token_digest(token),
        user_id=user.id,
        csrf_token=csrf,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        client=(client or "")[:100] or None,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        actor=actor,
        action="insert",
        table="web_sessions",
        row_id=row.id,
        before=None,
        after={"event": "login", "username": user.username, "client": row.client},
    )
    return NewSession(token=token, csrf_token=csrf, expires_at=row.expires_at)


@dataclass(frozen=True)
class ActiveSession:
    """A valid session and its account, detached from the database session."""

    session_id: int
    user_id: int
    username: str
    role: Role
    csrf_token: str


def lookup_session(
    session: Session, token: str, *, idle_timeout: dt.timedelta
) -> ActiveSession | None:
    """The live session of ``token``, or None if unknown, expired, idle too long or its account
    is inactive. Refreshes its last-seen time; deletes it if it has lapsed."""
    row = session.scalar(select(WebSession).where(WebSession.token_sha256 == token_digest(token)))
    if row is None:
        return None
    now = utc_now()
    user = session.get(User, row.user_id)
    if (
        user is None
        or not user.active
        or now >= row.expires_at
        or now - row.last_seen_at > (idle_timeout)
    ):
        session.delete(row)
        return None
    row.last_seen_at = now
    return ActiveSession(
        session_id=row.id,
        user_id=user.id,
        username=user.username,
        role=check_role(user.role),
        csrf_token=row.csrf_token,
    )


def end_session(session: Session, session_id: int, *, actor: str) -> None:
    """Log out: delete the session row (its token stops working at once); audited."""
    row = session.get(WebSession, session_id)
    if row is None:
        return
    _audit(
        session,
        actor=actor,
        action="delete",
        table="web_sessions",
        row_id=row.id,
        before={"event": "logout"},
        after=None,
    )
    session.delete(row)


def purge_expired_sessions(session: Session) -> int:
    """Delete every expired session; return how many."""
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= utc_now()))
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "ActiveSession",
    "AuthBase",
    "NewSession",
    "Role",
    "User",
    "WebSession",
    "add_user",
    "authenticate",
    "check_password_strength",
    "check_role",
    "check_username",
    "create_session",
    "end_session",
    "find_user",
    "generate_password",
    "get_user",
    "hash_password",
    "list_users",
    "lookup_session",
    "purge_expired_sessions",
    "token_digest",
    "update_user",
    "user_to_dict",
    "verify_password",
]
