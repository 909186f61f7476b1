"""``hipec run``: one perfusion on the simulated machine, live in the terminal or as JSON."""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:  # the twin (numpy, scipy) and the store are imported only when needed
    from sqlalchemy import Engine

    from hipec.control.events import Event
    from hipec.protocols.schema import Regimen
    from hipec.runner import PerfusionRunner, RunResult, RunSample
    from hipec.runner.recording import StoreSink

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


#: Device time [s] of samples that may wait uncommitted in a run as fast as possible (--fast).
#: Real-time and --speed N runs keep the recorder's 1 s (issue 5: at most 1 s at risk); a run
#: as fast as possible is a pure simulation that covers 60 s of device time in some 20 ms of wall
#: time, where a commit per simulated second would triple its wall time.
FAST_COMMIT_INTERVAL_S = 60.0


class _Heartbeat:
    """``--heartbeat``: one line per control period on standard output, as each sample is taken
    (before the store sees it, so a supervisor can tell how far the run got)."""

    def on_sample(self, sample: RunSample) -> None:
        sys.stdout.write(f"heartbeat {sample.reading.time_s:.3f} {sample.phase}\n")
        sys.stdout.flush()

    def on_event(self, event: Event) -> None:
        """Events are not shown."""


@contextmanager
def _stop_on_signals(runner: PerfusionRunner) -> Iterator[None]:
    """SIGTERM and Ctrl-C abort the procedure at the next tick (heater off, pumps stopped) and
    the run ends as ``aborted`` with the signal named; a second signal acts as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}

    def stop(signum: int, _frame: FrameType | None) -> None:
        runner.stop(f"stopped by {signal.Signals(signum).name}")
        for which, handler in previous.items():
            signal.signal(which, handler)

    for which in (signal.SIGINT, signal.SIGTERM):
        previous[which] = signal.signal(which, stop)
    try:
        yield
    finally:
        for which, handler in previous.items():
            signal.signal(which, handler)


@dataclass(frozen=True)
class _Case:
    number: str
    height_cm: float | None
    weight_kg: float | None


def _open_case(case_number: str) -> tuple[Engine, _Case]:
    """The store (refused unless current) and the case's measurements (one-line error if the
    case does not exist)."""
    from hipec.cli.db import open_store
    from hipec.store.db import transaction
    from hipec.store.repository import get_case

    engine = open_store()
    try:
        with transaction(engine) as session:
            patient = get_case(session, case_number)
            return engine, _Case(patient.case_number, patient.height_cm, patient.weight_kg)
    except BaseException:
        engine.dispose()
        raise


def _measure(given: float | None, case: _Case | None, field: str, option: str, rule: str) -> float:
    """The option's value, else the case's recorded one."""
    if given is not None:
        return given
    recorded = getattr(case, field) if case is not None else None
    if recorded is not None:
        return float(recorded)
    where = (
        f"case {case.number} has no recorded {field.split('_')[0]}"
        if case is not None
        else "no --case to take it from"
    )
    raise InvalidInputError(field, f"give {option} ({rule}); {where}")


def run(
    protocol: Annotated[
        str, typer.Option("--protocol", "-p", help="Regimen id (see 'hipec protocols list').")
    ],
    height_cm: Annotated[
        float | None,
        typer.Option("--height-cm", help="Height \\[cm], 100-250 (default: the case's)."),
    ] = None,
    weight_kg: Annotated[
        float | None,
        typer.Option("--weight-kg", help="Weight \\[kg], 25-300 (default: the case's)."),
    ] = None,
    case: Annotated[
        str | None,
        typer.Option(
            "--case",
            help="Save the run with this case in the case database (see 'hipec cases list'); "
            "height and weight default to the case's.",
        ),
    ] = None,
    technique: Annotated[
        str | None, typer.Option("--technique", help="open or closed (default: the regimen's own).")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Clock N times faster than real time (default: real time)."),
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Run as fast as possible.")] = False,
    controller: Annotated[
        str,
        typer.Option(
            "--controller",
            help="Temperature controller: cascade (the regimen's target site), pid (the "
            "baseline) or coverage (all 13 regions in 41-43 C).",
        ),
    ] = "cascade",
    flow_policy: Annotated[
        str,
        typer.Option(
            "--flow-policy",
            help="Perfusion flow: regimen (the middle of its range, else 1.5 L/min), upper (the "
            "top of its range) or coverage (the top of its range, else 2.5 L/min).",
        ),
    ] = "regimen",
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
        typer.Option(
            "--period-s", help="Control period \\[s], 0-60 (default: the machine's, 1 s)."
        ),
    ] = None,
    heartbeat: Annotated[
        bool,
        typer.Option(
            "--heartbeat",
            help="Print 'heartbeat TIME_S PHASE' for every sample as it is taken (for a "
            "supervisor or a log; not with --json).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Run one perfusion on the simulated machine: live view, then a closing summary.

    With --case the run is saved with the case as it happens (samples at 1 Hz, every event,
    alarms, doses, then the summary) and its id is printed. SIGTERM or Ctrl-C aborts the
    procedure safely (heater off, pumps stopped); a saved run is then closed as aborted.
    """
    if technique is not None and technique not in ("open", "closed"):
        raise InvalidInputError("technique", f"must be open or closed, got {technique!r}")
    if fast and speed is not None:
        raise InvalidInputError("speed", "give either --speed N or --fast, not both")
    if heartbeat and json_output:
        raise InvalidInputError("heartbeat", "prints lines of text: give --heartbeat or --json")
    if case is None:
        _measure(height_cm, None, "height_cm", "--height-cm", "100-250 cm")
        _measure(weight_kg, None, "weight_kg", "--weight-kg", "25-300 kg")
    faults = parse_faults(fault or [])
    from hipec.runner import RunConfig

    config = RunConfig(
        controller=controller,
        speed=None if fast else (speed or 1.0),
        control_period_s=period_s,
        flow_policy=flow_policy,  # type: ignore[arg-type]  # checked by RunConfig
    )
    engine: Engine | None = None
    record: _Case | None = None
    if case is not None:
        engine, record = _open_case(case)
    try:
        regimen = get_regimen(protocol)
        plan = plan_perfusion(
            regimen,
            height_cm=_measure(height_cm, record, "height_cm", "--height-cm", "100-250 cm"),
            weight_kg=_measure(weight_kg, record, "weight_kg", "--weight-kg", "25-300 kg"),
            technique=technique,
        )
        from hipec.runner import simulated_run
        from hipec.runner.threads import limit_blas_threads

        limit_blas_threads()  # the twin's small matrices run faster on one BLAS thread
        runner = simulated_run(plan, config, faults=faults, seed=seed)
        if heartbeat:
            runner.sinks.append(_Heartbeat())  # before the store: what is taken, not what is kept
        store: StoreSink | None = None
        if engine is not None and record is not None:
            store = _start_recording(engine, runner, record.number, regimen, fast, json_output)
        result = _execute(
            runner, store, live=not json_output and not heartbeat, background=not fast
        )
    finally:
        if engine is not None:
            engine.dispose()
    if json_output:
        data = result.to_dict()
        if store is not None:
            data["run_id"] = store.run_id
            data["case_number"] = record.number if record is not None else None
        print_json(data)
        return
    _print_summary(result)
    if store is not None and record is not None:
        status = "completed" if result.outcome == "completed" else "aborted"
        console.print(
            f"run {store.run_id} of case {record.number} saved: {status}, "
            f"{store.samples_stored} samples",
            markup=False,
            soft_wrap=True,
        )


def _start_recording(
    engine: Engine,
    runner: PerfusionRunner,
    case_number: str,
    regimen: Regimen,
    fast: bool,
    json_output: bool,
) -> StoreSink:
    """Create the run in the store and attach its sink; print its id at once (text mode)."""
    from hipec.runner.recording import StoreSink
    from hipec.store.recorder import DEFAULT_COMMIT_INTERVAL_S, RunRecorder

    interval = FAST_COMMIT_INTERVAL_S if fast else DEFAULT_COMMIT_INTERVAL_S
    store = StoreSink(RunRecorder(engine, commit_interval_s=interval))
    store.start(runner, case_number, regimen=regimen)
    if not json_output:
        sys.stdout.write(f"run {store.run_id} of case {case_number}: recording\n")
        sys.stdout.flush()
    return store


def _execute(
    runner: PerfusionRunner, store: StoreSink | None, *, live: bool, background: bool
) -> RunResult:
    """Run to the end (live panel on a terminal), recording through ``store`` if given; on a
    paced clock (``background``) the database is written off the control loop."""

    def go() -> RunResult:
        with _stop_on_signals(runner):
            if store is None:
                return runner.run()
            return store.run(runner, background=background)

    if live and sys.stdout.isatty():
        with Live(
            Text("starting..."), console=console, refresh_per_second=4, transient=False
        ) as panel:
            runner.sinks.append(_LiveView(panel))
            return go()
    return go()


def register(app: typer.Typer) -> None:
    """Add ``hipec run`` to ``app``."""
    app.command("run")(run)
