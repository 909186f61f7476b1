"""``hipec plan``: a dose plan for one patient and one regimen."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hipec.cli._common import JsonOption, console, print_json
from hipec.protocols import get_regimen, plan_perfusion


def plan(
    protocol: Annotated[
        str, typer.Option("--protocol", "-p", help="Regimen id (see 'hipec protocols list').")
    ],
    height_cm: Annotated[float, typer.Option("--height-cm", help="Height [cm], 100-250.")],
    weight_kg: Annotated[float, typer.Option("--weight-kg", help="Weight [kg], 25-300.")],
    bsa_formula: Annotated[
        str, typer.Option("--bsa-formula", help="Body surface area formula: mosteller or dubois.")
    ] = "mosteller",
    technique: Annotated[
        str | None,
        typer.Option(
            "--technique",
            help="open, closed or laparoscopic (default: the regimen's own technique).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Plan one perfusion: BSA, carrier volume, each dose in mg at its time, co-medication."""
    result = plan_perfusion(
        get_regimen(protocol),
        height_cm=height_cm,
        weight_kg=weight_kg,
        bsa_formula=bsa_formula,
        technique=technique,
    )
    data = result.to_dict()
    if json_output:
        print_json(data)
        return

    console.print(f"[bold]{escape(data['name'])}[/bold] ({data['protocol']}, {data['technique']})")
    console.print(
        f"BSA {data['bsa_m2']:.2f} m2 ({data['bsa_formula']}); "
        f"carrier {data['carrier']['volume_l']:.2f} L {data['carrier']['solution']} "
        f"({data['carrier']['rule']})",
        markup=False,
    )
    console.print(
        f"Target {data['target_temperature_c']:g} C ({data['target_site'].replace('_', '-')}), "
        f"{data['duration_min']:g} min; timer starts {data['timer_start_meaning']}"
    )
    doses = Table(title="Intraperitoneal doses", title_justify="left")
    for column in ("at min", "drug", "mg", "mg/m2", "share"):
        doses.add_column(column, justify="left" if column == "drug" else "right")
    for dose in data["doses"]:
        doses.add_row(
            f"{dose['at_min']:g}",
            escape(dose["drug"]) + (" (capped)" if dose["cap_applied"] else ""),
            f"{dose['mg']:.1f}",
            f"{dose['mg_per_m2']:.2f}",
            f"{dose['fraction']:.0%}",
        )
    console.print(doses)
    totals = Table(title="Totals", title_justify="left")
    for column in ("drug", "mg", "dose", "at fill mg/L"):
        totals.add_column(column, justify="left" if column == "drug" else "right")
    for total in data["totals"]:
        totals.add_row(
            escape(total["drug"]),
            f"{total['mg']:.1f}",
            f"{total['dose']:g} {total['dose_unit']}",
            f"{total['concentration_at_fill_mg_per_l']:.2f}",
        )
    console.print(totals)
    if data["systemic"]:
        systemic = Table(title="Systemic co-medication", title_justify="left")
        for column in ("at min", "drug", "mg", "route", "note"):
            systemic.add_column(column)
        for item in data["systemic"]:
            systemic.add_row(
                f"{item['at_min']:g}",
                escape(item["drug"]),
                f"{item['mg']:.1f}",
                item["route"].upper(),
                escape(item["note"] or ""),
            )
        console.print(systemic)
    for warning in data["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    console.print(f"Source: {data['citation']}", soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``hipec plan`` to ``app``."""
    app.command("plan")(plan)
