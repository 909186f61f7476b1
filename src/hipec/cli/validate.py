"""``hipec validate``: the twin against the published experiments of the domain brief."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hipec.cli._common import JsonOption, console, err_console, print_json
from hipec.errors import NotFoundError
from hipec.model.validation import EXPERIMENTS, ValidationRow, run_validation


def _format(value: float) -> str:
    return "n/a" if value != value else f"{value:.3g}"  # NaN is the only value != itself


def _table(rows: list[ValidationRow]) -> tuple[Table, list[str]]:
    """The table, and the numbered notes its last column refers to."""
    met = sum(row.met for row in rows)
    table = Table(
        title=f"Twin vs published experiments: {met} of {len(rows)} within tolerance",
        title_justify="left",
    )
    for column in ("experiment", "quantity", "published", "spread", "tol.", "model", "met"):
        table.add_column(column, justify="right" if column in ("tol.", "model") else "left")
    table.add_column("source")
    notes: list[str] = []
    for row in rows:
        unit = "" if row.unit == "-" else f" {row.unit}"
        source = escape(row.source)
        if row.note:
            notes.append(row.note)
            source += f" [{len(notes)}]"
        table.add_row(
            escape(row.experiment),
            escape(row.quantity),
            f"{row.published:g}{unit}",
            escape(row.spread),
            f"{row.tolerance:g}",
            _format(row.model),
            "[green]yes[/green]" if row.met else "[red]no[/red]",
            source,
        )
    return table, notes


def validate_command(
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment",
            "-e",
            help="Run only this experiment (repeatable); default: all.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Reproduce the published HIPEC experiments on the twin and compare (a report: exit 0)."""
    known = {item.identifier: item for item in EXPERIMENTS}
    chosen = tuple(EXPERIMENTS)
    if experiment:
        for name in experiment:
            if name not in known:
                raise NotFoundError(
                    "experiment", f"must be one of {', '.join(known)}, got {name!r}"
                )
        chosen = tuple(known[name] for name in dict.fromkeys(experiment))
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task("validating", total=len(chosen))

        def report(done: int, total: int, title: str) -> None:
            progress.update(task, completed=done, description=escape(title))

        rows = run_validation(chosen, progress=report)
    if json_output:
        print_json([row.as_dict() for row in rows])
        return
    table, notes = _table(rows)
    console.print(table)
    for number, note in enumerate(notes, start=1):
        console.print(f"[{number}] {escape(note)}", markup=False, soft_wrap=False)


def register(app: typer.Typer) -> None:
    """Add ``hipec validate`` to ``app``."""
    app.command("validate")(validate_command)
