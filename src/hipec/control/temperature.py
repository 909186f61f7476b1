"""Temperature controllers: a single-loop PID baseline and a cascade.

Every controller has the same interface (:class:`TemperatureController`)::

    demand = controller.update(reading, setpoints, dt_s)   # -> HeaterDemand (heater power [W])
    controller.reset()

and never passes ``nan`` to the heater: when a measurement is missing it falls back to the next
best one, says so in :attr:`HeaterDemand.fallback` and emits a ``control.fallback`` event when the
fallback changes. Feed it the supervisor's *trusted* reading, in which faulty probes read ``nan``.

Cascade (:class:`CascadeController`)
-----------------------------------
- Outer loop: intra-abdominal temperature (the coolest reading probe, or the mean; configurable)
  -> inflow temperature setpoint, clamped to ``[min_inflow_setpoint_c, max]`` where ``max`` is the
  lower of (regimen max inflow - ``inflow_margin_k``) and (max region - ``region_margin_k``): the
  perfusate cannot heat any region above the inflow temperature, so this clamp keeps every region
  below its limit by construction. The setpoint is rate limited [K/min]. The outer integral holds
  while the inner loop saturates in the direction the outer loop pushes, while the rate limiter
  binds, and while the hottest probe is within ``hot_guard_k`` of the region limit.
- Inner loop: inflow temperature -> heater power, with feed-forward of the heat the flow
  carries, ``P_ff = rho_c * Q * (T_set - T_return)`` (``T_return``: reservoir, else outflow), and
  the PID gains scaled with flow (the plant's gain falls as the flow rises), so one tuning holds
  from low to high flow.
- Regimens that target the inflow skip the outer loop (the setpoint is the target, still clamped and
  rate limited).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from hipec.control.alarms import AlarmCondition
from hipec.control.events import Event
from hipec.control.limits import ABSOLUTE_MAX_REGION_C
from hipec.control.pid import Pid, PidGains, clamp
from hipec.devices.base import Reading
from hipec.protocols.plan import PerfusionPlan

TargetSite = Literal["inflow", "intra_abdominal"]
CavityAggregate = Literal["mean", "coolest"]

#: Volumetric heat capacity of the perfusate [J/(L.K)] (water at 40 C: 992 kg/m3 x 4.18 kJ/(kg.K)).
PERFUSATE_HEAT_CAPACITY_J_PER_L_K = 4150.0


@dataclass(frozen=True, slots=True)
class TemperatureSetpoints:
    """What the temperature controller aims at in the current phase.

    Attributes
    ----------
    target_c
        Target temperature [C] at ``target_site``.
    target_site
        ``"inflow"`` or ``"intra_abdominal"``.
    max_inflow_c
        The regimen's hard inflow limit [C].
    max_region_c
        The hard limit for any abdominal region [C].
    heating
        False: heater off (drain, rinse, setup, complete).
    """

    target_c: float
    target_site: TargetSite = "inflow"
    max_inflow_c: float = 44.0
    max_region_c: float = 44.0
    heating: bool = True

    @classmethod
    def from_plan(
        cls, plan: PerfusionPlan, target_c: float | None = None, heating: bool = True
    ) -> TemperatureSetpoints:
        """The plan's target (or ``target_c``) at the plan's site, with its limits."""
        site: TargetSite = "inflow" if plan.target_site == "inflow" else "intra_abdominal"
        return cls(
            target_c=plan.target_temperature_c if target_c is None else target_c,
            target_site=site,
            max_inflow_c=plan.max_inflow_c,
            max_region_c=min(plan.max_intra_abdominal_c, ABSOLUTE_MAX_REGION_C),
            heating=heating,
        )


@dataclass(frozen=True, slots=True)
class HeaterDemand:
    """A temperature controller's output for one control period.

    Attributes
    ----------
    heater_power_w
        Heater power [W], finite, within the heater's range.
    inflow_setpoint_c
        Inflow temperature setpoint in use [C] (``nan`` if none).
    controlled_on
        Which measurement was controlled (``"inflow"``, ``"cavity coolest"``, ``"cavity mean"``,
        ``"outflow"``, or ``"none"``).
    measured_c
        Its value [C] (``nan`` if none).
    fallback
        Why the controller is not on its preferred measurement, None if it is.
    events
        ``control.fallback`` events of this step.
    """

    heater_power_w: float
    inflow_setpoint_c: float
    controlled_on: str
    measured_c: float
    fallback: str | None = None
    events: tuple[Event, ...] = ()


class TemperatureController(Protocol):
    """The interface every temperature controller offers."""

    name: str

    def update(
        self, reading: Reading, setpoints: TemperatureSetpoints, dt_s: float
    ) -> HeaterDemand:
        """One control step of ``dt_s`` seconds."""
        ...

    def reset(self) -> None:
        """Forget all state (a new perfusion)."""
        ...


def abdominal_temperature(reading: Reading, how: CavityAggregate) -> float:
    """The intra-abdominal temperature [C] from the reading probes: their mean or the coolest
    (``nan`` if none reads)."""
    return reading.mean_cavity_c if how == "mean" else _coolest(reading)


def _coolest(reading: Reading) -> float:
    values = [v for v in reading.cavity_c if math.isfinite(v)]
    return min(values) if values else math.nan


class _FallbackTracker:
    """Emits a ``control.fallback`` event when the fallback reason changes."""

    def __init__(self, controller: str) -> None:
        self.controller = controller
        self.current: str | None = None

    def note(self, time_s: float, code: str | None, reason: str | None) -> tuple[Event, ...]:
        if reason == self.current:
            return ()
        self.current = reason
        message = reason if reason is not None else "back on the preferred measurement"
        return (
            Event(
                time_s,
                "control.fallback",
                code or "none",
                f"{self.controller}: {message}",
                {"controller": self.controller},
            ),
        )


# -- single loop --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SingleLoopConfig:
    """Settings of :class:`SingleLoopPid` (starting values; tune against the twin).

    Attributes
    ----------
    gains
        PID on the controlled temperature -> heater power [W per K, W per K.s, W.s per K].
    cavity_aggregate
        How the abdominal temperature is formed from the probes.
    inflow_cut_margin_k
        Heater off while the inflow is within this of the regimen's inflow limit [K] (the simple
        high-limit cut commercial machines have).
    """

    gains: PidGains = field(
        default_factory=lambda: PidGains(kp=400.0, ki=4.0, output_min=0.0, output_max=3000.0)
    )
    cavity_aggregate: CavityAggregate = "mean"
    inflow_cut_margin_k: float = 0.5


class SingleLoopPid:
    """Baseline: heater power from the error of one measured temperature (inflow, or the
    abdominal temperature when the regimen targets the abdomen)."""

    name = "pid"

    def __init__(self, config: SingleLoopConfig | None = None) -> None:
        self.config = config or SingleLoopConfig()
        self._pid = Pid(self.config.gains)
        self._fallback = _FallbackTracker(self.name)

    def reset(self) -> None:
        """Forget all state."""
        self._pid.reset()
        self._fallback = _FallbackTracker(self.name)

    def update(
        self, reading: Reading, setpoints: TemperatureSetpoints, dt_s: float
    ) -> HeaterDemand:
        """One control step; see :class:`TemperatureController`."""
        if setpoints.target_site == "inflow":
            candidates = [("inflow", reading.inflow_c)]
        else:
            label = f"cavity {self.config.cavity_aggregate}"
            candidates = [
                (label, abdominal_temperature(reading, self.config.cavity_aggregate)),
                ("outflow", reading.outflow_c),
                ("inflow", reading.inflow_c),  # cooler abdomen than inflow: a safe proxy
            ]
        used, measured = next(
            ((name, value) for name, value in candidates if math.isfinite(value)),
            ("none", math.nan),
        )
        fallback_code, reason = None, None
        if used == "none":
            fallback_code, reason = "no_temperature", "no temperature reading: heater off"
        elif used != candidates[0][0]:
            fallback_code = "cavity_missing"
            reason = f"{candidates[0][0]} unavailable: controlling on {used}"
        events = self._fallback.note(reading.time_s, fallback_code, reason)

        if not setpoints.heating or used == "none":
            self._pid.set_manual(0.0)
            if math.isfinite(measured):
                self._pid.update(setpoints.target_c, measured, dt_s)
            return HeaterDemand(0.0, math.nan, used, measured, reason, events)
        self._pid.set_auto()
        power = self._pid.update(setpoints.target_c, measured, dt_s)
        cut = setpoints.max_inflow_c - self.config.inflow_cut_margin_k
        if math.isfinite(reading.inflow_c) and reading.inflow_c >= cut:
            power = 0.0
        return HeaterDemand(power, math.nan, used, measured, reason, events)


# -- cascade ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CascadeConfig:
    """Settings of :class:`CascadeController` (starting values; tune against the twin).

    Attributes
    ----------
    outer
        Abdominal temperature -> inflow setpoint offset from the target [K per K, K per K.s];
        its output limits are replaced each step by the setpoint clamp.
    inner
        Inflow temperature -> heater power [W per K, W per K.s] at ``reference_flow_l_per_min``.
    cavity_aggregate
        ``"coolest"`` (every region reaches the target) or ``"mean"``.
    setpoint_rate_k_per_min
        Largest change of the inflow setpoint [K/min].
    inflow_margin_k, region_margin_k
        The inflow setpoint stays this far below the regimen's inflow limit and the region limit
        [K].
    min_inflow_setpoint_c
        Lowest inflow setpoint [C].
    hot_guard_k
        The setpoint may not rise while the hottest probe is within this of the region limit [K].
    feedforward_gain
        Share of the flow's heat demand fed forward (0: none, 1: all).
    heat_capacity_j_per_l_k
        Volumetric heat capacity of the perfusate [J/(L.K)].
    gain_schedule
        Scale the inner gains with flow / ``reference_flow_l_per_min``.
    reference_flow_l_per_min, min_schedule_flow_l_per_min
        Flow at which ``inner`` is tuned, and the lowest flow used for scaling [L/min].
    max_heater_power_w
        Heater range [W].
    """

    outer: PidGains = field(
        default_factory=lambda: PidGains(kp=2.0, ki=0.01, output_min=-5.0, output_max=5.0)
    )
    inner: PidGains = field(
        default_factory=lambda: PidGains(kp=300.0, ki=10.0, output_min=0.0, output_max=3000.0)
    )
    cavity_aggregate: CavityAggregate = "coolest"
    setpoint_rate_k_per_min: float = 3.0
    inflow_margin_k: float = 0.5
    region_margin_k: float = 0.5
    min_inflow_setpoint_c: float = 37.0
    hot_guard_k: float = 0.3
    feedforward_gain: float = 1.0
    heat_capacity_j_per_l_k: float = PERFUSATE_HEAT_CAPACITY_J_PER_L_K
    gain_schedule: bool = True
    reference_flow_l_per_min: float = 1.5
    min_schedule_flow_l_per_min: float = 0.5
    max_heater_power_w: float = 3000.0


class CascadeController:
    """Cascade: abdominal temperature -> inflow setpoint -> heater power; see the module
    docstring."""

    name = "cascade"

    def __init__(self, config: CascadeConfig | None = None) -> None:
        self.config = config or CascadeConfig()
        inner = replace(self.config.inner, output_max=self.config.max_heater_power_w)
        self._outer = Pid(self.config.outer)
        self._inner = Pid(inner)
        self.reset()

    def reset(self) -> None:
        """Forget all state."""
        self._outer.reset()
        self._inner.reset()
        self._setpoint_c = math.nan  # rate-limited inflow setpoint
        self._inner_saturated = 0  # +1 at max power below setpoint, -1 at zero power above it
        self._limiter_bound = 0  # +1 / -1 while the rate limiter held the setpoint back
        self._fallback = _FallbackTracker(self.name)

    # -- helpers --------------------------------------------------------------------------------

    def setpoint_ceiling_c(self, setpoints: TemperatureSetpoints) -> float:
        """Highest inflow setpoint allowed [C]."""
        cfg = self.config
        return max(
            cfg.min_inflow_setpoint_c,
            min(
                setpoints.max_inflow_c - cfg.inflow_margin_k,
                setpoints.max_region_c - cfg.region_margin_k,
            ),
        )

    def feedforward_w(self, reading: Reading, setpoint_c: float) -> float:
        """Heat the flow carries away at ``setpoint_c`` [W]: ``rho_c Q (T_set - T_return)``,
        0 if the flow or the return temperature is missing; within the heater's range."""
        flow = reading.inflow_l_per_min
        returning = reading.reservoir_c if math.isfinite(reading.reservoir_c) else reading.outflow_c
        if not (math.isfinite(flow) and math.isfinite(returning)) or flow <= 0:
            return 0.0
        power = (
            self.config.feedforward_gain
            * self.config.heat_capacity_j_per_l_k
            * flow
            / 60.0
            * (setpoint_c - returning)
        )
        return clamp(power, 0.0, self.config.max_heater_power_w)

    def _gain_scale(self, reading: Reading) -> float:
        cfg = self.config
        flow = reading.inflow_l_per_min
        if not cfg.gain_schedule or not math.isfinite(flow):
            return 1.0
        return max(flow, cfg.min_schedule_flow_l_per_min) / cfg.reference_flow_l_per_min

    # -- the loop -------------------------------------------------------------------------------

    def update(
        self, reading: Reading, setpoints: TemperatureSetpoints, dt_s: float
    ) -> HeaterDemand:
        """One control step; see :class:`TemperatureController`."""
        cfg = self.config
        now = reading.time_s
        inflow = reading.inflow_c
        ceiling = self.setpoint_ceiling_c(setpoints)
        target = clamp(setpoints.target_c, cfg.min_inflow_setpoint_c, ceiling)

        if not math.isfinite(inflow):
            self._hold_all()
            self._setpoint_c = math.nan  # restart the ramp from the inflow once it reads again
            events = self._fallback.note(
                now, "inflow_missing", "inflow temperature unavailable: heater off"
            )
            return HeaterDemand(0.0, math.nan, "none", math.nan, self._fallback.current, events)

        if not setpoints.heating:
            self._hold_all()
            self._setpoint_c = inflow  # restart the ramp from here when heating resumes
            self._inner.update(inflow, inflow, dt_s)  # keep the derivative history fresh
            events = self._fallback.note(now, None, None)
            return HeaterDemand(0.0, math.nan, "inflow", inflow, None, events)

        if math.isnan(self._setpoint_c):
            self._setpoint_c = inflow  # bumpless start: ramp from the present inflow
        reason: str | None = None
        code: str | None = None
        if setpoints.target_site == "inflow":
            wanted, controlled_on, measured = target, "inflow", inflow
        else:
            wanted, controlled_on, measured, code, reason = self._outer_loop(
                reading, setpoints, target, ceiling, dt_s
            )

        # rate limit, then the absolute clamp (a lowered ceiling applies at once)
        step = cfg.setpoint_rate_k_per_min / 60.0 * dt_s
        limited = clamp(wanted, self._setpoint_c - step, self._setpoint_c + step)
        self._limiter_bound = (wanted > limited + 1e-9) - (wanted < limited - 1e-9)
        self._setpoint_c = clamp(limited, cfg.min_inflow_setpoint_c, ceiling)

        self._inner.set_auto()
        power = self._inner.update(
            self._setpoint_c,
            inflow,
            dt_s,
            feedforward=self.feedforward_w(reading, self._setpoint_c),
            gain_scale=self._gain_scale(reading),
        )
        high = power >= self._inner.gains.output_max - 1e-6 and inflow < self._setpoint_c
        low = power <= self._inner.gains.output_min + 1e-6 and inflow > self._setpoint_c
        self._inner_saturated = int(high) - int(low)
        events = self._fallback.note(now, code, reason)
        return HeaterDemand(power, self._setpoint_c, controlled_on, measured, reason, events)

    def _outer_loop(
        self,
        reading: Reading,
        setpoints: TemperatureSetpoints,
        target: float,
        ceiling: float,
        dt_s: float,
    ) -> tuple[float, str, float, str | None, str | None]:
        """Inflow setpoint wanted by the outer loop, and what it controlled on."""
        cfg = self.config
        label = f"cavity {cfg.cavity_aggregate}"
        abdominal = abdominal_temperature(reading, cfg.cavity_aggregate)
        code: str | None = None
        reason: str | None = None
        if not math.isfinite(abdominal) and math.isfinite(reading.outflow_c):
            abdominal, label = reading.outflow_c, "outflow"
            code, reason = "cavity_missing", "no cavity probe reads: outer loop on the outflow"
        if not math.isfinite(abdominal):
            # no abdominal feedback: hold the setpoint, never above the target itself
            self._outer.set_manual(self._setpoint_c - setpoints.target_c)
            held = min(self._setpoint_c, target)
            return (
                held,
                "inflow",
                reading.inflow_c,
                "no_abdominal_temperature",
                "no abdominal temperature: inflow held at or below the target",
            )

        # the outer output is an offset from the target, limited to the setpoint clamp
        low_offset = cfg.min_inflow_setpoint_c - setpoints.target_c
        high_offset = ceiling - setpoints.target_c
        if high_offset <= low_offset:
            high_offset = low_offset + 1e-6
        self._outer.gains = replace(
            self._outer.gains, output_min=low_offset, output_max=high_offset
        )
        error = setpoints.target_c - abdominal
        hottest = reading.max_cavity_c
        too_hot = math.isfinite(hottest) and hottest >= setpoints.max_region_c - cfg.hot_guard_k
        hold = (
            (self._inner_saturated > 0 and error > 0)
            or (self._inner_saturated < 0 and error < 0)
            or (self._limiter_bound > 0 and error > 0)
            or (self._limiter_bound < 0 and error < 0)
            or (too_hot and error > 0)
        )
        if not self._outer.auto:
            # back from a fallback: track once so the loop resumes at the setpoint in use
            self._outer.set_manual(self._setpoint_c - setpoints.target_c)
            self._outer.update(setpoints.target_c, abdominal, dt_s)
            self._outer.set_auto()
        offset = self._outer.update(setpoints.target_c, abdominal, dt_s, hold_integral=hold)
        wanted = setpoints.target_c + offset
        if too_hot:
            wanted = min(wanted, self._setpoint_c)
        return wanted, label, abdominal, code, reason

    def _hold_all(self) -> None:
        """Heater off: the inner loop in manual at 0 W (bumpless restart); the outer loop starts
        afresh when heating resumes (a new heat-up, not a continuation)."""
        self._inner.set_manual(0.0)
        self._outer.reset()
        self._inner_saturated = 0
        self._limiter_bound = 0


def fallback_conditions(demand: HeaterDemand) -> tuple[AlarmCondition, ...]:
    """The ``CONTROL_FALLBACK`` alarm condition while ``demand`` reports a fallback."""
    if demand.fallback is None:
        return ()
    return (
        AlarmCondition("CONTROL_FALLBACK", source=demand.controlled_on, message=demand.fallback),
    )
