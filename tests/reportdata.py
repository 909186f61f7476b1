"""Report test data: a perfusion recorded from the real digital twin, not hand-typed numbers.

Until the perfusion runner records real runs, these helpers play its part: they drive the twin
(:mod:`hipec.model`) with the minimal heater rule through the phases of the Dutch mitomycin C
protocol (prime, fill, heat, 90 min perfuse with three fractions, drain), turn every second into a
:class:`~hipec.devices.base.Reading`, raise an alarm from a rule over those readings (a kinked
inflow line for two minutes), and compute the run summary in issue 3's ``hipec simulate --json``
shape with :mod:`hipec.model.metrics`. :func:`record_run` streams all of it through the real
:class:`~hipec.store.recorder.RunRecorder`.

The module also checks that the data is what it claims to be (the tests at the bottom).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Engine

from casedata import case_document
from hipec.clinical.pci import PCI_REGIONS
from hipec.devices.base import Reading
from hipec.model import Commands, Event, Patient, Twin, simple_heater_rule
from hipec.model.metrics import (
    auc_mg_min_per_l,
    cem43_minutes,
    exposure_ratio,
    first_mm_temperature_drop_k,
    peak,
    penetration_depth_m,
    time_in_range_minutes,
)
from hipec.protocols import get_regimen
from hipec.protocols.plan import PerfusionPlan, plan_perfusion
from hipec.store.db import transaction
from hipec.store.recorder import RunRecorder
from hipec.store.repository import add_case

REGIMEN_ID = "dutch-mmc"
PROBE_REGIONS = (0, 6, 3)
HEIGHT_CM, WEIGHT_KG = 165.0, 62.5
PRIME_S, FILL_S, DRAIN_S = 120, 180, 300
PRIME_C = 38.0
#: When the simulated kink of the inflow line starts [s after the timer start] and how long.
KINK_AT_S, KINK_S = 40 * 60, 120
KINK_FLOW_L_MIN = 0.2
#: Issue 3's drug keys are the lower-case generic names.
DRUG_KEYS = {"mitomycin C": "mitomycin"}


@dataclass
class SimulatedRun:
    """What a runner would have streamed: readings, events, alarms, doses and the summary."""

    plan: PerfusionPlan
    readings: list[Reading] = field(default_factory=list)
    events: list[tuple[float, str, str, dict[str, Any]]] = field(default_factory=list)
    #: (code, priority, message, raised_s, acknowledged_s, cleared_s)
    alarms: list[tuple[str, str, str, float, float | None, float | None]] = field(
        default_factory=list
    )
    #: (drug, mg, time_s)
    doses_given: list[tuple[str, float, float]] = field(default_factory=list)
    region_temperature_c: list[np.ndarray] = field(default_factory=list)
    region_concentration_mg_l: list[np.ndarray] = field(default_factory=list)
    plasma_mg_l: list[float] = field(default_factory=list)
    perfusate_mg_l: list[float] = field(default_factory=list)
    timer_start_s: float = math.nan
    timer_end_s: float = math.nan
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def perfusion_min(self) -> float:
        return (self.timer_end_s - self.timer_start_s) / 60.0


def _reading(twin: Twin, time_s: float) -> Reading:
    regions = twin.region_temperature_c[0]
    applied = twin.last_commands  # what the twin actually did (heater power limited)
    heater = float(applied.heater_power_w[0])
    flow = float(applied.inflow_l_s[0] * 60.0)
    return Reading(
        time_s=time_s,
        inflow_c=float(twin.inflow_temperature_c[0]),
        outflow_c=float(twin.outflow_temperature_c[0]),
        reservoir_c=float(twin.reservoir_temperature_c[0]),
        cavity_c=tuple(float(regions[r]) for r in PROBE_REGIONS),
        cavity_probe_regions=PROBE_REGIONS,
        core_c=float(twin.core_temperature_c[0]),
        inflow_l_per_min=flow,
        outflow_l_per_min=flow,
        line_pressure_mmhg=math.nan,  # the twin has no line-pressure model
        abdominal_pressure_mmhg=math.nan,  # open technique
        reservoir_volume_l=float(twin.reservoir_volume_l[0]),
        air_in_line=False,
        power="mains",
        heater_power_w=heater,
    )


@functools.cache
def simulate_run() -> SimulatedRun:
    """One Dutch MMC perfusion on the twin, second by second (cached: it is the same every time)."""
    plan = plan_perfusion(
        get_regimen(REGIMEN_ID), height_cm=HEIGHT_CM, weight_kg=WEIGHT_KG, technique="open"
    )
    assert plan.inflow_target_c is not None and plan.flow_l_per_min is None
    target = plan.inflow_target_c
    twin = Twin.create(Patient(HEIGHT_CM, WEIGHT_KG), drugs=["mitomycin C"], technique="open")
    run = SimulatedRun(plan)
    perfusion_flow = 1.5
    rule = simple_heater_rule(target, perfusion_flow)
    # priming and filling run moderate (the patient is not yet perfused), as the procedure does
    prime_rule = simple_heater_rule(PRIME_C, 1.0)
    time_s = 0
    phase = "setup"

    def change_phase(new: str) -> None:
        nonlocal phase
        run.events.append(
            (float(time_s), "phase.changed", f"{phase} -> {new}", {"from": phase, "to": new})
        )
        phase = new

    run.events.append((0.0, "phase.changed", "procedure opened: setup", {"to": "setup"}))
    change_phase("prime")
    at_target_since: float | None = None
    doses = list(plan.doses)
    open_alarms: dict[str, int] = {}
    while True:
        commands = rule(twin)
        since_timer = time_s - run.timer_start_s if not math.isnan(run.timer_start_s) else -1.0
        if phase in ("prime", "fill"):
            commands = prime_rule(twin)
        elif phase == "drain":
            commands = Commands(heater_power_w=0.0, inflow_l_min=1.0)
        elif phase == "perfuse" and KINK_AT_S <= since_timer < KINK_AT_S + KINK_S:
            commands = Commands(
                heater_power_w=commands.heater_power_w, inflow_l_min=KINK_FLOW_L_MIN
            )
        twin.step(commands, 1.0)
        time_s += 1
        reading = _reading(twin, float(time_s))
        run.readings.append(reading)
        run.region_temperature_c.append(twin.region_temperature_c[0].copy())
        run.region_concentration_mg_l.append(twin.region_concentration_mg_l[0, 0].copy())
        run.plasma_mg_l.append(float(twin.plasma_concentration_mg_l[0, 0]))
        run.perfusate_mg_l.append(float(twin.perfusate_concentration_mg_l[0, 0]))
        # alarms from rules over the readings, as an alarm manager raises them; the operator
        # acknowledges 15 s later, the alarm clears when its condition ends
        conditions = {
            "flow-low": (
                phase == "perfuse" and reading.inflow_l_per_min < 1.0,
                "medium",
                f"inflow {reading.inflow_l_per_min:.1f} L/min below 1.0 L/min",
            ),
            "inflow-temperature-high": (
                reading.inflow_c > plan.max_inflow_c,
                "high",
                f"inflow {reading.inflow_c:.2f} °C above the {plan.max_inflow_c:g} °C limit",
            ),
        }
        for code, (active, priority, message) in conditions.items():
            if active and code not in open_alarms:
                run.alarms.append(
                    (code, priority, message, reading.time_s, reading.time_s + 15.0, None)
                )
                open_alarms[code] = len(run.alarms) - 1
            elif not active and code in open_alarms:
                index = open_alarms.pop(code)
                code_, priority_, message_, raised, acknowledged, _ = run.alarms[index]
                acknowledged = acknowledged if acknowledged <= reading.time_s else None
                run.alarms[index] = (
                    code_,
                    priority_,
                    message_,
                    raised,
                    acknowledged,
                    reading.time_s,
                )
        if phase == "prime" and time_s >= PRIME_S:
            change_phase("fill")
            fill_l = plan.carrier_volume_l - float(twin.perfusate_volume_l[0])
            twin.apply_event(Event(float(time_s), "fill", fill_l, "abdomen", temperature_c=PRIME_C))
        elif phase == "fill" and time_s >= PRIME_S + FILL_S:
            change_phase("heat")
        elif phase == "heat":
            at_target = abs(reading.inflow_c - target) <= 0.3
            at_target_since = (at_target_since or reading.time_s) if at_target else None
            if at_target_since is not None and reading.time_s - at_target_since >= 60.0:
                change_phase("perfuse")
                run.timer_start_s = reading.time_s
                run.events.append((reading.time_s, "timer.started", "perfusion timer started", {}))
        elif phase == "perfuse":
            while doses and since_timer + 1.0 >= doses[0].at_min * 60.0:
                dose = doses.pop(0)
                twin.apply_event(Event(float(time_s), "dose", dose.mg, "reservoir", drug=dose.drug))
                run.doses_given.append((dose.drug, dose.mg, reading.time_s))
                run.events.append(
                    (reading.time_s, "dose.confirmed", f"{dose.drug} {dose.mg:.1f} mg given", {})
                )
            if since_timer + 1.0 >= plan.duration_min * 60.0:
                run.timer_end_s = reading.time_s
                run.events.append((reading.time_s, "timer.ended", "perfusion timer ended", {}))
                change_phase("drain")
                twin.apply_event(Event(float(time_s), "drain", math.inf, "abdomen"))
        elif phase == "drain" and time_s >= run.timer_end_s + DRAIN_S:
            change_phase("complete")
            break
    run.summary = _summary(run, twin)
    return run


def _summary(run: SimulatedRun, twin: Twin) -> dict[str, Any]:
    """The run summary in issue 3's ``hipec simulate --json`` shape, over the perfusion period."""
    times = np.array([r.time_s for r in run.readings])
    window = (times >= run.timer_start_s) & (times <= run.timer_end_s)
    t = times[window]
    regions = np.array(run.region_temperature_c)[window]
    inflow = np.array([r.inflow_c for r in run.readings])[window]
    outflow = np.array([r.outflow_c for r in run.readings])[window]
    core = np.array([r.core_c for r in run.readings])
    low_c, high_c = 41.0, 43.0
    cem43 = cem43_minutes(t, regions)
    in_range = time_in_range_minutes(t, regions, low_c, high_c) / ((t[-1] - t[0]) / 60.0)
    heat_start = next(e[0] for e in run.events if e[1] == "phase.changed" and e[3]["to"] == "heat")
    at_target = times[
        (times >= heat_start)
        & (
            np.abs(np.array([r.inflow_c for r in run.readings]) - run.plan.target_temperature_c)
            <= 0.3
        )
    ]
    concentration = np.array(run.region_concentration_mg_l)[window]
    region_auc = auc_mg_min_per_l(t, concentration)
    plasma = np.array(run.plasma_mg_l)[window]
    perfusate = np.array(run.perfusate_mg_l)[window]
    cmax, tmax = peak(t, plasma)
    fractions = twin.fractions()
    depth = penetration_depth_m(twin.wall_depth_m, twin.wall_concentration_mg_l[0, 0])
    drug_name = run.plan.doses[0].drug
    return {
        "protocol": run.plan.regimen_id,
        "duration_min": run.perfusion_min,
        "thermal": {
            "time_to_target_min": (float(at_target[0]) - heat_start) / 60.0,
            "inflow_mean_c": float(inflow.mean()),
            "outflow_mean_c": float(outflow.mean()),
            "core_max_c": float(core.max()),
            "wall_gradient_first_mm_c": float(
                np.mean(
                    first_mm_temperature_drop_k(
                        twin.wall_depth_m,
                        twin.wall_surface_temperature_c[0],
                        twin.wall_temperature_c[0],
                    )
                )
            ),
            "regions": [
                {
                    "index": region.index,
                    "name": region.name,
                    "mean_c": float(regions[:, region.index].mean()),
                    "min_c": float(regions[:, region.index].min()),
                    "max_c": float(regions[:, region.index].max()),
                    "time_in_range_fraction": float(in_range[region.index]),
                    "cem43_min": float(cem43[region.index]),
                }
                for region in PCI_REGIONS
            ],
        },
        "drugs": {
            DRUG_KEYS[drug_name]: {
                "dose_mg": float(twin.dosed_mg[0, 0]),
                # at the end of perfusion the abdomen is drained: what was in it left as perfusate
                "fraction_remaining_in_perfusate": float(
                    fractions["remaining in perfusate [-]"][0, 0] + fractions["drained [-]"][0, 0]
                ),
                "fraction_absorbed": float(fractions["absorbed [-]"][0, 0]),
                "fraction_in_urine": float(fractions["urine [-]"][0, 0]),
                "auc_ratio_perfusate_to_plasma": float(exposure_ratio(t, perfusate, plasma)),
                "plasma_cmax_mg_per_l": float(cmax),
                "plasma_tmax_min": (float(tmax) - run.timer_start_s) / 60.0,
                "penetration_depth_mm": float(np.mean(depth)) * 1000.0,
                "regions": [
                    {
                        "index": region.index,
                        "name": region.name,
                        "auc_mg_min_per_l": float(region_auc[region.index]),
                    }
                    for region in PCI_REGIONS
                ],
            }
        },
    }


def add_report_case(engine: Engine, case_number: str = "T-001", **changes: Any) -> None:
    """Add the test case (assessment, procedure, post-op course) of :mod:`casedata`."""
    with transaction(engine) as session:
        add_case(session, case_document(case_number, **changes), actor="test")


def record_run(engine: Engine, case_number: str = "T-001") -> int:
    """Stream :func:`simulate_run` into the database through the real recorder; the run id."""
    run = simulate_run()
    regimen = get_regimen(REGIMEN_ID)
    # a minute of device time per commit keeps the test quick; durability is the store's test
    recorder = RunRecorder(engine, actor="test", commit_interval_s=60.0)
    with transaction(engine) as session:
        from hipec.store.repository import get_case

        procedure_id = get_case(session, case_number).procedures[0].id
    run_id = recorder.start(
        case_number,
        cavity_probe_regions=PROBE_REGIONS,
        regimen=regimen,
        plan=run.plan,
        device_name="hipec twin (test)",
        procedure_id=procedure_id,
    )
    events = sorted(run.events, key=lambda e: e[0])
    alarm_times = sorted(
        [(a[3], "raise", i) for i, a in enumerate(run.alarms)]
        + [(a[4], "ack", i) for i, a in enumerate(run.alarms) if a[4] is not None]
        + [(a[5], "clear", i) for i, a in enumerate(run.alarms) if a[5] is not None]
    )
    doses = list(run.doses_given)
    alarm_ids: dict[int, int] = {}
    for reading in run.readings:
        recorder.add_sample(reading)
        while events and events[0][0] <= reading.time_s:
            time_s, kind, message, data = events.pop(0)
            recorder.add_event(time_s, kind, message, data)
        while doses and doses[0][2] <= reading.time_s:
            drug, mg, time_s = doses.pop(0)
            recorder.record_dose(drug, mg, time_s)
        while alarm_times and alarm_times[0][0] <= reading.time_s:
            time_s, action, index = alarm_times.pop(0)
            code, priority, message, *_ = run.alarms[index]
            if action == "raise":
                alarm_ids[index] = recorder.raise_alarm(code, priority, message, time_s)
            elif action == "ack":
                recorder.acknowledge_alarm(alarm_ids[index], time_s)
            else:
                recorder.clear_alarm(alarm_ids[index], time_s)
    recorder.finish(
        "completed",
        end_reason="perfusion complete",
        perfusion_min=run.perfusion_min,
        summary=run.summary,
    )
    return run_id


# ------------------------------------------------------------------------------------------
# The data is what it claims to be
# ------------------------------------------------------------------------------------------
