"""Event table of the twin (rxode2 / mrgsolve style: time, event type, target, amount).

Events change the twin instantaneously at a step boundary; continuous actuator commands (heater
power,
pump flows, cooling) are not events but arguments of :meth:`hipec.model.solver.Twin.step`.

=========  ===============================  ===================  =================================
kind       target                           amount               meaning
=========  ===============================  ===================  =================================
dose       reservoir, abdomen, or a region  mg (``drug`` named)  drug added (abdomen: by volume)
fill       reservoir or abdomen             L                    carrier added at ``temperature_c``
drain      reservoir or abdomen             L (``inf``: all)     fluid removed with its heat / drug
rinse      abdomen                          L                    fill, mix, drain the same volume
=========  ===============================  ===================  =================================

``amount`` is one number for every patient of a batch or one number per patient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from hipec.errors import InvalidInputError

EventKind = Literal["dose", "fill", "drain", "rinse"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
FLUID_TARGETS: tuple[str, ...] = ("reservoir", "abdomen")


@dataclass(frozen=True)
class Event:
    """One row of the event table.

    Parameters
    ----------
    time_s
        When the event happens [s from the start of the run].
    kind
        ``"dose"``, ``"fill"``, ``"drain"`` or ``"rinse"``.
    amount
        mg for a dose, L otherwise; one value or one per patient. ``math.inf`` drains everything.
    target
        ``"reservoir"``, ``"abdomen"``, or (dose only) a PCI region index or name.
    drug
        Drug name for a dose.
    temperature_c
        Temperature of the added fluid for fill / rinse [degC]; ``None``: the priming temperature.
    """

    time_s: float
    kind: EventKind
    amount: float | tuple[float, ...]
    target: str | int = "abdomen"
    drug: str | None = None
    temperature_c: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.time_s) or self.time_s < 0.0:
            raise InvalidInputError("time_s", f"must be a time >= 0 s, got {self.time_s!r}")
        if self.kind not in EVENT_KINDS:
            raise InvalidInputError(
                "kind", f"must be one of {', '.join(EVENT_KINDS)}, got {self.kind!r}"
            )
        amounts = self.amount if isinstance(self.amount, tuple) else (self.amount,)
        for value in amounts:
            infinite_drain = self.kind == "drain" and value == math.inf
            if not isinstance(value, int | float) or not (
                infinite_drain or (math.isfinite(value) and value >= 0.0)
            ):
                unit = "mg" if self.kind == "dose" else "L"
                raise InvalidInputError("amount", f"must be a number >= 0 {unit}, got {value!r}")
        if self.kind == "dose":
            if not self.drug:
                raise InvalidInputError("drug", "a dose must name its drug, got none")
        elif self.target not in FLUID_TARGETS or (
            self.kind == "rinse" and self.target != "abdomen"
        ):
            allowed = "abdomen" if self.kind == "rinse" else "reservoir or abdomen"
            raise InvalidInputError(
                "target", f"{self.kind} must target {allowed}, got {self.target!r}"
            )
        if self.temperature_c is not None and not 0.0 <= self.temperature_c <= 60.0:
            raise InvalidInputError("temperature_c", f"must be 0-60 C, got {self.temperature_c!r}")


def event_table(rows: Iterable[Mapping[str, Any]]) -> list[Event]:
    """Build a time-sorted event list from rows with keys ``time_s, kind, amount, target, drug,
    temperature_c`` (the last three optional).

    Raises
    ------
    InvalidInputError
        Naming the row, e.g. ``events[2].amount``.
    """
    events: list[Event] = []
    for index, row in enumerate(rows):
        unknown = set(row) - {"time_s", "kind", "amount", "target", "drug", "temperature_c"}
        if unknown:
            raise InvalidInputError(f"events[{index}]", f"unknown columns {sorted(unknown)}")
        try:
            amount = row["amount"]
            if isinstance(amount, Sequence) and not isinstance(amount, str):
                amount = tuple(float(value) for value in amount)
            events.append(
                Event(
                    time_s=float(row["time_s"]),
                    kind=row["kind"],
                    amount=amount,
                    target=row.get("target", "abdomen"),
                    drug=row.get("drug"),
                    temperature_c=row.get("temperature_c"),
                )
            )
        except KeyError as missing:
            raise InvalidInputError(f"events[{index}]", f"missing column {missing}") from None
        except InvalidInputError as error:
            raise InvalidInputError(f"events[{index}].{error.field}", error.message) from None
    return sorted(events, key=lambda event: event.time_s)
