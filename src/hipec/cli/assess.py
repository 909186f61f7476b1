"""``hipec assess CASE_FILE [--rules NAME_OR_FILE] [--json]``: candidacy for CRS + HIPEC."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hipec.cli._common import JsonOption, console, print_json
from hipec.clinical.candidacy import Assessment, RuleResult, assess, load_case, load_rule_set

_DECISION_STYLES = {
    "candidate": "bold white on green",
    "needs team review": "bold black on yellow",
    "not a candidate": "bold white on red",
}
_OUTCOME_STYLES = {
    "exclude": ("EXCLUDE", "bold red"),
    "review": ("REVIEW", "bold yellow"),
    "met": ("met", "green"),
    "not applicable": ("n/a", "dim"),
}


def _render(assessment: Assessment) -> Group:
    counts = {outcome: 0 for outcome in _OUTCOME_STYLES}
    for result in assessment.results:
        counts[result.outcome] += 1
    case_label = assessment.case.case_id or assessment.case.primary_site
    style = _DECISION_STYLES[assessment.decision]
    summary = Text(
        f"rule set {assessment.rule_set}: {counts['exclude']} exclude, {counts['review']} review, "
        f"{counts['met']} met, {counts['not applicable']} not applicable",
        style="dim",
        justify="center",
    )
    headline = Panel(
        Group(Text(assessment.decision.upper(), style=style, justify="center"), summary),
        title=f"CRS + HIPEC candidacy: {case_label}",
        border_style=style.split()[-1],
        padding=(1, 2),
    )
    parts: list[RenderableType] = [headline]

    problems = Table.grid(padding=(0, 2))
    problems.add_column(no_wrap=True)
    problems.add_column()
    met = Table.grid(padding=(0, 2))
    met.add_column(no_wrap=True)
    met.add_column()
    not_applicable: list[str] = []
    for result in assessment.problems_first():
        label, label_style = _OUTCOME_STYLES[result.outcome]
        if result.is_problem:
            body = Text.assemble(
                (result.rule.id, "bold"),
                "\n",
                result.message,
                "\n",
                (_source_text(result), "dim"),
            )
            problems.add_row(Text(label, style=label_style), body)
            problems.add_row("", "")
        elif result.outcome == "met":
            met.add_row(Text(label, style=label_style), Text(result.message))
        else:
            not_applicable.append(result.rule.id)
    if problems.row_count:
        parts += [Text("Problems", style="bold"), problems]
    if met.row_count:
        parts += [Text("Criteria met", style="bold"), met]
    if not_applicable:
        parts.append(Text("Not applicable: " + ", ".join(not_applicable), style="dim"))
    parts.append(
        Text(
            "\nResearch and training software, not a medical device: this supports, never "
            "replaces, the multidisciplinary team.",
            style="dim italic",
        )
    )
    return Group(*parts)


def _source_text(result: RuleResult) -> str:
    verified = "" if result.rule.verified else "  [verified: no]"
    return f"source: {result.rule.source}{verified}"


def assess_command(
    case_file: Annotated[
        Path,
        typer.Argument(
            metavar="CASE_FILE",
            help="Case file (.toml or .json); see docs/examples/cases/.",
            show_default=False,
        ),
    ],
    rules: Annotated[
        str,
        typer.Option(
            "--rules",
            metavar="NAME_OR_FILE",
            help="Rule set: a built-in name (default, prodige7) or a .toml/.json file.",
        ),
    ] = "default",
    json_output: JsonOption = False,
) -> None:
    """Assess a case for CRS + HIPEC: candidate, not a candidate, or needs team review."""
    # Load the rules first: a bad rule file is refused even before the case is read.
    rule_set = load_rule_set(rules)
    case = load_case(case_file)
    assessment = assess(case, rule_set)
    if json_output:
        print_json(assessment.to_dict())
        return
    console.print(_render(assessment))


def register(app: typer.Typer) -> None:
    """Add ``assess`` to ``app``."""
    app.command("assess")(assess_command)
