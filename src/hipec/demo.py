"""``make demo``: take a reference patient through the real commands, as a user would.

The patient is fictional: a 56-year-old with metachronous peritoneal metastases of a caecal
adenocarcinoma, responding to systemic therapy, planned for the Dutch mitomycin C protocol.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from rich.rule import Rule

from hipec import __version__
from hipec.cli._common import console
from hipec.cli.main import main

REFERENCE_HEIGHT_CM = 172
REFERENCE_WEIGHT_KG = 74
REFERENCE_PCI_REGIONS = {"0": 2, "5": 1, "6": "18mm", "7": 2, "8": 1}

REFERENCE_CASE: dict[str, object] = {
    "case_id": "demo-reference",
    "primary_site": "colorectal",
    "histology": "moderately differentiated adenocarcinoma of the caecum, metachronous",
    "histology_type": "adenocarcinoma",
    "extraperitoneal_disease": [],
    "response_to_systemic_therapy": "response",
    "performance_status": 0,
    "performance_scale": "ecog",
    "egfr_ml_min_1_73m2": 84,
    "bilirubin_umol_per_l": 11,
    "significant_comorbidities": [],
    "albumin_g_per_l": 38,
    "weight_loss_percent_6_months": 4,
    "bmi_kg_per_m2": round(REFERENCE_WEIGHT_KG / (REFERENCE_HEIGHT_CM / 100) ** 2, 1),
    "anticipated_cc": "CC-0",
    "age_years": 56,
    "pci_regions": REFERENCE_PCI_REGIONS,
}


def _step(title: str, argv: list[str]) -> None:
    console.print(Rule(title, style="cyan"))
    console.print(f"[bold]$ hipec {shlex.join(argv)}[/bold]")
    exit_code = main(argv)
    if exit_code != 0:
        raise SystemExit(exit_code)
    console.print()


def run_demo() -> None:
    """Print the walkthrough: PCI, CC, candidacy, regimen and dose plan."""
    console.print(
        f"[bold]hipec {__version__}[/bold]: "
        "CRS + HIPEC planning demo on a fictional reference patient.\n"
        "[yellow]Research and training software, not a certified medical device.[/yellow]\n"
    )
    pci_words = [f"{region}={score}" for region, score in REFERENCE_PCI_REGIONS.items()]
    _step("1. Peritoneal Cancer Index at laparoscopy", ["pci", *pci_words])
    _step("2. Expected completeness of cytoreduction", ["cc", "--residual-mm", "0"])
    _step(
        "3. Body surface area",
        ["bsa", "--height-cm", str(REFERENCE_HEIGHT_CM), "--weight-kg", str(REFERENCE_WEIGHT_KG)],
    )
    # the case file lives in a scratch folder; run from there so the command reads as typed
    start_folder = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="hipec-demo-") as folder:
        case_file = "reference-case.json"
        case_text = json.dumps(REFERENCE_CASE, indent=2)
        (Path(folder) / case_file).write_text(case_text, encoding="utf-8")
        os.chdir(folder)
        try:
            _step("4. Candidacy (default rules)", ["assess", case_file])
            _step(
                "5. Candidacy (PRODIGE 7 eligibility)",
                ["assess", case_file, "--rules", "prodige7"],
            )
        finally:
            os.chdir(start_folder)
    _step("6. The regimen", ["protocols", "show", "dutch-mmc"])
    _step(
        "7. The dose plan",
        [
            "plan",
            "--protocol",
            "dutch-mmc",
            "--height-cm",
            str(REFERENCE_HEIGHT_CM),
            "--weight-kg",
            str(REFERENCE_WEIGHT_KG),
        ],
    )
    console.print("Next: `.venv/bin/hipec --help` lists every command.")


if __name__ == "__main__":
    run_demo()
    sys.exit(0)
