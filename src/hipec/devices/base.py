"""The perfusion-machine interface: ``read() -> Reading`` and ``apply(Command)``.

Everything above this module (control, runner, store, web) knows a machine only through these
types, so a simulated machine and a real one (later, over IEEE 11073 SDC or a vendor link) are
interchangeable.

Conventions
-----------
- Temperatures in degrees Celsius, flows in L/min, pressures in mmHg, volumes in litres, power in
  watts, time in seconds since the device started.
- A channel that has no value (probe disconnected, channel absent in this technique) reads ``nan``;
  consumers must treat ``nan`` as "no reading", never as a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

PowerState = Literal["mains", "battery"]

#: Pump rate of the safe state: circulation continues slowly so no region stagnates while the heater
#: is off (commercial machines keep pumping on battery with heating off). Configurable per device.
SAFE_FLOW_L_PER_MIN = 0.5


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample of every channel of a perfusion machine.

    Attributes
    ----------
    time_s
        Device time [s] since start.
    inflow_c, outflow_c, reservoir_c
        Perfusate temperatures [C] at the inflow and outflow catheters and in the reservoir.
    cavity_c
        Intra-abdominal probe temperatures [C], one per entry of ``cavity_probe_regions``.
    cavity_probe_regions
        The PCI region (0-12) each intra-abdominal probe sits in.
    core_c
        Patient core temperature (bladder or oesophageal probe) [C].
    inflow_l_per_min, outflow_l_per_min
        Measured pump flows [L/min].
    line_pressure_mmhg
        Inflow line pressure [mmHg].
    abdominal_pressure_mmhg
        Intra-abdominal pressure [mmHg] (closed technique; ``nan`` when open).
    reservoir_volume_l
        Perfusate volume in the reservoir [L].
    air_in_line
        The air detector on the inflow line sees air.
    power
        ``"mains"`` or ``"battery"``.
    heater_power_w
        Heater power actually delivered [W].
    """

    time_s: float
    inflow_c: float
    outflow_c: float
    reservoir_c: float
    cavity_c: tuple[float, ...]
    cavity_probe_regions: tuple[int, ...]
    core_c: float
    inflow_l_per_min: float
    outflow_l_per_min: float
    line_pressure_mmhg: float
    abdominal_pressure_mmhg: float
    reservoir_volume_l: float
    air_in_line: bool
    power: PowerState
    heater_power_w: float

    def __post_init__(self) -> None:
        if len(self.cavity_c) != len(self.cavity_probe_regions):
            raise ValueError("cavity_c and cavity_probe_regions must have the same length")

    def cavity_probe(self, region: int) -> float:
        """Temperature [C] of the probe in ``region``, ``nan`` if no probe there reads."""
        for probe_region, value in zip(self.cavity_probe_regions, self.cavity_c, strict=True):
            if probe_region == region:
                return value
        return math.nan

    @property
    def max_cavity_c(self) -> float:
        """Hottest reading cavity probe [C], ``nan`` if none reads."""
        values = [v for v in self.cavity_c if not math.isnan(v)]
        return max(values) if values else math.nan

    @property
    def mean_cavity_c(self) -> float:
        """Mean of the reading cavity probes [C], ``nan`` if none reads."""
        values = [v for v in self.cavity_c if not math.isnan(v)]
        return sum(values) / len(values) if values else math.nan


@dataclass(frozen=True, slots=True)
class Command:
    """What the control software asks of the machine for the next control period.

    Attributes
    ----------
    heater_power_w
        Heater power [W], 0 to the device's maximum.
    inflow_l_per_min, outflow_l_per_min
        Pump rates [L/min], 0 to the device's maximum.
    inflow_clamp_open, outflow_clamp_open
        Line clamps; a closed clamp stops flow in its line whatever the pump does.
    """

    heater_power_w: float = 0.0
    inflow_l_per_min: float = 0.0
    outflow_l_per_min: float = 0.0
    inflow_clamp_open: bool = True
    outflow_clamp_open: bool = True


def safe_command(flow_l_per_min: float = SAFE_FLOW_L_PER_MIN) -> Command:
    """The safe state: heater off, both pumps at a low balanced rate, clamps open."""
    return Command(
        heater_power_w=0.0, inflow_l_per_min=flow_l_per_min, outflow_l_per_min=flow_l_per_min
    )


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a machine declares about itself.

    Attributes
    ----------
    name
        Model or simulator name.
    max_heater_power_w
        Heater power limit [W].
    max_flow_l_per_min
        Pump rate limit [L/min].
    cavity_probe_regions
        PCI regions (0-12) of the intra-abdominal probes.
    control_period_s
        The period [s] at which the machine expects commands.
    """

    name: str
    max_heater_power_w: float
    max_flow_l_per_min: float
    cavity_probe_regions: tuple[int, ...] = field(default=(0, 6, 3))
    control_period_s: float = 1.0


@runtime_checkable
class PerfusionDevice(Protocol):
    """A perfusion machine, real or simulated."""

    @property
    def info(self) -> DeviceInfo:
        """What the machine declares about itself."""
        ...

    def read(self) -> Reading:
        """The latest sample of every channel."""
        ...

    def apply(self, command: Command) -> None:
        """Send a command; it holds until the next one."""
        ...


@runtime_checkable
class SimulatedDevice(PerfusionDevice, Protocol):
    """A device whose time is driven by the caller (simulated or accelerated clock)."""

    def advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds of device time pass under the last command."""
        ...
