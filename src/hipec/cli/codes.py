"""``hipec codes --perfusion-min N [--primary-site S] [--time-rule R] [--json]``: billing codes."""

from __future__ import annotations

from typing import Annotated

import typer

from hipec.cli._common import JsonOption, console, print_json
from hipec.reports.coding import DEFAULT_TIME_RULE, TIME_RULES, diagnosis_codes, hipec_cpt_codes


def codes(
    perfusion_min: Annotated[float, typer.Option("--perfusion-min", help="Perfusion time [min].")],
    primary_site: Annotated[
        str | None,
        typer.Option("--primary-site", help="Add ICD-10-CM codes for this primary site."),
    ] = None,
    time_rule: Annotated[
        str,
        typer.Option("--time-rule", help=f"When a partial unit counts: {', '.join(TIME_RULES)}."),
    ] = DEFAULT_TIME_RULE,
    json_output: JsonOption = False,
) -> None:
    """CPT 96547/96548 from the perfusion minutes (and ICD-10-CM codes from the primary site)."""
    result = hipec_cpt_codes(perfusion_min, time_rule)
    if primary_site is not None:
        result += diagnosis_codes(primary_site)
    if json_output:
        print_json([code.to_dict() for code in result])
        return
    if not any(code.system == "CPT" for code in result):
        console.print(
            f"{perfusion_min:g} min: no HIPEC code reportable under the {time_rule} time rule"
        )
    for code in result:
        units = f" x{code.units}" if code.system == "CPT" else ""
        console.print(f"{code.system} {code.code}{units}  {code.description}")


def register(app: typer.Typer) -> None:
    """Add ``hipec codes`` to ``app``."""
    app.command("codes")(codes)
