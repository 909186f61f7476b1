"""``hipec report CASE [--html FILE] [--pdf FILE] [--time-rule R] [--json]``: procedure report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hipec.cli._common import JsonOption, console, print_json
from hipec.errors import InvalidInputError
from hipec.reports.coding import DEFAULT_TIME_RULE, TIME_RULES

# The report modules pull in SQLAlchemy, Matplotlib, Jinja2 and ReportLab: they are imported inside
# the command so that every other command starts fast.


def _check_writable(path: Path, option: str) -> Path:
    """Refuse an output path that cannot be written, before any work is done."""
    target = path.expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise InvalidInputError(option, f"must be a file name, got the folder {str(path)!r}")
    if not folder.is_dir():
        raise InvalidInputError(option, f"cannot write {str(path)!r}: no folder {str(folder)!r}")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InvalidInputError(option, f"cannot write {str(path)!r}: permission denied")
    return target


def report(
    case: Annotated[str, typer.Argument(help="Case number.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the report as one HTML file.")
    ] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the report as a PDF.")] = None,
    time_rule: Annotated[
        str,
        typer.Option("--time-rule", help=f"CPT rule for a partial unit: {', '.join(TIME_RULES)}."),
    ] = DEFAULT_TIME_RULE,
    json_output: JsonOption = False,
) -> None:
    """The procedure report of a case: plan, PCI map, CRS and CC, perfusion, billing codes."""
    html_path = _check_writable(html, "--html") if html is not None else None
    pdf_path = _check_writable(pdf, "--pdf") if pdf is not None else None
    if time_rule not in TIME_RULES:
        raise InvalidInputError(
            "--time-rule", f"must be one of {', '.join(TIME_RULES)}, got {time_rule!r}"
        )
    from hipec.cli.db import store_session
    from hipec.reports.report import build_report, report_to_dict

    with store_session() as session:
        procedure_report = build_report(session, case, time_rule=time_rule)
    written: list[str] = []
    if html_path is not None:
        from hipec.reports.html import write_html

        written.append(str(write_html(procedure_report, html_path)))
    if pdf_path is not None:
        from hipec.reports.pdf import write_pdf

        written.append(str(write_pdf(procedure_report, pdf_path)))
    if json_output:
        result = report_to_dict(procedure_report)
        result["written"] = written
        print_json(result)
        return
    _summary(procedure_report)
    for path in written:
        console.print(f"wrote {path}")


def _summary(procedure_report: object) -> None:
    """A few lines on the terminal: what the report holds."""
    from hipec.reports.html import report_text
    from hipec.reports.report import ProcedureReport

    assert isinstance(procedure_report, ProcedureReport)
    text = report_text(procedure_report)
    console.print(f"[bold]{text.title}[/bold]: {text.subtitle}", soft_wrap=True)
    for notice in text.notices:
        console.print(f"  [bold red]{notice}[/bold red]", soft_wrap=True)
    pci = procedure_report.pci
    if pci is not None:
        console.print(f"  PCI {pci.pci} ({pci.source}, {pci.assessed_on})")
    surgery = procedure_report.surgery
    if surgery is not None and surgery.cc_score is not None:
        console.print(f"  CC-{surgery.cc_score}, {len(surgery.resections)} resection(s)")
    run = procedure_report.run
    if run is None:
        console.print("  no perfusion recorded")
    else:
        minutes = run.totals.perfusion_min
        console.print(
            f"  perfusion run {run.run_id} ({run.status}): "
            + (f"{minutes:.0f} min" if minutes is not None else "time not recorded")
            + f", {len(run.alarms)} alarm(s)"
        )
    codes = [*procedure_report.billing.cpt, *procedure_report.billing.icd10]
    console.print(
        "  codes: "
        + (
            ", ".join(f"{c.code} x{c.units}" if c.system == "CPT" else c.code for c in codes)
            or "none"
        )
    )


def register(app: typer.Typer) -> None:
    """Add ``hipec report`` to ``app``."""
    app.command("report")(report)
