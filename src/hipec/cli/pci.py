"""``hipec pci``: the Peritoneal Cancer Index from region scores, as a table and a picture."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hipec.cli._common import JsonOption, console, print_json
from hipec.clinical.pci import (
    MAX_PCI,
    PCI_GRID_LAYOUT,
    PCI_REGIONS,
    PCI_SMALL_BOWEL_ROW,
    PciScore,
    parse_region_arguments,
)

#: Colour of a region by its lesion size score: none, small, medium, large/confluent.
_SCORE_STYLES = ("green", "yellow", "dark_orange", "bold red")
_CELL_WIDTH = 20

RegionsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="REGION=SCORE...",
        help="Region 0-12 and its lesion size: LS 0-3 (3 or LS3), the largest implant's size in "
        "mm or cm (12mm, 1.2cm) or 'confluent'. Regions not given score 0.",
        show_default=False,
    ),
]


def _region_cell(score: PciScore, index: int) -> Panel:
    region = PCI_REGIONS[index]
    ls = score.lesion_size_scores[index]
    style = _SCORE_STYLES[ls]
    body = Text(justify="center")
    body.append(f"{region.index} {region.name}\n", style="bold")
    body.append(f"LS {ls}", style=style)
    return Panel(body, border_style=style, width=_CELL_WIDTH, box=box.ROUNDED)


def _layout_picture(score: PciScore) -> Group:
    """The 3x3 abdominal grid as seen facing the patient, small-bowel regions 9-12 beneath."""
    grid = Table.grid(padding=(0, 0))
    for _ in range(3):
        grid.add_column()
    for row in PCI_GRID_LAYOUT:
        grid.add_row(*(_region_cell(score, index) for index in row))
    bowel = Table.grid(padding=(0, 0))
    for _ in PCI_SMALL_BOWEL_ROW:
        bowel.add_column()
    bowel.add_row(*(_region_cell(score, index) for index in PCI_SMALL_BOWEL_ROW))
    return Group(
        Text("Abdomen, facing the patient (patient's right on the left)", style="dim"),
        grid,
        Text("Small bowel", style="dim"),
        bowel,
    )


def _score_table(score: PciScore) -> Table:
    table = Table(title="Peritoneal Cancer Index", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("Region", justify="right")
    table.add_column("Name")
    table.add_column("LS", justify="right")
    for region, ls in score.regions():
        table.add_row(str(region.index), region.name, Text(str(ls), style=_SCORE_STYLES[ls]))
    return table


PCI_HELP = (
    "Peritoneal Cancer Index (Jacquet & Sugarbaker 1996), 0-39 points, from region scores, "
    "e.g. hipec pci 0=3 6=12mm 9=confluent.\n\n"
    "Sizes are the largest implant's diameter in mm or cm: 0 mm LS-0; over 0 up to 5 mm LS-1; "
    "over 5 up to 50 mm LS-2; over 50 mm or confluent LS-3. "
    "Regions: 0 Central, 1 Right upper, 2 Epigastrium, 3 Left upper, 4 Left flank, 5 Left lower, "
    "6 Pelvis, 7 Right lower, 8 Right flank, 9 Upper jejunum, 10 Lower jejunum, 11 Upper ileum, "
    "12 Lower ileum."
)


def pci_command(regions: RegionsArgument = None, json_output: JsonOption = False) -> None:
    """Print the PCI of the given region scores (help text: :data:`PCI_HELP`)."""
    score = parse_region_arguments(regions or [])
    if json_output:
        print_json(score.to_dict())
        return
    console.print(_layout_picture(score))
    console.print(_score_table(score))
    console.print(Text(f"PCI {score.total} / {MAX_PCI}", style="bold"))


def register(app: typer.Typer) -> None:
    """Add ``hipec pci`` to ``app``."""
    app.command("pci", help=PCI_HELP)(pci_command)
