"""``hipec cases add | list | show``: the case records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hipec.cli._common import JsonOption, console, print_json
from hipec.cli.db import store_session
from hipec.clinical.pci import PCI_REGIONS
from hipec.documents import load_document
from hipec.reports.coding import diagnosis_codes

cases_app = typer.Typer(
    name="cases", help="Case records: add, list and show cases.", no_args_is_help=True
)


@cases_app.command("add")
def add(
    case_number: Annotated[
        str | None, typer.Option("--case-number", help="Pseudonymous case number.")
    ] = None,
    sex: Annotated[str | None, typer.Option(help="female, male, other or unknown.")] = None,
    birth_year: Annotated[int | None, typer.Option("--birth-year", help="Year of birth.")] = None,
    height_cm: Annotated[float | None, typer.Option("--height-cm", help="Height [cm].")] = None,
    weight_kg: Annotated[float | None, typer.Option("--weight-kg", help="Weight [kg].")] = None,
    primary_site: Annotated[
        str | None, typer.Option("--primary-site", help="Site of the primary tumour.")
    ] = None,
    primary_icd10: Annotated[
        str | None, typer.Option("--primary-icd10", help="ICD-10 code of the primary (C18.1).")
    ] = None,
    histology: Annotated[str | None, typer.Option(help="Histology as reported.")] = None,
    histology_type: Annotated[
        str | None, typer.Option("--histology-type", help="Histology, controlled vocabulary.")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Free-text remarks.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="A case document (.toml or .json), with assessments, procedures, ..."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Add a case, from options or from a case document (--file)."""
    options: dict[str, Any] = {
        "case_number": case_number,
        "sex": sex,
        "birth_year": birth_year,
        "height_cm": height_cm,
        "weight_kg": weight_kg,
        "primary_site": primary_site,
        "primary_icd10": primary_icd10,
        "histology": histology,
        "histology_type": histology_type,
        "notes": notes,
    }
    given = {key: value for key, value in options.items() if value is not None}
    if file is not None:
        document = load_document(file)
        # options given beside the file override the file's values
        data: dict[str, Any] = {**document, **given}
    else:
        data = given
    from hipec.store.db import current_actor
    from hipec.store.repository import add_case, case_to_dict

    with store_session() as session:
        result = case_to_dict(add_case(session, data, actor=current_actor()))
    if json_output:
        print_json(result)
    else:
        console.print(f"added case {result['case_number']}")


@cases_app.command("list")
def list_command(json_output: JsonOption = False) -> None:
    """List every case (latest PCI and CC score, number of procedures and runs)."""
    from hipec.store.repository import case_summary, list_cases

    with store_session() as session:
        rows = [case_summary(patient) for patient in list_cases(session)]
    if json_output:
        print_json(rows)
        return
    if not rows:
        console.print("no cases yet (add one with 'hipec cases add')")
        return
    table = Table(title=f"{len(rows)} case(s)")
    for header in ("case", "sex", "born", "primary", "PCI", "CC", "procedures", "runs"):
        table.add_column(header)
    for row in rows:
        table.add_row(
            row["case_number"] + (" (synthetic)" if row["synthetic"] else ""),
            row["sex"],
            str(row["birth_year"]),
            row["primary_site"],
            "" if row["latest_pci"] is None else str(row["latest_pci"]),
            "" if row["latest_cc_score"] is None else f"CC-{row['latest_cc_score']}",
            str(row["procedures"]),
            str(row["perfusion_runs"]),
        )
    console.print(table)


@cases_app.command("show")
def show(
    case: Annotated[str, typer.Argument(help="Case number.")],
    json_output: JsonOption = False,
) -> None:
    """Show one case: patient, assessments, procedures, outcomes, runs, diagnosis codes."""
    from hipec.store.repository import (
        case_to_dict,
        comprehensive_complication_index_of,
        get_case,
    )

    with store_session() as session:
        patient = get_case(session, case)
        result = case_to_dict(patient)
        result["diagnosis_codes"] = [
            code.to_dict() for code in diagnosis_codes(patient.primary_site, patient.primary_icd10)
        ]
        for item, procedure in zip(result["procedures"], patient.procedures, strict=True):
            if procedure.postop is not None:
                item["postop"]["comprehensive_complication_index"] = round(
                    comprehensive_complication_index_of(procedure.postop), 1
                )
    if json_output:
        print_json(result)
        return
    _render(result)


def _render(case: dict[str, Any]) -> None:
    console.print(
        f"[bold]Case {case['case_number']}[/bold]"
        + (" (synthetic)" if case["synthetic"] else "")
        + f": {case['sex']}, born {case['birth_year']}, primary {case['primary_site']}"
        + (f", {case['histology']}" if case["histology"] else "")
    )
    if case["height_cm"] and case["weight_kg"]:
        console.print(f"  height {case['height_cm']:g} cm, weight {case['weight_kg']:g} kg")
    codes = ", ".join(f"{c['code']} {c['description']}" for c in case["diagnosis_codes"])
    console.print(f"  diagnoses: {codes}")
    for a in case["assessments"]:
        regions = ", ".join(
            f"{region.index}={score}"
            for region, score in zip(PCI_REGIONS, a["lesion_size_scores"], strict=True)
            if score
        )
        decision = f"; {a['decision']}" if a["decision"] else ""
        console.print(
            f"  assessment {a['assessed_on']} ({a['source']}): PCI {a['pci']} [{regions}]{decision}"
        )
    for p in case["procedures"]:
        cc = f", CC-{p['cc_score']}" if p["cc_score"] is not None else ""
        loss = f", blood loss {p['blood_loss_ml']} mL" if p["blood_loss_ml"] is not None else ""
        console.print(f"  procedure {p['performed_on']} ({p['technique']}){cc}{loss}")
        if p["resections"]:
            console.print("    resections: " + ", ".join(p["resections"]))
        post = p["postop"]
        if post:
            grades = ", ".join(
                f"{c['description']} (Clavien-Dindo {c['clavien_dindo']})"
                for c in post["complications"]
            )
            console.print(
                f"    post-op: ICU {post['icu_days']} d, stay {post['length_of_stay_days']} d, "
                f"CCI {post['comprehensive_complication_index']}"
                + (f"; {grades}" if grades else "")
            )
    for run in case["perfusion_runs"]:
        console.print(
            f"  perfusion {run['started_at']}: {run['status']}, regimen {run['regimen_id']}, "
            f"{run['perfusion_min'] if run['perfusion_min'] is not None else '?'} min"
        )
    for f in case["follow_ups"]:
        console.print(f"  follow-up {f['seen_on']}: {f['status']}")


def register(app: typer.Typer) -> None:
    """Add ``hipec cases`` to ``app``."""
    app.add_typer(cases_app, name="cases")
