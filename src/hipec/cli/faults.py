"""``hipec faults``: the safety campaign (fault x onset x regimen x seed) with a progress bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hipec.cli._common import JsonOption, console, err_console, print_json
from hipec.errors import InvalidInputError

if TYPE_CHECKING:  # the twin (numpy, scipy) is imported only when the campaign starts
    from hipec.runner.campaign import CampaignResult, CaseResult


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(result: CampaignResult) -> Table:
    table = Table(title="Safety campaign", header_style="bold")
    for column in (
        "fault",
        "runs",
        "passed",
        "detected",
        "median s",
        "max s",
        "limit s",
        "worst region C",
        "worst inflow C",
        "inflow margin K",
        "safe action",
        "failures",
    ):
        table.add_column(column, justify="left" if column in ("fault", "safe action") else "right")
    for row in result.summary:
        failures = ", ".join(f"{kind} x{count}" for kind, count in row.failures.items()) or "-"
        table.add_row(
            row.fault,
            str(row.runs),
            str(row.passed),
            str(row.detected) if row.limit_s is not None else "-",
            _fmt(row.detection_median_s),
            _fmt(row.detection_max_s),
            _fmt(row.limit_s, 0),
            f"{row.worst_region_c:.2f}",
            f"{row.worst_inflow_c:.2f}",
            f"{row.worst_inflow_margin_k:.2f}",
            ", ".join(row.safe_actions),
            failures,
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``faults`` to ``app``."""

    @app.command("faults")
    def faults_command(
        runs: Annotated[
            int | None,
            typer.Option(
                "--runs",
                help="Fault runs (taken in an order that covers every fault, then every onset, "
                "regimen and seed); default: every fault x onset x regimen for the seeds given.",
            ),
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="First sensor-noise seed.")] = 0,
        seeds: Annotated[
            int, typer.Option("--seeds", help="Seeds from --seed on (the matrix's last axis).")
        ] = 1,
        workers: Annotated[
            int | None,
            typer.Option("--workers", help="Worker processes (default: the cores, at most 2)."),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """The fault campaign: every fault at several onsets on every library regimen; checks
        true temperatures, HIGH alarm within its limit, and the safe state."""
        from hipec.runner.campaign import (
            CampaignPlan,
            default_workers,
            regimen_ids,
            run_campaign,
        )

        if seed < 0:
            raise InvalidInputError("seed", f"must be >= 0, got {seed}")
        if not 1 <= seeds <= 100:
            raise InvalidInputError("seeds", f"must be 1-100, got {seeds}")
        if workers is not None and not 1 <= workers <= 64:
            raise InvalidInputError("workers", f"must be 1-64, got {workers}")
        plan = CampaignPlan(
            regimens=regimen_ids(), seeds=tuple(range(seed, seed + seeds)), runs=runs
        )
        count = workers if workers is not None else default_workers()
        progress = Progress(
            TextColumn("[bold]faults"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=err_console,
            transient=as_json,
        )
        with progress:
            task = progress.add_task("", total=None)

            def advance(result: CaseResult, done: int, total: int) -> None:
                mark = "ok" if result.passed else "FAIL"
                progress.update(
                    task, completed=done, total=total, description=f"{result.case.label} {mark}"
                )

            result = run_campaign(plan, workers=count, progress=advance)
        if as_json:
            print_json(result.to_dict())
        else:
            console.print(_table(result))
            for failure in result.to_dict()["failures"]:
                console.print(f"FAIL {failure['run']}: {'; '.join(failure['failures'])}")
            console.print(
                f"{len(result.runs)} fault runs + {len(result.controls)} control runs in "
                f"{result.wall_s:.0f} s on {result.workers} worker(s): "
                + ("every requirement met" if result.passed else "REQUIREMENTS NOT MET")
            )
        if not result.passed:
            raise typer.Exit(1)
