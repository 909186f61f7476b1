"""Inflow / outflow balance: keep the intra-abdominal volume while the perfusate circulates.

While circulating, the inflow pump runs at the set rate and the outflow pump at that rate plus a
*trim*:

- closed technique with an intra-abdominal pressure reading: a PI loop holds the pressure at
  ``pressure_target_mmhg`` (more pressure -> more outflow);
- otherwise: a PI loop holds the net volume pumped into the abdomen since circulation began,
  ``integral (Q_in - Q_out) dt`` from the *measured* flows, at zero.

Imbalance is detected two ways and reported as ``ABDOMINAL_VOLUME_DRIFT`` (medium): the net volume
beyond ``drift_limit_l``, or the reservoir falling faster than ``reservoir_fall_l_per_min`` over
``reservoir_window_s`` while circulating.

The flow controller is not a safety function: the supervisor checks volumes and pressures on its
own.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from hipec.control.alarms import AlarmCondition
from hipec.control.pid import Pid, PidGains
from hipec.control.temperature import HeaterDemand
from hipec.devices.base import Command, Reading

FlowMode = Literal["stop", "circulate", "fill", "drain"]


@dataclass(frozen=True, slots=True)
class FlowSetpoints:
    """What the pumps should do in the current phase.

    Attributes
    ----------
    mode
        ``"stop"`` (both pumps off), ``"circulate"`` (balanced), ``"fill"`` (inflow only) or
        ``"drain"`` (outflow only).
    rate_l_per_min
        The inflow rate while circulating or filling, the outflow rate while draining [L/min].
    """

    mode: FlowMode = "stop"
    rate_l_per_min: float = 0.0


@dataclass(frozen=True, slots=True)
class PumpDemand:
    """Pump rates for one control period.

    Attributes
    ----------
    inflow_l_per_min, outflow_l_per_min
        Pump rates [L/min].
    trim_l_per_min
        Outflow minus inflow added by the balance loop [L/min].
    net_volume_l
        Measured net volume pumped into the abdomen since circulation began [L].
    conditions
        Alarm conditions (``ABDOMINAL_VOLUME_DRIFT``).
    """

    inflow_l_per_min: float
    outflow_l_per_min: float
    trim_l_per_min: float = 0.0
    net_volume_l: float = 0.0
    conditions: tuple[AlarmCondition, ...] = ()


@dataclass(frozen=True, slots=True)
class BalanceConfig:
    """Settings of :class:`FlowBalance` (hipec defaults; tune against the twin).

    Attributes
    ----------
    pressure_target_mmhg
        Intra-abdominal pressure held in the closed technique [mmHg].
    pressure_gains
        PI on pressure -> trim [L/min per mmHg, L/min per mmHg.s].
    volume_gains
        PI on net volume -> trim [L/min per L, L/min per L.s].
    use_pressure
        Balance on pressure when it reads (closed technique).
    drift_limit_l
        Net volume beyond which the abdomen counts as filling or emptying [L].
    reservoir_fall_l_per_min, reservoir_window_s
        Reservoir falling faster than this [L/min] over this window [s] while circulating.
    max_flow_l_per_min
        Pump limit [L/min].
    """

    pressure_target_mmhg: float = 10.0
    pressure_gains: PidGains = field(
        default_factory=lambda: PidGains(kp=0.02, ki=0.002, output_min=-0.5, output_max=0.5)
    )
    volume_gains: PidGains = field(
        default_factory=lambda: PidGains(kp=1.0, ki=0.01, output_min=-0.5, output_max=0.5)
    )
    use_pressure: bool = True
    drift_limit_l: float = 0.3
    reservoir_fall_l_per_min: float = 0.2
    reservoir_window_s: float = 30.0
    max_flow_l_per_min: float = 4.0


class FlowBalance:
    """Pump rates per phase, with the circulating balance loop; see the module docstring."""

    def __init__(self, config: BalanceConfig | None = None) -> None:
        self.config = config or BalanceConfig()
        self._pressure = Pid(self.config.pressure_gains)
        self._volume = Pid(self.config.volume_gains)
        self.reset()

    def reset(self) -> None:
        """Forget all state."""
        self._pressure.reset()
        self._volume.reset()
        self._net_volume_l = 0.0
        self._mode: FlowMode = "stop"
        self._reservoir: deque[tuple[float, float]] = deque()

    @property
    def net_volume_l(self) -> float:
        """Measured net volume pumped into the abdomen since circulation began [L]."""
        return self._net_volume_l

    def update(self, reading: Reading, setpoints: FlowSetpoints, dt_s: float) -> PumpDemand:
        """Pump rates for the next ``dt_s`` seconds."""
        cfg = self.config
        rate = min(max(setpoints.rate_l_per_min, 0.0), cfg.max_flow_l_per_min)
        if setpoints.mode != self._mode:
            self._mode = setpoints.mode
            self._net_volume_l = 0.0
            self._pressure.reset()
            self._volume.reset()
            self._reservoir.clear()
        if setpoints.mode == "stop":
            return PumpDemand(0.0, 0.0)
        if setpoints.mode == "fill":
            return PumpDemand(rate, 0.0)
        if setpoints.mode == "drain":
            return PumpDemand(0.0, rate)

        measured_in, measured_out = reading.inflow_l_per_min, reading.outflow_l_per_min
        if math.isfinite(measured_in) and math.isfinite(measured_out):
            self._net_volume_l += (measured_in - measured_out) * dt_s / 60.0
        iap = reading.abdominal_pressure_mmhg
        if cfg.use_pressure and math.isfinite(iap):
            # negated so that a pressure above target gives a positive trim (more outflow)
            trim = self._pressure.update(-cfg.pressure_target_mmhg, -iap, dt_s)
        else:
            trim = self._volume.update(0.0, -self._net_volume_l, dt_s)
        outflow = min(max(rate + trim, 0.0), cfg.max_flow_l_per_min)
        return PumpDemand(
            rate, outflow, outflow - rate, self._net_volume_l, self._conditions(reading)
        )

    def _conditions(self, reading: Reading) -> tuple[AlarmCondition, ...]:
        cfg = self.config
        found: list[AlarmCondition] = []
        if abs(self._net_volume_l) > cfg.drift_limit_l:
            found.append(
                AlarmCondition(
                    "ABDOMINAL_VOLUME_DRIFT",
                    self._net_volume_l,
                    cfg.drift_limit_l,
                    "abdomen",
                    "net volume pumped into the abdomen since circulation began",
                )
            )
        level = reading.reservoir_volume_l
        if math.isfinite(level):
            self._reservoir.append((reading.time_s, level))
            while (
                len(self._reservoir) > 2
                and self._reservoir[1][0] <= reading.time_s - cfg.reservoir_window_s
            ):
                self._reservoir.popleft()
            start_s, start_l = self._reservoir[0]
            span_s = reading.time_s - start_s
            if span_s >= cfg.reservoir_window_s - 1e-9:
                fall = (start_l - level) / span_s * 60.0
                if fall > cfg.reservoir_fall_l_per_min:
                    found.append(
                        AlarmCondition(
                            "ABDOMINAL_VOLUME_DRIFT",
                            fall,
                            cfg.reservoir_fall_l_per_min,
                            "reservoir",
                            f"reservoir falling {fall:.2f} L/min while circulating",
                        )
                    )
        return tuple(found)


def compose_command(heater: HeaterDemand, pumps: PumpDemand) -> Command:
    """The machine command from a temperature controller's and the flow balance's outputs."""
    return Command(
        heater_power_w=heater.heater_power_w,
        inflow_l_per_min=pumps.inflow_l_per_min,
        outflow_l_per_min=pumps.outflow_l_per_min,
    )
