"""Alarms after IEC 60601-1-8: priorities, a catalogue as data, and the :class:`AlarmManager`.

Priorities are high, medium and low, plus information signals (IEC 60601-1-8 names these; hipec does
not reproduce the standard's text). The catalogue gives every alarm a code, a priority, whether it
latches, the condition in words and the recovery instruction for the operator.

Life cycle of one alarm (one ``code`` from one ``source``, e.g. ``PROBE_DISCONNECTED`` from
``cavity[6]``), driven by :meth:`AlarmManager.update` once per tick with the conditions present:

- raised when its condition appears (event ``alarm.raised``);
- while present, its value is updated; a medium alarm left unacknowledged for its
  ``escalate_after_s`` becomes high (``alarm.escalated``);
- :meth:`AlarmManager.acknowledge` stops its audio for good (``alarm.acknowledged``);
  :meth:`AlarmManager.silence` pauses the audio of every active alarm for ``silence_s``
  (``alarm.silenced``); an alarm raised later sounds;
- cleared (``alarm.cleared``) when its condition is gone -- at once for a non-latching alarm,
  and for a latching one only once it is also acknowledged (in either order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from hipec.control.events import Event, EventKind
from hipec.errors import NotFoundError


class AlarmPriority(IntEnum):
    """IEC 60601-1-8 priorities; a higher number is more urgent."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        """Lower-case name (``"high"``, ``"medium"``, ``"low"``, ``"info"``)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class AlarmDefinition:
    """One entry of the alarm catalogue.

    Attributes
    ----------
    code
        Stable identifier (upper-case, used in events, records and the CLI).
    priority
        Priority when raised.
    latching
        A latching alarm stays active after its condition ends until acknowledged (hazards).
    condition
        What is wrong, in the operator's words.
    recovery
        What the operator should do.
    unit
        Unit of the value and limit reported with the alarm.
    escalate_after_s
        Seconds an unacknowledged alarm may stay at its priority before it becomes high
        (None: never escalates).
    """

    code: str
    priority: AlarmPriority
    latching: bool
    condition: str
    recovery: str
    unit: str = ""
    escalate_after_s: float | None = None


def _alarm(
    code: str,
    priority: AlarmPriority,
    latching: bool,
    condition: str,
    recovery: str,
    unit: str = "",
    escalate_after_s: float | None = None,
) -> tuple[str, AlarmDefinition]:
    return code, AlarmDefinition(
        code, priority, latching, condition, recovery, unit, escalate_after_s
    )


_H, _M, _L, _I = AlarmPriority.HIGH, AlarmPriority.MEDIUM, AlarmPriority.LOW, AlarmPriority.INFO
#: Seconds before an unacknowledged medium alarm becomes high (hipec default, configurable).
MEDIUM_ESCALATION_S = 120.0

#: The alarm catalogue. Hazardous conditions are high priority and latch.
ALARM_CATALOGUE: dict[str, AlarmDefinition] = dict(
    [
        _alarm(
            "INFLOW_TEMP_HIGH", _H, True,
            "Inflow temperature above its limit",
            "Heater off and inflow stopped. Check heater and inflow probe; let the perfusate cool "
            "below the limit, then acknowledge and resume.",
            "C",
        ),
        _alarm(
            "CAVITY_TEMP_HIGH", _H, True,
            "An intra-abdominal probe is above its limit",
            "Heater off, pumps at the safe rate. Check probe positions and the inflow temperature; "
            "acknowledge once every probe is below the limit.",
            "C",
        ),
        _alarm(
            "CORE_TEMP_HIGH", _H, True,
            "Patient core temperature above its limit",
            "Heater off. Start active cooling (cold fluids, cooling blanket) and inform the "
            "anaesthetist.",
            "C",
        ),
        _alarm(
            "LINE_PRESSURE_HIGH", _H, True,
            "Inflow line pressure high (occlusion)",
            "Inflow stopped. Check the inflow line and catheter for kinks, closed clamps or clots; "
            "clear the line, then acknowledge.",
            "mmHg",
        ),
        _alarm(
            "ABDOMINAL_PRESSURE_HIGH", _H, True,
            "Intra-abdominal pressure high (closed technique)",
            "Inflow stopped, outflow continues. Check the outflow catheters for blockage and "
            "reduce the perfusate volume.",
            "mmHg",
        ),
        _alarm(
            "AIR_IN_LINE", _H, True,
            "Air detected in the inflow line",
            "Pumps stopped and lines clamped. Remove the air from the line and check the reservoir "
            "level before restarting.",
        ),
        _alarm(
            "RESERVOIR_LOW", _H, True,
            "Reservoir level low: the inflow pump could draw air",
            "Inflow stopped, outflow returns fluid. Check the outflow catheters and for leaks; add "
            "perfusate if needed.",
            "L",
        ),
        _alarm(
            "LEAK", _H, True,
            "Perfusate lost from the circuit (reservoir falling with balanced pumps)",
            "Pumps stopped and lines clamped. Find the leak (connectors, reservoir, wound) and "
            "contain the spill with cytotoxic precautions.",
            "L",
        ),
        _alarm(
            "PUMP_STALL", _H, True,
            "A pump is commanded but delivers no flow",
            "Heater off. Check the pump head, tubing seating and the line for occlusion; restart "
            "the pump.",
            "L/min",
        ),
        _alarm(
            "HEATER_STUCK_ON", _H, True,
            "Heater heats while commanded off",
            "Inflow stopped. Switch the heater off at its own switch; do not resume until the "
            "heater is checked.",
            "W",
        ),
        _alarm(
            "POWER_ON_BATTERY", _H, True,
            "Mains power lost: running on battery",
            "Heating is off; pumps and monitoring continue. Restore mains power and watch the "
            "remaining battery time.",
        ),
        _alarm(
            "PROBE_DISCONNECTED", _H, True,
            "A temperature or pressure sensor gives no reading",
            "Check the probe connection and position. Readings from this probe are ignored until "
            "it reads again and the alarm is acknowledged.",
        ),
        _alarm(
            "PROBE_STUCK", _H, True,
            "A temperature probe has stopped changing while the others move",
            "Check or replace the probe. Its readings are ignored until the alarm is acknowledged.",
            "C",
        ),
        _alarm(
            "PROBE_IMPLAUSIBLE", _H, True,
            "A temperature probe disagrees with the redundant measurements",
            "Compare the probe with a reference thermometer; reposition or replace it. Its "
            "readings are ignored until the alarm is acknowledged.",
            "K",
        ),
        # HIGH (was medium, escalating after 120 s): a heater that does not deliver what it is
        # commanded is a fault of the heater power stage -- the supervisor cannot tell a dead
        # element from a failing switch that may also fail on -- and the drug-laden perfusate
        # leaves the therapeutic range within minutes; it needs the operator at once (issue 4:
        # every hazardous fault raises a high-priority alarm).
        _alarm(
            "HEATER_FAILED", _H, True,
            "Heater commanded to heat but delivers no heat",
            "Heater off. Check the heater power and connections; the perfusate will cool. Do not "
            "resume heating until the heater is checked.",
            "W",
        ),
        _alarm(
            "VOLUME_IMBALANCE", _M, False,
            "Pumped volumes differ from the commanded volumes",
            "Check pump calibration, tubing and clamps; check the abdomen for accumulating or "
            "missing perfusate.",
            "L",
            MEDIUM_ESCALATION_S,
        ),
        _alarm(
            "ABDOMINAL_VOLUME_DRIFT", _M, False,
            "The intra-abdominal perfusate volume drifts from its set value",
            "Check the outflow catheters and the balance of inflow and outflow.",
            "L",
            MEDIUM_ESCALATION_S,
        ),
        _alarm(
            "CORE_TEMP_WARNING", _M, False,
            "Patient core temperature rising towards its limit",
            "Consider cooling measures and lowering the target temperature; inform the "
            "anaesthetist.",
            "C",
            MEDIUM_ESCALATION_S,
        ),
        _alarm(
            "ABDOMINAL_PRESSURE_WARNING", _M, False,
            "Intra-abdominal pressure elevated (closed technique)",
            "Check the outflow catheters; consider lowering the perfusate volume.",
            "mmHg",
            MEDIUM_ESCALATION_S,
        ),
        _alarm(
            "RECORDING_FAILED", _M, False,
            "The case database no longer records this perfusion",
            "The perfusion continues under full control and monitoring. Note temperatures, "
            "doses and events by hand and ask for the database to be checked.",
            "",
            MEDIUM_ESCALATION_S,
        ),
        _alarm(
            "DOSE_DUE", _L, False,
            "A scheduled intraperitoneal dose is due",
            "Add the dose to the perfusate and confirm it.",
            "min",
        ),
        _alarm(
            "CONTROL_FALLBACK", _L, False,
            "The temperature controller lost a measurement and uses a fallback",
            "Check the probe named in the message; control continues on the fallback measurement.",
        ),
        _alarm(
            "PROCEDURE_PAUSED", _I, False,
            "The procedure is paused; the perfusion timer is stopped",
            "Resume when ready.",
        ),
    ]
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AlarmCondition:
    """A condition present at this tick, as reported to :meth:`AlarmManager.update`.

    Attributes
    ----------
    code
        Catalogue code.
    value, limit
        The measured value and the limit it broke, in the catalogue entry's unit (nan if none).
    source
        What it is about (a channel such as ``"inflow"`` or ``"cavity[6]"``; ``""`` if global).
    message
        Detail for the operator (optional).
    """

    code: str
    value: float = float("nan")
    limit: float = float("nan")
    source: str = ""
    message: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the alarm this condition belongs to: ``(code, source)``."""
        return self.code, self.source


@dataclass(frozen=True, slots=True)
class ActiveAlarm:
    """An alarm the manager holds (a snapshot).

    Attributes
    ----------
    definition
        Its catalogue entry.
    source
        As in :class:`AlarmCondition`.
    priority
        Current priority (higher than the catalogue's once escalated).
    raised_s
        Time raised [s].
    condition_present
        The condition was present at the last update (False: latched only).
    value, limit
        Last value and limit reported.
    message
        Last detail reported.
    acknowledged_s
        Time acknowledged [s], None if not.
    silenced_until_s
        Audio paused until this time [s], None if not silenced.
    escalated_s
        Time escalated [s], None if not.
    """

    definition: AlarmDefinition
    source: str
    priority: AlarmPriority
    raised_s: float
    condition_present: bool
    value: float
    limit: float
    message: str
    acknowledged_s: float | None
    silenced_until_s: float | None
    escalated_s: float | None

    @property
    def code(self) -> str:
        """Catalogue code."""
        return self.definition.code

    @property
    def latched(self) -> bool:
        """Held although its condition has ended (waits for acknowledgement)."""
        return not self.condition_present

    def audible(self, time_s: float) -> bool:
        """The alarm sounds at ``time_s``: not an information signal, not acknowledged, not
        silenced."""
        if self.priority == AlarmPriority.INFO or self.acknowledged_s is not None:
            return False
        return self.silenced_until_s is None or time_s >= self.silenced_until_s


@dataclass(frozen=True, slots=True)
class AlarmConfig:
    """Settings of the :class:`AlarmManager`.

    Attributes
    ----------
    silence_s
        Duration of an audio pause [s] (hipec default 120 s, configurable).
    escalation_s
        Overrides every catalogue entry's ``escalate_after_s`` when given [s].
    """

    silence_s: float = 120.0
    escalation_s: float | None = None


@dataclass(slots=True)
class _State:
    definition: AlarmDefinition
    source: str
    priority: AlarmPriority
    raised_s: float
    condition_present: bool
    value: float
    limit: float
    message: str
    acknowledged_s: float | None = None
    silenced_until_s: float | None = None
    escalated_s: float | None = None

    def snapshot(self) -> ActiveAlarm:
        return ActiveAlarm(
            self.definition,
            self.source,
            self.priority,
            self.raised_s,
            self.condition_present,
            self.value,
            self.limit,
            self.message,
            self.acknowledged_s,
            self.silenced_until_s,
            self.escalated_s,
        )


@dataclass(slots=True)
class AlarmRecord:
    """The history of one alarm (for the run summary): times in seconds, None if it did not
    happen."""

    code: str
    source: str
    priority: AlarmPriority
    raised_s: float
    acknowledged_s: float | None = None
    escalated_s: float | None = None
    cleared_s: float | None = None
    max_priority: AlarmPriority = field(default=AlarmPriority.INFO)


class AlarmManager:
    """Raises, latches, escalates and clears alarms; emits an event for each step.

    Parameters
    ----------
    catalogue
        Alarm definitions by code (default :data:`ALARM_CATALOGUE`).
    config
        Silence duration and escalation override.
    """

    def __init__(
        self,
        catalogue: Mapping[str, AlarmDefinition] | None = None,
        config: AlarmConfig | None = None,
    ) -> None:
        self.catalogue: Mapping[str, AlarmDefinition] = (
            ALARM_CATALOGUE if catalogue is None else catalogue
        )
        self.config = config or AlarmConfig()
        self._alarms: dict[tuple[str, str], _State] = {}
        self._records: list[AlarmRecord] = []
        self._open_records: dict[tuple[str, str], AlarmRecord] = {}

    # -- reading --------------------------------------------------------------------------------

    @property
    def active(self) -> tuple[ActiveAlarm, ...]:
        """Active alarms, most urgent first (priority, then the earliest raised)."""
        states = sorted(self._alarms.values(), key=lambda s: (-s.priority, s.raised_s, s.source))
        return tuple(s.snapshot() for s in states)

    @property
    def records(self) -> tuple[AlarmRecord, ...]:
        """Every alarm raised so far, in order raised."""
        return tuple(self._records)

    def is_active(self, code: str, source: str | None = None) -> bool:
        """True if an alarm with ``code`` (from ``source``, or any source) is active."""
        return any(c == code and (source is None or s == source) for c, s in self._alarms)

    def audible_priority(self, time_s: float) -> AlarmPriority | None:
        """The priority the audio signal should have at ``time_s`` (None: silent)."""
        sounding = [s.priority for s in self._alarms.values() if s.snapshot().audible(time_s)]
        return max(sounding) if sounding else None

    # -- the tick -------------------------------------------------------------------------------

    def update(self, time_s: float, conditions: Iterable[AlarmCondition]) -> list[Event]:
        """Bring the alarms up to date with the conditions present at ``time_s``.

        Raises
        ------
        NotFoundError
            (field ``code``) for a code not in the catalogue.
        """
        events: list[Event] = []
        present: dict[tuple[str, str], AlarmCondition] = {}
        for condition in conditions:
            present.setdefault(condition.key, condition)
        for key, condition in present.items():
            state = self._alarms.get(key)
            if state is None:
                state = self._raise(time_s, condition)
                events.append(self._event(time_s, "alarm.raised", state, "raised"))
            else:
                state.condition_present = True
                state.value, state.limit = condition.value, condition.limit
                state.message = condition.message or state.message
        for key, state in list(self._alarms.items()):
            if key not in present:
                state.condition_present = False
                if not state.definition.latching or state.acknowledged_s is not None:
                    events.append(self._clear(time_s, key))
                    continue
            events.extend(self._escalate(time_s, state))
        return events

    def acknowledge(
        self, time_s: float, code: str | None = None, source: str | None = None
    ) -> list[Event]:
        """Acknowledge active alarms (all, or those with ``code`` / ``source``).

        A latching alarm whose condition has ended clears now.
        """
        events: list[Event] = []
        for key, state in list(self._alarms.items()):
            if (code is not None and key[0] != code) or (source is not None and key[1] != source):
                continue
            if state.acknowledged_s is None:
                state.acknowledged_s = time_s
                self._open_records[key].acknowledged_s = time_s
                events.append(self._event(time_s, "alarm.acknowledged", state, "acknowledged"))
            if not state.condition_present:
                events.append(self._clear(time_s, key))
        return events

    def silence(self, time_s: float, duration_s: float | None = None) -> list[Event]:
        """Pause the audio of every active, unacknowledged alarm for ``duration_s`` (default
        ``config.silence_s``)."""
        until = time_s + (self.config.silence_s if duration_s is None else duration_s)
        events = []
        for state in self._alarms.values():
            if state.acknowledged_s is None and state.priority > AlarmPriority.INFO:
                state.silenced_until_s = until
                events.append(
                    self._event(time_s, "alarm.silenced", state, f"silenced until {until:g} s")
                )
        return events

    # -- internals ------------------------------------------------------------------------------

    def _raise(self, time_s: float, condition: AlarmCondition) -> _State:
        definition = self.catalogue.get(condition.code)
        if definition is None:
            raise NotFoundError(
                "code", f"must be an alarm in the catalogue, got {condition.code!r}"
            )
        state = _State(
            definition,
            condition.source,
            definition.priority,
            time_s,
            True,
            condition.value,
            condition.limit,
            condition.message,
        )
        self._alarms[condition.key] = state
        record = AlarmRecord(
            definition.code, condition.source, definition.priority, time_s,
            max_priority=definition.priority,
        )  # fmt: skip
        self._records.append(record)
        self._open_records[condition.key] = record
        return state

    def _escalate(self, time_s: float, state: _State) -> list[Event]:
        after = (
            self.config.escalation_s
            if self.config.escalation_s is not None
            else state.definition.escalate_after_s
        )
        if (
            after is None
            or state.priority != AlarmPriority.MEDIUM
            or state.acknowledged_s is not None
            or time_s - state.raised_s < after
        ):
            return []
        state.priority = AlarmPriority.HIGH
        state.escalated_s = time_s
        state.silenced_until_s = None  # an escalated alarm sounds again
        record = self._open_records[(state.definition.code, state.source)]
        record.escalated_s, record.max_priority = time_s, AlarmPriority.HIGH
        return [self._event(time_s, "alarm.escalated", state, f"unacknowledged for {after:g} s")]

    def _clear(self, time_s: float, key: tuple[str, str]) -> Event:
        state = self._alarms.pop(key)
        self._open_records.pop(key).cleared_s = time_s
        return self._event(time_s, "alarm.cleared", state, "cleared")

    @staticmethod
    def _event(time_s: float, kind: EventKind, state: _State, what: str) -> Event:
        definition = state.definition
        where = f" ({state.source})" if state.source else ""
        detail = f": {state.message}" if state.message else ""
        data: dict[str, Any] = {
            "priority": state.priority.label,
            "value": state.value,
            "limit": state.limit,
            "unit": definition.unit,
            "source": state.source,
            "latching": definition.latching,
            "recovery": definition.recovery,
        }
        return Event(
            time_s,
            kind,
            definition.code,
            f"{definition.condition}{where}{detail} - {what}",
            data,
        )
