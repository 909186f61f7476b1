"""Who may do what: the permission matrix, as data.

Every route of the console names exactly one :class:`Permission` (through
:func:`hipec.web.deps.require`), or is one of the few public routes (the login page, static files,
the health check). ``tests/web/test_role_matrix.py`` walks every route of the app and checks each
role against this table, so a new route is covered the day it is added.
"""

from __future__ import annotations

from enum import StrEnum

from hipec.store.users import ROLES


class Permission(StrEnum):
    """One thing a user can be allowed to do."""

    #: See cases, assessments, plans, outcomes (every role).
    READ = "read"
    #: Add assessments (PCI, candidacy), procedures and outcomes to the records.
    EDIT_RECORDS = "edit-records"
    #: Start, steer and stop a perfusion (the live console; the next step of the console).
    RUN_PERFUSION = "run-perfusion"
    #: Create accounts, change roles, deactivate accounts.
    MANAGE_USERS = "manage-users"


#: The matrix. A viewer reads only; surgeons and perfusionists keep the records and run
#: perfusions; an administrator manages accounts and reads, but does not write clinical records
#: (separation of duties: the person who hands out rights is not the one who uses them).
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ}),
    "surgeon": frozenset({Permission.READ, Permission.EDIT_RECORDS, Permission.RUN_PERFUSION}),
    "perfusionist": frozenset({Permission.READ, Permission.EDIT_RECORDS, Permission.RUN_PERFUSION}),
    "admin": frozenset({Permission.READ, Permission.MANAGE_USERS}),
}

assert set(ROLE_PERMISSIONS) == set(ROLES), "every role needs a row of the matrix"


def allows(role: str, permission: Permission) -> bool:
    """True if ``role`` holds ``permission`` (unknown roles hold nothing)."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def permissions_of(role: str) -> list[str]:
    """The permissions of ``role``, in the order of :class:`Permission`."""
    return [p.value for p in Permission if allows(role, p)]
