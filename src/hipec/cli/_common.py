"""Conventions shared by every command: ``--json``, consoles, and printing."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on standard output.")
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(data: object) -> None:
    """Write ``data`` as indented JSON to standard output (never wrapped or coloured)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
