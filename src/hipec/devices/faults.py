"""Faults the simulated perfusion machine can suffer, by name, from an onset time.

Each fault has one documented physical effect on :class:`~hipec.devices.simulated.
SimulatedPerfusionMachine` (what the machine really does, and what its sensors then show). The
effects are deliberately simple and deterministic so that a fault campaign can say exactly what a
controller and a supervisor faced.

==================  ===========================================================================
name                effect from the onset on
==================  ===========================================================================
heater-stuck-on     the heater delivers its maximum power whatever it is commanded (0 on battery)
heater-failed       the heater delivers no power whatever it is commanded
inflow-probe-stuck  the inflow temperature reading freezes at its value at the onset
cavity-probe-drift  one intra-abdominal probe reading drifts upwards at ``magnitude`` K/min
probe-disconnected  one temperature probe reads ``nan`` (default: the first intra-abdominal one)
pump-stall          a pump (default: inflow) stops delivering flow whatever it is commanded
occlusion           the inflow line resistance rises ``magnitude``-fold: the roller pump keeps
                    its flow, so the line pressure rises in proportion
leak                perfusate (with its drug and heat) leaves the circuit at ``magnitude`` L/min
air-in-line         the air detector on the inflow line sees air
power-loss          mains lost, on battery: pumps and monitoring go on, the heater delivers nothing
==================  ===========================================================================

Default magnitudes are hipec choices (not published figures) sized so that each fault is clearly a
fault; all are configurable per :class:`Fault`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from hipec.errors import InvalidInputError

FaultName = Literal[
    "heater-stuck-on",
    "heater-failed",
    "inflow-probe-stuck",
    "cavity-probe-drift",
    "probe-disconnected",
    "pump-stall",
    "occlusion",
    "leak",
    "air-in-line",
    "power-loss",
]
FAULT_NAMES: tuple[str, ...] = get_args(FaultName)

#: What each fault does to the machine, in one line (shown by the CLI and the web console).
FAULT_EFFECTS: dict[str, str] = {
    "heater-stuck-on": "heater delivers its maximum power whatever it is commanded",
    "heater-failed": "heater delivers no power whatever it is commanded",
    "inflow-probe-stuck": "inflow temperature reading frozen at its value at the onset",
    "cavity-probe-drift": "an intra-abdominal probe reading drifts upwards (K/min)",
    "probe-disconnected": "a temperature probe reads nothing (nan)",
    "pump-stall": "a pump delivers no flow whatever it is commanded",
    "occlusion": "inflow line resistance multiplied: line pressure rises with the flow",
    "leak": "perfusate lost from the circuit (L/min), with its drug and heat",
    "air-in-line": "air detector on the inflow line sees air",
    "power-loss": "mains lost: on battery, pumps and monitoring continue, heating stops",
}

#: Default magnitude per fault that has one, with its unit (hipec choices, configurable).
DEFAULT_MAGNITUDES: dict[str, tuple[float, str]] = {
    "cavity-probe-drift": (0.5, "K/min"),
    "occlusion": (10.0, "x line resistance"),
    "leak": (0.5, "L/min"),
}

#: Default target channel per fault that acts on one channel.
DEFAULT_TARGETS: dict[str, str] = {
    "inflow-probe-stuck": "inflow",
    "cavity-probe-drift": "cavity",  # the first intra-abdominal probe
    "probe-disconnected": "cavity",  # the first intra-abdominal probe
    "pump-stall": "inflow",
}

#: Channels a probe fault may target: ``cavity`` is the first intra-abdominal probe,
#: ``cavity[<region>]`` the probe in that PCI region.
PROBE_TARGETS: tuple[str, ...] = ("inflow", "outflow", "reservoir", "core", "cavity")
PUMP_TARGETS: tuple[str, ...] = ("inflow", "outflow")


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault.

    Parameters
    ----------
    name
        One of :data:`FAULT_NAMES`.
    onset_s
        Device time [s] from which the fault acts (it then lasts to the end of the run).
    magnitude
        Size for the faults listed in :data:`DEFAULT_MAGNITUDES` (their unit); None: the default.
    target
        Channel or pump for the faults listed in :data:`DEFAULT_TARGETS`; None: the default.
    """

    name: str
    onset_s: float
    magnitude: float | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        if self.name not in FAULT_NAMES:
            raise InvalidInputError(
                "fault", f"must be one of {', '.join(FAULT_NAMES)}, got {self.name!r}"
            )
        if not math.isfinite(self.onset_s) or self.onset_s < 0.0:
            raise InvalidInputError("fault", f"onset must be a time >= 0, got {self.onset_s!r} s")
        if self.magnitude is not None and (
            not math.isfinite(self.magnitude) or self.magnitude <= 0.0
        ):
            raise InvalidInputError(
                "fault", f"{self.name} magnitude must be > 0, got {self.magnitude!r}"
            )
        if self.target is not None:
            allowed = PUMP_TARGETS if self.name == "pump-stall" else PROBE_TARGETS
            if self.name not in DEFAULT_TARGETS:
                raise InvalidInputError(
                    "fault", f"{self.name} takes no target, got {self.target!r}"
                )
            base = self.target.split("[", 1)[0]
            if base not in allowed or ("[" in self.target and not _is_cavity_region(self.target)):
                raise InvalidInputError(
                    "fault",
                    f"{self.name} target must be one of {', '.join(allowed)}"
                    + (" or cavity[<region>]" if self.name != "pump-stall" else "")
                    + f", got {self.target!r}",
                )

    @property
    def value(self) -> float:
        """The magnitude in force (the default when none was given; nan if it takes none)."""
        if self.magnitude is not None:
            return self.magnitude
        default = DEFAULT_MAGNITUDES.get(self.name)
        return default[0] if default else math.nan

    @property
    def channel(self) -> str:
        """The target in force (``""`` for faults without one)."""
        return self.target or DEFAULT_TARGETS.get(self.name, "")

    def active(self, time_s: float) -> bool:
        """The fault acts at device time ``time_s`` [s]."""
        return time_s >= self.onset_s - 1e-9


def _is_cavity_region(text: str) -> bool:
    if not (text.startswith("cavity[") and text.endswith("]")):
        return False
    inside = text[len("cavity[") : -1]
    return inside.isdigit() and 0 <= int(inside) <= 12


def parse_fault(text: str) -> Fault:
    """A :class:`Fault` from ``NAME@MINUTES`` (the ``--fault`` syntax); minutes from the start.

    Raises
    ------
    InvalidInputError
        (field ``fault``) for bad syntax or an unknown name; the message lists the known faults.
    """
    known = ", ".join(FAULT_NAMES)
    name, at, minutes = text.strip().partition("@")
    if not at or not name:
        raise InvalidInputError(
            "fault", f"must be NAME@MINUTES with NAME one of {known}, got {text!r}"
        )
    if name not in FAULT_NAMES:
        raise InvalidInputError("fault", f"must be one of {known}, got {name!r}")
    try:
        onset_min = float(minutes)
    except ValueError:
        onset_min = math.nan
    if not math.isfinite(onset_min) or onset_min < 0.0:
        raise InvalidInputError(
            "fault", f"onset must be minutes >= 0 (NAME@MINUTES, faults: {known}), got {minutes!r}"
        )
    return Fault(name, onset_min * 60.0)
