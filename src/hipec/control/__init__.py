"""What a perfusion machine's software does: temperature and flow control, the safety supervisor,
alarms and the procedure.

Each tick the runner wires them as follows (``last`` = the command applied on the previous tick)::

    reading = device.read()
    verdict = supervisor.check(reading, last)                  # interlocks on raw readings
    tick = procedure.advance(verdict.trusted_reading)          # phase, timer, dose prompts
    heater = controller.update(verdict.trusted_reading, tick.setpoints.temperature, dt_s)
    pumps = balance.update(verdict.trusted_reading, tick.setpoints.flow, dt_s)
    last = supervisor.constrain(compose_command(heater, pumps))  # the supervisor has the final say
    device.apply(last)
    events = alarms.update(reading.time_s, [*verdict.conditions, *pumps.conditions,
                                            *tick.conditions, *fallback_conditions(heater)])

Every module takes its parameters from frozen dataclasses so that tuning is data, not code.
"""

from hipec.control.alarms import (
    ALARM_CATALOGUE,
    ActiveAlarm,
    AlarmCondition,
    AlarmConfig,
    AlarmDefinition,
    AlarmManager,
    AlarmPriority,
    AlarmRecord,
)
from hipec.control.events import EVENT_KINDS, Event, EventKind
from hipec.control.flow import (
    BalanceConfig,
    FlowBalance,
    FlowMode,
    FlowSetpoints,
    PumpDemand,
    compose_command,
)
from hipec.control.limits import ABSOLUTE_MAX_REGION_C, DEFAULT_LIMIT_SOURCES, SafetyLimits
from hipec.control.pid import Pid, PidGains
from hipec.control.procedure import (
    TERMINAL_PHASES,
    TRANSITIONS,
    DoseRecord,
    Phase,
    PhaseSetpoints,
    PhaseSpan,
    Procedure,
    ProcedureConfig,
    ProcedureTick,
    TransitionRefusedError,
)
from hipec.control.supervisor import (
    DEFAULT_CHECKS,
    SENSOR_FAULT_CODES,
    CheckSpec,
    SafeAction,
    Supervisor,
    SupervisorConfig,
    SupervisorVerdict,
)
from hipec.control.temperature import (
    CascadeConfig,
    CascadeController,
    CoverageConfig,
    CoverageController,
    HeaterDemand,
    SingleLoopConfig,
    SingleLoopPid,
    TemperatureController,
    TemperatureSetpoints,
    fallback_conditions,
)
from hipec.errors import InvalidInputError

#: Temperature controllers by the name ``--controller`` accepts; each class builds its default
#: with ``for_heater(max_heater_power_w)``. ``coverage`` is an explicit choice: it aims all 13
#: regions at the therapeutic band rather than the regimen's target at its site.
CONTROLLERS: dict[str, type[SingleLoopPid] | type[CascadeController]] = {
    SingleLoopPid.name: SingleLoopPid,
    CascadeController.name: CascadeController,
    CoverageController.name: CoverageController,
}


def make_temperature_controller(name: str, max_heater_power_w: float) -> TemperatureController:
    """The controller registered as ``name`` with its defaults, for a heater of
    ``max_heater_power_w`` [W].

    Raises
    ------
    InvalidInputError
        (field ``controller``) for a name not in :data:`CONTROLLERS`.
    """
    try:
        factory = CONTROLLERS[name]
    except KeyError:
        raise InvalidInputError(
            "controller", f"must be one of {', '.join(CONTROLLERS)}, got {name!r}"
        ) from None
    return factory.for_heater(max_heater_power_w)


__all__ = [
    "ABSOLUTE_MAX_REGION_C",
    "ALARM_CATALOGUE",
    "CONTROLLERS",
    "DEFAULT_CHECKS",
    "DEFAULT_LIMIT_SOURCES",
    "EVENT_KINDS",
    "SENSOR_FAULT_CODES",
    "TERMINAL_PHASES",
    "TRANSITIONS",
    "ActiveAlarm",
    "AlarmCondition",
    "AlarmConfig",
    "AlarmDefinition",
    "AlarmManager",
    "AlarmPriority",
    "AlarmRecord",
    "BalanceConfig",
    "CascadeConfig",
    "CascadeController",
    "CheckSpec",
    "CoverageConfig",
    "CoverageController",
    "DoseRecord",
    "Event",
    "EventKind",
    "FlowBalance",
    "FlowMode",
    "FlowSetpoints",
    "HeaterDemand",
    "Phase",
    "PhaseSetpoints",
    "PhaseSpan",
    "Pid",
    "PidGains",
    "Procedure",
    "ProcedureConfig",
    "ProcedureTick",
    "PumpDemand",
    "SafeAction",
    "SafetyLimits",
    "SingleLoopConfig",
    "SingleLoopPid",
    "Supervisor",
    "SupervisorConfig",
    "SupervisorVerdict",
    "TemperatureController",
    "TemperatureSetpoints",
    "TransitionRefusedError",
    "compose_command",
    "fallback_conditions",
    "make_temperature_controller",
]
