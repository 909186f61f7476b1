"""``hipec cc``, ``hipec bsa`` and ``hipec risk ...``: clinical scores on the command line.

The commands parse, call :mod:`hipec.clinical` and print; every rule lives in the library.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from hipec.cli._common import JsonOption, console, print_json
from hipec.clinical.anthropometry import (
    HEIGHT_RANGE_CM,
    WEIGHT_RANGE_KG,
    body_surface_area_m2,
)
from hipec.clinical.cytoreduction import BOUNDARY_RULE, CcAssessment, parse_cc_score
from hipec.clinical.risk import (
    PSDSS_HISTOLOGY_DESCRIPTIONS,
    default_icrs_table,
    incomplete_cytoreduction_risk,
    psdss,
)
from hipec.errors import InvalidInputError


class BsaFormulaChoice(StrEnum):
    """Body-surface-area formulas offered on the command line."""

    MOSTELLER = "mosteller"
    DUBOIS = "dubois"


class SexChoice(StrEnum):
    """Sex as the incomplete-cytoreduction score uses it."""

    MALE = "male"
    FEMALE = "female"


class SymptomsChoice(StrEnum):
    """PSDSS symptom categories."""

    NONE = "none"
    MILD = "mild"
    SEVERE = "severe"


HistologyChoice = Enum(  # type: ignore[misc]
    "HistologyChoice", {key: key for key in PSDSS_HISTOLOGY_DESCRIPTIONS}, type=str
)


def _key_value_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAVY, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def cc_command(
    residual_mm: Annotated[
        float | None,
        typer.Option(
            "--residual-mm",
            help="Largest residual nodule after cytoreduction, in mm; 0 if none is visible.",
            show_default=False,
        ),
    ] = None,
    score: Annotated[
        str | None,
        typer.Option(
            "--score", help="A CC score as written: CC-0 to CC-3, cc1 or 1.", show_default=False
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print the completeness-of-cytoreduction score."""
    if (residual_mm is None) == (score is None):
        raise InvalidInputError(
            "cc",
            "give exactly one of --residual-mm (largest residual nodule [mm]) "
            "or --score (CC-0 to CC-3)",
        )
    assessment = (
        CcAssessment.from_residual_mm(residual_mm)
        if residual_mm is not None
        else CcAssessment(parse_cc_score(score or ""))
    )
    if json_output:
        print_json(assessment.to_dict())
        return
    rows = [
        ("Score", assessment.label),
        ("Meaning", assessment.description),
        ("Complete cytoreduction (CC-0/1)", "yes" if assessment.complete else "no"),
    ]
    if assessment.residual_mm is not None:
        rows.insert(0, ("Largest residual nodule", f"{assessment.residual_mm:g} mm"))
    console.print(_key_value_table("Completeness of cytoreduction", rows))


CC_HELP = (
    "Completeness-of-cytoreduction score (Sugarbaker) from the largest residual nodule (mm) or "
    f"from a CC score as written. Rule: {BOUNDARY_RULE}."
)


def bsa_command(
    height_cm: Annotated[
        float,
        typer.Option(
            "--height-cm",
            help=f"Height in cm, {HEIGHT_RANGE_CM[0]:g}-{HEIGHT_RANGE_CM[1]:g}.",
            show_default=False,
        ),
    ],
    weight_kg: Annotated[
        float,
        typer.Option(
            "--weight-kg",
            help=f"Weight in kg, {WEIGHT_RANGE_KG[0]:g}-{WEIGHT_RANGE_KG[1]:g}.",
            show_default=False,
        ),
    ],
    formula: Annotated[
        BsaFormulaChoice, typer.Option("--formula", help="BSA formula.")
    ] = BsaFormulaChoice.MOSTELLER,
    json_output: JsonOption = False,
) -> None:
    """Print the body surface area."""
    bsa_m2 = body_surface_area_m2(height_cm, weight_kg, formula.value)
    if json_output:
        print_json(
            {
                "bsa_m2": bsa_m2,
                "height_cm": height_cm,
                "weight_kg": weight_kg,
                "formula": formula.value,
            }
        )
        return
    console.print(
        _key_value_table(
            "Body surface area",
            [
                ("Height", f"{height_cm:g} cm"),
                ("Weight", f"{weight_kg:g} kg"),
                ("Formula", formula.value),
                ("BSA", f"{bsa_m2:.2f} m2"),
            ],
        )
    )


BSA_HELP = "Body surface area (m2) from height (cm) and weight (kg): Mosteller (default) or DuBois."


def incomplete_cytoreduction_command(
    sex: Annotated[SexChoice, typer.Option("--sex", help="Patient's sex (male scores 1 point).")],
    ascites: Annotated[
        bool,
        typer.Option(
            "--ascites/--no-ascites", help="Ascites on preoperative imaging (scores 1 point)."
        ),
    ],
    ca125: Annotated[
        float,
        typer.Option(
            "--ca125", help="Serum CA-125 in U/mL (at or above the cut-off scores 1 point)."
        ),
    ],
    cea: Annotated[
        float,
        typer.Option("--cea", help="Serum CEA in ng/mL (at or above the cut-off scores 1 point)."),
    ],
    json_output: JsonOption = False,
) -> None:
    """Print the incomplete-cytoreduction risk score."""
    result = incomplete_cytoreduction_risk(
        male=sex is SexChoice.MALE, ascites=ascites, ca125_u_per_ml=ca125, cea_ng_per_ml=cea
    )
    if json_output:
        print_json(result.to_dict())
        return
    console.print(
        _key_value_table(
            "Incomplete-cytoreduction risk (US HIPEC Collaborative)",
            [
                ("Points", f"{result.points} / 4"),
                ("Factors", ", ".join(result.factors) or "none"),
                ("Risk band", result.band),
                ("Published CC-2/3 rate", f"{100 * result.published_rate_fraction:g} %"),
                ("Source", result.citation),
            ],
        )
    )


def _points_range(low: int, high: int) -> str:
    return f"{low} points" if low == high else f"{low}-{high} points"


def _incomplete_cytoreduction_help() -> str:
    table = default_icrs_table()
    rates = ", ".join(
        f"{100 * band.cc2_3_rate_fraction:g} % ({_points_range(band.min_points, band.max_points)})"
        for band in table.bands
    )
    return (
        "Preoperative risk of incomplete cytoreduction (CC-2/3), US HIPEC Collaborative score "
        "(Zaidi et al., Ann Surg Oncol 2020): one point each for male sex, ascites, "
        f"CA-125 >= {table.ca125_cutoff_u_per_ml:g} U/mL and CEA >= {table.cea_cutoff_ng_per_ml:g} "
        f"ng/mL. Published CC-2/3 rates: {rates}."
    )


def psdss_command(
    symptoms: Annotated[
        SymptomsChoice, typer.Option("--symptoms", help="Disease-related symptoms.")
    ],
    pci: Annotated[
        int,
        typer.Option("--pci", help="Peritoneal Cancer Index, 0-39 points (e.g. from CT)."),
    ],
    histology: Annotated[
        HistologyChoice,
        typer.Option(
            "--histology",
            help="Primary tumour: "
            + "; ".join(f"{key} = {text}" for key, text in PSDSS_HISTOLOGY_DESCRIPTIONS.items())
            + ".",
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Print the PSDSS and its stage."""
    result = psdss(symptoms=symptoms.value, pci=pci, histology=histology.value)
    if json_output:
        print_json(result.to_dict())
        return
    console.print(
        _key_value_table(
            "Peritoneal Surface Disease Severity Score",
            [
                ("Points", str(result.points)),
                ("Stage", result.stage),
                (
                    "Components",
                    f"symptoms {result.symptom_points}, PCI {result.pci_points}, "
                    f"histology {result.histology_points}",
                ),
                ("Verified", "yes" if result.verified else "NO - points and cut-points unverified"),
                ("Source", result.citation),
            ],
        )
    )


PSDSS_HELP = (
    "Peritoneal Surface Disease Severity Score (Pelz et al., J Surg Oncol 2009) and its stage I-IV "
    "from symptoms, PCI (0-39 points) and primary histology. The point values and stage "
    "cut-points are NOT verified against the primary paper (the output says so)."
)


def register(app: typer.Typer) -> None:
    """Add ``hipec cc``, ``hipec bsa`` and the ``hipec risk`` group to ``app``."""
    app.command("cc", help=CC_HELP)(cc_command)
    app.command("bsa", help=BSA_HELP)(bsa_command)
    risk = typer.Typer(
        name="risk",
        help="Preoperative risk scores: incomplete cytoreduction, PSDSS.",
        no_args_is_help=True,
    )
    risk.command("incomplete-cytoreduction", help=_incomplete_cytoreduction_help())(
        incomplete_cytoreduction_command
    )
    risk.command("psdss", help=PSDSS_HELP)(psdss_command)
    app.add_typer(risk)
