"""The tick as the runner will wire it (module docstring of hipec.control), on test readings."""

from __future__ import annotations

from control_helpers import dutch_plan, reading

from hipec.control import (
    AlarmManager,
    CascadeController,
    FlowBalance,
    Procedure,
    ProcedureConfig,
    SafetyLimits,
    Supervisor,
    compose_command,
    fallback_conditions,
)
from hipec.devices.base import Command


def test_one_tick_chain_forces_the_safe_state_and_raises_the_alarm() -> None:
    plan = dutch_plan()
    supervisor = Supervisor(SafetyLimits.from_plan(plan))
    procedure = Procedure(plan, ProcedureConfig(prime_s=5.0))
    controller, balance, alarms = CascadeController(), FlowBalance(), AlarmManager()
    last: Command | None = None
    events = []
    for t in range(20):
        inflow = 41.0 if t < 10 else 43.5  # the inflow overheats from t = 10 s
        sample = reading(time_s=float(t), inflow_c=inflow, heater_power_w=0.0)
        verdict = supervisor.check(sample, last)
        tick = procedure.advance(verdict.trusted_reading)
        heater = controller.update(verdict.trusted_reading, tick.setpoints.temperature, 1.0)
        pumps = balance.update(verdict.trusted_reading, tick.setpoints.flow, 1.0)
        last = supervisor.constrain(compose_command(heater, pumps))
        conditions = [
            *verdict.conditions,
            *pumps.conditions,
            *tick.conditions,
            *fallback_conditions(heater),
        ]
        events += [*verdict.events, *tick.events, *heater.events]
        events += alarms.update(sample.time_s, conditions)
        if t >= 10:
            assert last.heater_power_w == 0.0  # inhibited from the first hot sample
    assert last is not None and last.inflow_l_per_min == 0.0 and not last.inflow_clamp_open
    raised = [e for e in events if e.kind == "alarm.raised" and e.code == "INFLOW_TEMP_HIGH"]
    assert raised and raised[0].time_s == 12.0  # 2 s persistence
    assert alarms.active[0].code == "INFLOW_TEMP_HIGH"
    assert [e.code for e in events if e.kind == "phase.changed"][:2] == ["setup", "prime"]
