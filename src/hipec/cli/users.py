"""``hipec users add | list | passwd | disable | enable``: console accounts.

A password is never an argument (it would sit in the shell history and the process list): it is
prompted for twice without echo, or read from the first line of standard input with
``--password-stdin`` (for scripts). Every change is audited with the acting operating-system user
(``HIPEC_USER`` overrides it).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from hipec.cli._common import JsonOption, console, print_json
from hipec.cli.db import store_session
from hipec.errors import InvalidInputError

users_app = typer.Typer(
    name="users", help="Console accounts: add, list, change passwords.", no_args_is_help=True
)

RoleOption = Annotated[
    str, typer.Option("--role", help="admin, surgeon, perfusionist or viewer.", show_default=False)
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]


def read_password(from_stdin: bool) -> str:
    """The new password: from standard input, or prompted twice without echo on a terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise InvalidInputError(
            "password", "no terminal to prompt on; give it on standard input with --password-stdin"
        )
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name (lower case).")],
    role: RoleOption,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Create an account with a role; the password is prompted for (or read from stdin)."""
    from hipec.store.db import current_actor
    from hipec.store.users import (
        add_user,
        check_password_strength,
        check_role,
        check_username,
        user_to_dict,
    )

    # refuse a bad name or role before asking for a password
    check_username(username)
    check_role(role)
    password = check_password_strength(read_password(password_stdin))
    with store_session() as session:
        result = user_to_dict(add_user(session, username, role, password, actor=current_actor()))
    if json_output:
        print_json(result)
    else:
        console.print(f"added user {result['username']} ({result['role']})")


@users_app.command("list")
def list_command(json_output: JsonOption = False) -> None:
    """List every account (username, role, active)."""
    from hipec.store.users import list_users, user_to_dict

    with store_session() as session:
        rows = [user_to_dict(user) for user in list_users(session)]
    if json_output:
        print_json(rows)
        return
    if not rows:
        console.print("no accounts yet (add one with 'hipec users add NAME --role admin')")
        return
    table = Table(title=f"{len(rows)} account(s)")
    for header in ("username", "role", "active", "created"):
        table.add_column(header)
    for row in rows:
        table.add_row(
            row["username"],
            row["role"],
            "yes" if row["active"] else "no",
            row["created_at"][:16].replace("T", " "),
        )
    console.print(table)


def _change(username: str, **changes: object) -> dict[str, object]:
    from hipec.store.db import current_actor
    from hipec.store.users import update_user, user_to_dict

    with store_session() as session:
        user = update_user(session, username, actor=current_actor(), **changes)  # type: ignore[arg-type]
        return user_to_dict(user)


@users_app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Set a new password; the account's open sessions end."""
    from hipec.store.users import check_password_strength

    password = check_password_strength(read_password(password_stdin))
    _change(username, password=password)
    console.print(f"password of {username} changed; its sessions ended")


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Disable an account (it can no longer log in; its sessions end)."""
    _change(username, active=False)
    console.print(f"disabled {username}")


@users_app.command("enable")
def enable(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Enable a disabled account again."""
    _change(username, active=True)
    console.print(f"enabled {username}")


def register(app: typer.Typer) -> None:
    """Add ``hipec users`` to ``app``."""
    app.add_typer(users_app, name="users")
