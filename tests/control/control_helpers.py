"""Shared builders for the control tests: readings are test data built here, not a simulator.

(A uniquely named module rather than ``conftest`` so that imports cannot pick up another test
folder's conftest.)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hipec.devices.base import Reading
from hipec.devices.faults import Fault
from hipec.protocols import get_regimen, plan_perfusion
from hipec.protocols.plan import PerfusionPlan
from hipec.runner.campaign import SENSOR_DETECTION_LIMIT_S
from hipec.runner.identification import IdentificationRun

#: A healthy sample in the middle of a perfusion at 42 C (open technique, 1.5 L/min).
HEALTHY = Reading(
    time_s=0.0,
    inflow_c=42.0,
    outflow_c=41.0,
    reservoir_c=40.8,
    cavity_c=(41.6, 41.2, 41.4),
    cavity_probe_regions=(0, 6, 3),
    core_c=37.5,
    inflow_l_per_min=1.5,
    outflow_l_per_min=1.5,
    line_pressure_mmhg=120.0,
    abdominal_pressure_mmhg=float("nan"),
    reservoir_volume_l=0.4,
    air_in_line=False,
    power="mains",
    heater_power_w=150.0,
)


def reading(**changes: Any) -> Reading:
    """:data:`HEALTHY` with ``changes``."""
    return replace(HEALTHY, **changes)


def dutch_plan() -> PerfusionPlan:
    """Dutch MMC (open, inflow target 41.5 C, limit 43 C, 90 min, doses at 0/30/60 min)."""
    return plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70)


def assert_drift_confirmed_in_time(run: IdentificationRun, onset_s: float, probe: str) -> None:
    """Drift ``probe`` (``"cavity[i]"``) at the fault's default rate from ``onset_s`` [s] and
    check that the supervisor confirms that probe, first, within the sensor-fault limit."""
    drift = Fault("cavity-probe-drift", onset_s, target=probe)
    runner = run.runner(onset_s + 45.0, faults=[drift])
    runner.run()
    raised = [
        (a.raised_s, a.source) for a in runner.alarms.records if a.code == "PROBE_IMPLAUSIBLE"
    ]
    assert raised, "drift not confirmed"
    assert raised[0][1] == probe  # the drifting probe, and only it first
    assert onset_s <= raised[0][0] <= onset_s + SENSOR_DETECTION_LIMIT_S
