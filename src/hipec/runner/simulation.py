"""Build runs on the simulated machine: a plan, its patient's twin, faults, a seed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from hipec.devices.faults import Fault
from hipec.devices.simulated import MachineConfig, SimulatedPerfusionMachine
from hipec.errors import InvalidInputError
from hipec.model import Patient
from hipec.protocols.plan import PerfusionPlan
from hipec.runner.engine import PerfusionRunner, RunConfig, RunSink


def simulated_run(
    plan: PerfusionPlan,
    config: RunConfig | None = None,
    *,
    faults: Sequence[Fault] = (),
    seed: int | None = 0,
    machine: MachineConfig | None = None,
    sinks: Sequence[RunSink] = (),
) -> PerfusionRunner:
    """A runner for ``plan`` on a :class:`SimulatedPerfusionMachine` of the plan's patient.

    The machine carries the plan's drugs and technique (laparoscopic runs closed); ``seed`` seeds
    its sensor noise and calibration offsets.
    """
    drugs = list(dict.fromkeys(dose.drug for dose in plan.doses))
    device = SimulatedPerfusionMachine(
        Patient(plan.height_cm, plan.weight_kg),
        drugs,
        plan.technique,
        config=machine,
        faults=faults,
        seed=seed,
    )
    return PerfusionRunner(plan, device, config, sinks)


def simulation_plan(
    plan: PerfusionPlan,
    *,
    inflow_c: float | None = None,
    duration_min: float | None = None,
) -> PerfusionPlan:
    """``plan`` with a fixed inflow temperature setpoint and / or another perfusion duration.

    A fixed inflow setpoint makes the inflow the controlled site (the timer then starts when the
    inflow is at target if the regimen waited for the abdomen).

    Raises
    ------
    InvalidInputError
        ``inflow_c`` outside 37 C .. the regimen's inflow limit; ``duration_min`` outside 1-240.
    """
    if inflow_c is not None:
        if not (math.isfinite(inflow_c) and 37.0 <= inflow_c <= plan.max_inflow_c):
            raise InvalidInputError(
                "inflow_c",
                f"must be 37-{plan.max_inflow_c:g} C (the regimen's inflow limit), "
                f"got {inflow_c:g}",
            )
        timer = "inflow_at_target" if plan.timer_start == "abdomen_at_target" else plan.timer_start
        plan = replace(
            plan,
            target_site="inflow",
            target_temperature_c=inflow_c,
            inflow_target_c=inflow_c,
            timer_start=timer,
        )
    if duration_min is not None:
        if not (math.isfinite(duration_min) and 1.0 <= duration_min <= 240.0):
            raise InvalidInputError("duration_min", f"must be 1-240 min, got {duration_min:g}")
        plan = replace(plan, duration_min=duration_min)
    return plan
