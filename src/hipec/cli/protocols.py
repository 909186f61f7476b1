"""``hipec protocols list|show``: the regimen library (builtin and ``HIPEC_REGIMEN_PATH``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hipec.cli._common import JsonOption, console, print_json
from hipec.protocols import Regimen, get_regimen, list_regimens, regimen_source_file

protocols_app = typer.Typer(
    name="protocols",
    help="The HIPEC regimen library: list regimens, show one.",
    no_args_is_help=True,
)


def _summary(regimen: Regimen) -> dict[str, Any]:
    return {
        "id": regimen.id,
        "name": regimen.name,
        "drugs": list(regimen.drugs),
        "technique": regimen.technique,
        "techniques": list(regimen.techniques),
        "duration_min": regimen.duration_min,
        "source": regimen.citation.short(),
        "unverified_count": len(regimen.unverified),
    }


@protocols_app.command("list")
def list_command(json_output: JsonOption = False) -> None:
    """List every regimen: id, drugs, technique, duration, source, unverified fields."""
    rows = [_summary(regimen) for regimen in list_regimens()]
    if json_output:
        print_json(rows)
        return
    table = Table(title="HIPEC regimens", title_justify="left")
    for column in ("id", "drugs", "technique", "min", "source", "unverified"):
        table.add_column(
            column,
            justify="right" if column in ("min", "unverified") else "left",
            no_wrap=column == "id",  # an id is typed by the user: never cut it
        )
    for row in rows:
        table.add_row(
            row["id"],
            " + ".join(row["drugs"]),
            " / ".join(row["techniques"]),
            f"{row['duration_min']:g}",
            escape(row["source"]),
            str(row["unverified_count"]),
        )
    console.print(table)


@protocols_app.command("show")
def show_command(
    regimen_id: Annotated[str, typer.Argument(metavar="ID", help="Regimen id.")],
    json_output: JsonOption = False,
) -> None:
    """Show every field of one regimen; unverified fields are marked, then the citation."""
    regimen = get_regimen(regimen_id)
    if json_output:
        data = regimen.model_dump(mode="json")
        data["techniques"] = list(regimen.techniques)
        data["source_file"] = str(regimen_source_file(regimen_id))
        print_json(data)
        return
    console.print(f"[bold]{escape(regimen.name)}[/bold] ({regimen.id})")
    table = Table(show_header=True, title_justify="left")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_column("verified")
    for path, value in regimen.leaves():
        if path.startswith(("citation", "additional_citations", "notes")):
            continue
        unverified = regimen.is_unverified(path)
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        table.add_row(
            escape(path),
            escape(shown),
            "[yellow]UNVERIFIED[/yellow]" if unverified else "yes",
        )
    console.print(table)
    for note in regimen.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    console.print(f"Citation: {regimen.citation.full()}", markup=False, soft_wrap=True)
    if regimen.citation.note:
        console.print(f"  ({regimen.citation.note})", markup=False, soft_wrap=True)
    for extra in regimen.additional_citations:
        console.print(f"Also: {extra.full()}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``hipec protocols list|show`` to ``app``."""
    app.add_typer(protocols_app, name="protocols")
