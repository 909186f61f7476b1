"""``hipec run``: one perfusion on the simulated machine, live in the terminal or as JSON."""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from hipec.cli._common import JsonOption, console, print_json
from hipec.devices.faults import FAULT_NAMES, Fault, parse_fault
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen, plan_perfusion

if TYPE_CHECKING:  # the twin (numpy, scipy) is imported only when a run starts
    from hipec.control.events import Event
    from hipec.runner import RunResult, RunSample

_PRIORITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
_SHOWN_EVENTS = ("phase.changed", "dose.confirmed", "alarm.raised", "supervisor.tripped")


def _fmt(value: float, digits: int = 2, unit: str = "") -> str:
    return "-" if not math.isfinite(value) else f"{value:.{digits}f}{unit}"


class _LiveView:
    """Renders the latest sample at most ``refresh_hz`` times per wall second."""

    def __init__(self, live: Live, refresh_hz: float = 4.0) -> None:
        self.live = live
        self.period_s = 1.0 / refresh_hz
        self._last = 0.0
        self._log: list[Text] = []

    def on_event(self, event: Event) -> None:
        if event.kind in _SHOWN_EVENTS:
            style = _PRIORITY_STYLE.get(str(event.data.get("priority", "")), "")
            line = Text(f"{event.time_s / 60:6.1f} min  {event.message}", style=style)
            self._log = [*self._log[-7:], line]

    def on_sample(self, sample: RunSample) -> None:
        now = time.perf_counter()
        if now - self._last < self.period_s and sample.phase not in ("complete", "aborted"):
            return
        self._last = now
        self.live.update(render_sample(sample, self._log))


def render_sample(sample: RunSample, log: list[Text] | None = None) -> Group:
    """The live panel: temperatures, flows, phase, timer, next dose, alarms."""
    r = sample.reading
    head = Text(
        f"{sample.phase.upper()}{' (paused)' if sample.paused else ''}   "
        f"t {r.time_s / 60:6.1f} min   timer {sample.timer_s / 60:5.1f} min, "
        f"{sample.remaining_s / 60:5.1f} min left   target {sample.target_c:g} C "
        f"({sample.target_site.replace('_', '-')})",
        style="bold",
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in (
        "inflow C",
        "outflow C",
        "reservoir C",
        "probes C",
        "core C",
        "flow in/out",
        "heater W",
        "line / IAP mmHg",
        "reservoir L",
    ):
        table.add_column(column, justify="right")
    probes = " ".join(
        f"{region}:{_fmt(value)}"
        for region, value in zip(r.cavity_probe_regions, r.cavity_c, strict=True)
    )
    table.add_row(
        _fmt(r.inflow_c),
        _fmt(r.outflow_c),
        _fmt(r.reservoir_c),
        probes,
        _fmt(r.core_c),
        f"{_fmt(r.inflow_l_per_min)}/{_fmt(r.outflow_l_per_min)}",
        _fmt(r.heater_power_w, 0),
        f"{_fmt(r.line_pressure_mmhg, 0)} / {_fmt(r.abdominal_pressure_mmhg, 1)}",
        _fmt(r.reservoir_volume_l),
    )
    dose = (
        f"next dose: {sample.next_dose[0]} {sample.next_dose[1]:.1f} mg at "
        f"{sample.next_dose[2]:g} min"
        if sample.next_dose
        else "next dose: none"
    )
    status = Text(
        f"{dose}   safe state: {sample.safe_action}   "
        f"air: {'YES' if r.air_in_line else 'no'}   power: {r.power}"
    )
    alarms = Text()
    for code, priority, source in sample.alarms:
        alarms.append(
            f" {code}{f' ({source})' if source else ''} ", style=_PRIORITY_STYLE.get(priority, "")
        )
    parts: list[Text | Table] = [
        head,
        table,
        status,
        alarms if sample.alarms else Text("no active alarm", style="green"),
    ]
    parts.extend(log or [])
    return Group(*parts)


def _print_summary(result: RunResult) -> None:
    data = result.to_dict()
    colour = "green" if data["outcome"] == "completed" else "red"
    console.print(
        f"[bold]{escape(result.protocol)}[/bold] ({result.controller}): "
        f"[{colour}]{data['outcome']}[/{colour}]"
        + (f" - {escape(result.reason)}" if result.reason else "")
    )
    phases = Table(title="Phases", title_justify="left")
    for column in ("phase", "start min", "end min"):
        phases.add_column(column, justify="left" if column == "phase" else "right")
    for phase in data["phases"]:
        end = phase["end_min"]
        phases.add_row(
            phase["name"], f"{phase['start_min']:.1f}", "-" if end is None else f"{end:.1f}"
        )
    console.print(phases)
    doses = Table(title="Doses", title_justify="left")
    for column in ("drug", "mg", "planned min", "given min"):
        doses.add_column(column, justify="left" if column == "drug" else "right")
    for dose in data["doses"]:
        given = dose["given_min"]
        doses.add_row(
            escape(dose["drug"]),
            f"{dose['mg']:.1f}",
            f"{dose['planned_min']:g}",
            "not given" if given is None else f"{given:.1f}",
        )
    console.print(doses)
    if data["alarms"]:
        alarms = Table(title="Alarms", title_justify="left")
        for column in ("code", "priority", "raised", "acknowledged", "cleared"):
            alarms.add_column(column)
        for alarm in data["alarms"]:
            alarms.add_row(
                Text(alarm["code"], style=_PRIORITY_STYLE.get(alarm["priority"], "")),
                alarm["priority"],
                f"{alarm['raised_min']:.1f}",
                "-" if alarm["acknowledged_min"] is None else f"{alarm['acknowledged_min']:.1f}",
                "-" if alarm["cleared_min"] is None else f"{alarm['cleared_min']:.1f}",
            )
        console.print(alarms)
    else:
        console.print("No alarm.")

    share = data["time_in_range_fraction"]

    def show(value: float | None, unit: str) -> str:
        return "-" if value is None else f"{value:g}{unit}"

    console.print(
        f"time to target {show(data['time_to_target_min'], ' min')}, overshoot "
        f"{show(data['overshoot_c'], ' K')}, time in 41-43 C "
        f"{show(None if share is None else round(100 * share, 1), ' %')} "
        f"of region-minutes; max region {show(data['max_region_c'], ' C')}, max inflow "
        f"{show(data['max_inflow_c'], ' C')}, core max {show(data['core_max_c'], ' C')}",
        markup=False,
        soft_wrap=True,
    )


def parse_faults(texts: list[str]) -> list[Fault]:
    """``--fault NAME@MINUTES`` values as faults (one-line errors listing the known faults)."""
    return [parse_fault(text) for text in texts]


def run(
    protocol: Annotated[
        str, typer.Option("--protocol", "-p", help="Regimen id (see 'hipec protocols list').")
    ],
    height_cm: Annotated[float, typer.Option("--height-cm", help="Height [cm], 100-250.")],
    weight_kg: Annotated[float, typer.Option("--weight-kg", help="Weight [kg], 25-300.")],
    technique: Annotated[
        str | None, typer.Option("--technique", help="open or closed (default: the regimen's own).")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Clock N times faster than real time (default: real time)."),
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Run as fast as possible.")] = False,
    controller: Annotated[
        str, typer.Option("--controller", help="Temperature controller: pid or cascade.")
    ] = "cascade",
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help=f"Inject NAME@MINUTES (repeatable); NAME one of {', '.join(FAULT_NAMES)}.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the machine's sensor noise and offsets.")
    ] = 0,
    period_s: Annotated[
        float | None,
        typer.Option("--period-s", help="Control period [s], 0-60 (default: the machine's, 1 s)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Run one perfusion on the simulated machine: live view, then a closing summary."""
    if technique is not None and technique not in ("open", "closed"):
        raise InvalidInputError("technique", f"must be open or closed, got {technique!r}")
    if fast and speed is not None:
        raise InvalidInputError("speed", "give either --speed N or --fast, not both")
    faults = parse_faults(fault or [])
    from hipec.runner import RunConfig, simulated_run
    from hipec.runner.threads import limit_blas_threads

    limit_blas_threads()  # the twin's small matrices run faster on one BLAS thread
    plan = plan_perfusion(
        get_regimen(protocol), height_cm=height_cm, weight_kg=weight_kg, technique=technique
    )
    config = RunConfig(
        controller=controller, speed=None if fast else (speed or 1.0), control_period_s=period_s
    )
    runner = simulated_run(plan, config, faults=faults, seed=seed)
    if not json_output and sys.stdout.isatty():
        with Live(
            Text("starting..."), console=console, refresh_per_second=4, transient=False
        ) as live:
            runner.sinks.append(_LiveView(live))
            result = runner.run()
    else:
        result = runner.run()
    if json_output:
        print_json(result.to_dict())
        return
    _print_summary(result)


def register(app: typer.Typer) -> None:
    """Add ``hipec run`` to ``app``."""
    app.command("run")(run)
