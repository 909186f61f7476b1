"""The one event type shared by alarms, the safety supervisor, the procedure and the controllers.

An :class:`Event` is a fact with a time stamp: an alarm was raised, a phase began, a dose was
given. Sinks (store, websocket, terminal, run summary) receive them in order; nothing in an event
refers back to the object that made it, so events can be serialised as they are.

Kinds (``Event.kind``)
----------------------
- ``alarm.raised``, ``alarm.acknowledged``, ``alarm.silenced``, ``alarm.escalated``,
  ``alarm.cleared``: alarm life cycle (``code`` = alarm code; ``data`` holds ``priority``,
  ``value``, ``limit``, ``source``).
- ``supervisor.tripped``, ``supervisor.released``: the safety supervisor forced / released a
  safe state.
- ``phase.changed``, ``procedure.paused``, ``procedure.resumed``, ``procedure.aborted``: procedure.
- ``timer.started``, ``timer.ended``: the perfusion timer.
- ``dose.due``, ``dose.confirmed``, ``dose.missed``: intraperitoneal dose prompts.
- ``control.fallback``: a controller lost a measurement and changed what it controls on (or
  recovered; ``code`` is ``"none"`` then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

EventKind = Literal[
    "alarm.raised",
    "alarm.acknowledged",
    "alarm.silenced",
    "alarm.escalated",
    "alarm.cleared",
    "supervisor.tripped",
    "supervisor.released",
    "phase.changed",
    "procedure.paused",
    "procedure.resumed",
    "procedure.aborted",
    "timer.started",
    "timer.ended",
    "dose.due",
    "dose.confirmed",
    "dose.missed",
    "control.fallback",
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened during a perfusion.

    Attributes
    ----------
    time_s
        Device time [s] at which it happened.
    kind
        What happened, one of :data:`EVENT_KINDS`.
    code
        What it is about: an alarm code, a phase name, a drug name.
    message
        One line for the operator.
    data
        Details (values with their unit in the key, e.g. ``value``/``limit`` in the alarm's unit).
    """

    time_s: float
    kind: EventKind
    code: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "time_s": self.time_s,
            "kind": self.kind,
            "code": self.code,
            "message": self.message,
            "data": dict(self.data),
        }
