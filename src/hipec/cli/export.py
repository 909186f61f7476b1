"""``hipec export fhir CASE | json | csv`` and ``hipec import json FILE``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hipec.cli._common import console, err_console, print_json
from hipec.cli.db import store_session
from hipec.errors import InvalidInputError

export_app = typer.Typer(
    name="export",
    help="Export a case (FHIR) or the whole registry (JSON, CSV).",
    no_args_is_help=True,
)
import_app = typer.Typer(name="import", help="Import a registry export.", no_args_is_help=True)


@export_app.command("fhir")
def export_fhir(case: Annotated[str, typer.Argument(help="Case number.")]) -> None:
    """Write the case as a FHIR R4 Bundle (JSON) to standard output."""
    from hipec.reports.fhir import case_bundle
    from hipec.store.repository import get_case

    with store_session() as session:
        bundle = case_bundle(get_case(session, case))
    print_json(bundle)


@export_app.command("json")
def export_json(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: standard output).")
    ] = None,
) -> None:
    """Export the whole registry as JSON (every case, with its runs' samples)."""
    from hipec.store.registry import export_registry

    with store_session() as session:
        document = export_registry(session)
    if out is None:
        print_json(document)
        return
    try:
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(str(out), f"cannot be written ({exc.strerror})") from None
    err_console.print(f"exported {len(document['cases'])} case(s) to {out}")


@export_app.command("csv")
def export_csv_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the CSV files (one per table).")],
) -> None:
    """Export the whole registry as CSV: one file per table into the folder --out."""
    from hipec.store.registry import export_csv

    with store_session() as session:
        files = export_csv(session, out)
    console.print(f"wrote {len(files)} CSV files to {out}")


@import_app.command("json")
def import_json(
    file: Annotated[Path, typer.Argument(help="A registry export (hipec export json).")],
) -> None:
    """Import a registry export: every case is validated first; all or nothing."""
    from hipec.store.db import current_actor
    from hipec.store.registry import RegistryImportError, import_registry, read_registry_file

    data, lines = read_registry_file(file)
    try:
        with store_session() as session:
            imported = import_registry(session, data, actor=current_actor(), case_lines=lines)
    except RegistryImportError as exc:
        for problem in exc.problems:
            err_console.print(f"error: {file}: {problem}", markup=False, soft_wrap=True)
        err_console.print(
            f"error: import refused: {len(exc.problems)} bad case(s); nothing was imported",
            markup=False,
        )
        raise typer.Exit(2) from None
    console.print(f"imported {len(imported)} case(s)")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``hipec export`` and ``hipec import`` to ``app``."""
    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")
