"""Placeholder until the command lands."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
