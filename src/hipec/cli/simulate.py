"""``hipec simulate``: one unattended perfusion on the digital twin (cascade controller unless
chosen otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hipec.cli._common import JsonOption, console, print_json
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen, plan_perfusion


def simulate(
    protocol: Annotated[
        str, typer.Option("--protocol", "-p", help="Regimen id (see 'hipec protocols list').")
    ],
    height_cm: Annotated[float, typer.Option("--height-cm", help="Height [cm], 100-250.")],
    weight_kg: Annotated[float, typer.Option("--weight-kg", help="Weight [kg], 25-300.")],
    technique: Annotated[
        str | None, typer.Option("--technique", help="open or closed (default: the regimen's).")
    ] = None,
    flow_l_min: Annotated[
        float | None,
        typer.Option("--flow-l-min", help="Perfusion flow [L/min], 0.3-4 (default: regimen)."),
    ] = None,
    inflow_c: Annotated[
        float | None,
        typer.Option("--inflow-c", help="Fix the inflow temperature setpoint [C]."),
    ] = None,
    duration_min: Annotated[
        float | None,
        typer.Option("--duration-min", help="Perfusion duration [min], 1-240 (default: regimen)."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG figure of the run to this file.")
    ] = None,
    controller: Annotated[
        str,
        typer.Option(
            "--controller",
            help="Temperature controller: cascade, pid (the baseline) or coverage (all 13 "
            "regions in 41-43 C).",
        ),
    ] = "cascade",
    flow_policy: Annotated[
        str,
        typer.Option(
            "--flow-policy",
            help="Perfusion flow when --flow-l-min is not given: regimen, upper or coverage.",
        ),
    ] = "regimen",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sensor noise.")] = 0,
    period_s: Annotated[
        float | None,
        typer.Option("--period-s", help="Control period [s], 0-60 (default: the machine's, 1 s)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Simulate one perfusion (unattended, as fast as possible)."""
    if technique is not None and technique not in ("open", "closed"):
        raise InvalidInputError("technique", f"must be open or closed, got {technique!r}")
    if inflow_c is not None and controller == "coverage":
        raise InvalidInputError(
            "controller", "coverage sets the inflow itself: give --inflow-c with cascade or pid"
        )
    if plot is not None and plot.suffix.lower() != ".png":
        raise InvalidInputError("plot", f"must be a .png file, got {str(plot)!r}")
    from hipec.runner import RunConfig, simulated_run, simulation_plan, simulation_report
    from hipec.runner.threads import limit_blas_threads

    limit_blas_threads()  # the twin's small matrices run faster on one BLAS thread
    plan = plan_perfusion(
        get_regimen(protocol), height_cm=height_cm, weight_kg=weight_kg, technique=technique
    )
    plan = simulation_plan(plan, inflow_c=inflow_c, duration_min=duration_min)
    config = RunConfig(
        controller=controller,
        speed=None,
        perfusion_flow_l_per_min=flow_l_min,
        flow_policy=flow_policy,  # type: ignore[arg-type]  # checked by RunConfig
        control_period_s=period_s,
    )
    result = simulated_run(plan, config, seed=seed).run()
    report = simulation_report(result, plan)
    if plot is not None:
        from hipec.reports.figures import plot_simulation  # Matplotlib only when asked

        name = plan.regimen_name
        title = name if f"({plan.technique}" in name else f"{name} ({plan.technique})"
        plot_simulation(result, plot, title=title)
        report["plot"] = str(plot)
    if json_output:
        print_json(report)
        return
    _print_report(report)


def _show(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _print_report(report: dict[str, Any]) -> None:
    thermal = report["thermal"]
    console.print(
        f"[bold]{escape(report['protocol'])}[/bold] ({report['technique']}), "
        f"{report['duration_min']:g} min: {report['outcome']}"
    )
    console.print(
        f"Target {report['target_c']:g} C ({report['target_site'].replace('_', '-')}); time to "
        f"target {_show(thermal['time_to_target_min'], ' min')}, overshoot "
        f"{_show(thermal['overshoot_c'], ' K')}; inflow mean "
        f"{_show(thermal['inflow_mean_c'], ' C')}, outflow mean "
        f"{_show(thermal['outflow_mean_c'], ' C')}, core max "
        f"{_show(thermal['core_max_c'], ' C')}, wall drop over the first mm "
        f"{_show(thermal['wall_gradient_first_mm_c'], ' K')}",
        markup=False,
        soft_wrap=True,
    )
    regions = Table(title="Regions over the perfusion", title_justify="left")
    for column in ("#", "region", "mean C", "min C", "max C", "41-43 C", "CEM43 min"):
        regions.add_column(column, justify="left" if column == "region" else "right")
    for row in thermal["regions"]:
        share = row["time_in_range_fraction"]
        regions.add_row(
            str(row["index"]),
            row["name"],
            _show(row["mean_c"]),
            _show(row["min_c"]),
            _show(row["max_c"]),
            "-" if share is None else f"{100 * share:.0f} %",
            _show(row["cem43_min"]),
        )
    console.print(regions)
    drugs = Table(title="Drugs (fractions at the end of perfusion)", title_justify="left")
    for column in (
        "drug", "mg", "in perfusate", "absorbed", "urine", "AUC ratio", "plasma Cmax mg/L",
        "Tmax min", "depth mm",
    ):  # fmt: skip
        drugs.add_column(column, justify="left" if column == "drug" else "right")
    for name, row in report["drugs"].items():
        drugs.add_row(
            name,
            _show(row["dose_mg"]),
            _show(row["fraction_remaining_in_perfusate"]),
            _show(row["fraction_absorbed"]),
            _show(row["fraction_in_urine"]),
            _show(row["auc_ratio_perfusate_to_plasma"]),
            _show(row["plasma_cmax_mg_per_l"]),
            _show(row["plasma_tmax_min"]),
            _show(row["penetration_depth_mm"]),
        )
    console.print(drugs)
    if report.get("plot"):
        console.print(f"Figure written to {escape(report['plot'])}")


def register(app: typer.Typer) -> None:
    """Add ``hipec simulate`` to ``app``."""
    app.command("simulate")(simulate)
