"""Temperature controllers: a single-loop PID baseline, a cascade, and a coverage cascade.

Every controller has the same interface (:class:`TemperatureController`)::

    demand = controller.update(reading, setpoints, dt_s)   # -> HeaterDemand (heater power [W])
    controller.reset()

and never passes ``nan`` to the heater: when a measurement is missing it falls back to the next
best one, says so in :attr:`HeaterDemand.fallback` and emits a ``control.fallback`` event when the
fallback changes. Feed it the supervisor's *trusted* reading, in which faulty probes read ``nan``.

Cascade (:class:`CascadeController`)
-----------------------------------
- Outer loop (abdominal targets): intra-abdominal temperature (the probes' mean by default) ->
  inflow temperature setpoint = target + PI + the filtered inflow-to-abdomen drop (the inflow a
  steady abdomen at target needs), clamped to ``[min_inflow_setpoint_c, max]`` where ``max`` is
  the lower of (regimen max inflow - ``inflow_margin_k``) and (max region - ``region_margin_k``):
  the perfusate cannot heat any region above the inflow temperature, so this clamp keeps every
  region below its limit by construction. When the target lies above what the abdomen reaches
  at that ceiling (PRODIGE 7's 43 C in an open abdomen) the setpoint sits at the ceiling: the
  best safe temperature, held without oscillation. The setpoint is rate limited [K/min]. The
  outer integral holds while the inner loop saturates in the direction the outer loop pushes,
  while the rate limiter binds, and while the hottest region (estimated from the probes and
  the inflow, :class:`~hipec.control.estimator.RegionEstimator`) is within ``hot_guard_k`` of the
  region limit or above the top of the therapeutic band (``band_high_c``, 43 C); above that
  band the setpoint backs off: the aim is the band for all 13 regions, not one probe.
- Inner loop (``inner_mode="predictive"``, default): the circuit model of
  :mod:`hipec.control.estimator` (heater element, exchanger, inflow line with its transport
  delay, probe lag; exact at the measured flow, so the flow-dependent gain is in the model) runs
  on the power actually delivered; the measured-minus-modelled inflow is an output disturbance
  (integral action without windup: the model sees the saturated input). Each period the heater
  power for the next block is the least-squares fit of the predicted inflow to a reference
  trajectory (first order, ``reference_time_s``) over several horizons, with the steady holding
  power after the block, then capped so that no predicted inflow exceeds the setpoint (and the
  ceiling) by more than ``overshoot_guard_k``. The heat the flow carries away
  (``rho_c Q (T_set - T_return)``) is in the model, so no separate feed-forward is needed.
- Inner loop (``inner_mode="pid"``, and the fallback while the flow is unknown): PID on the
  inflow with feed-forward ``P_ff = rho_c * Q * (T_set - T_return)`` (``T_return``: reservoir,
  else outflow) and gains scaled with flow (the plant's gain falls as the flow rises).
- Heater off below ``min_heating_flow_l_per_min`` (no flow through the exchanger).
- Regimens that target the inflow skip the outer loop (the setpoint is the target, still clamped and
  rate limited).

Coverage (:class:`CoverageController`, ``"coverage"``: an explicit choice)
------------------------------------------------------------------------
The cascade with another outer loop: in heat and perfuse it aims all 13 regions (estimated from
the probes and the inflow) at the therapeutic band 41-43 C, centred, instead of the regimen's
target at its site, for every regimen whose target lies in the band (inflow targets included);
the inflow may then exceed the region limit's clamp, bounded by the regimen's inflow limit, the
inflow at which the estimated hottest region reaches the band's top less a margin, and a guard on
the hottest probe reading below the supervisor's trip. Regimens that ask for less than the band
(OVHIPEC-1, 40 C) keep the cascade. Where the spread of the regions is wider than the band at
the regimen's flow the lever is the procedure's flow policy
(:func:`hipec.control.procedure.perfusion_flow_l_per_min`), not this controller.

Single loop (:class:`SingleLoopPid`, the baseline)
-------------------------------------------------
One PID on the target site's temperature, plus the high-limit cut commercial machines have, made
safe on the twin: it acts ``inflow_cut_margin_k`` below the lower of the inflow and region limits;
for abdominal targets (where the PID drives the inflow into the cut) the power is also capped at
what the flow carries from the return temperature up to the cut (a plain cut let the stored heat
of the element carry the inflow to 46.2 C against a 45 C limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

from hipec.control.alarms import AlarmCondition
from hipec.control.estimator import (
    CircuitModel,
    InflowPredictor,
    RegionEstimate,
    RegionEstimator,
)
from hipec.control.events import Event
from hipec.control.limits import ABSOLUTE_MAX_REGION_C
from hipec.control.pid import Pid, PidGains, clamp
from hipec.devices.base import Reading
from hipec.errors import InvalidInputError
from hipec.protocols.plan import PerfusionPlan

TargetSite = Literal["inflow", "intra_abdominal"]
CavityAggregate = Literal["mean", "coolest"]
CascadeAggregate = Literal["estimated_mean", "mean", "coolest"]
InnerMode = Literal["predictive", "pid"]

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
    technique
        ``"open"`` or ``"closed"`` (laparoscopic: closed): the region estimator's shape.
    therapeutic
        True while the regimen's own temperature is held (heat and perfuse); False for the
        moderate targets of prime and fill. Only the coverage controller looks at it: it aims
        at the therapeutic band only in therapeutic phases.
    """

    target_c: float
    target_site: TargetSite = "inflow"
    max_inflow_c: float = 44.0
    max_region_c: float = 44.0
    heating: bool = True
    technique: str = "open"
    therapeutic: bool = True

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
            technique="open" if plan.technique == "open" else "closed",
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


def inflow_ceiling_c(setpoints: TemperatureSetpoints, margin_k: float) -> float:
    """Highest inflow temperature a controller may aim at [C]: ``margin_k`` below the lower of
    the regimen's inflow limit and the region limit (the perfusate cannot heat a region above
    the inflow temperature, so this keeps every region below its limit by construction)."""
    return min(setpoints.max_inflow_c, setpoints.max_region_c) - margin_k


@dataclass(frozen=True, slots=True)
class SingleLoopConfig:
    """Settings of :class:`SingleLoopPid` (the baseline: one PID and a high-limit cut).

    Attributes
    ----------
    gains
        PID on the controlled temperature -> heater power [W per K, W per K.s, W.s per K].
    cavity_aggregate
        How the abdominal temperature is formed from the probes.
    inflow_cut_margin_k
        Heater off while the inflow is within this of the inflow ceiling ``min(regimen inflow
        limit, region limit)`` [K] (the high-limit cut commercial machines have).
    heat_capacity_j_per_l_k
        Volumetric heat capacity of the perfusate [J/(L.K)] for the flow power cap: for abdominal
        targets the power never exceeds ``rho_c Q (T_cut - T_return)``. A plain cut lets the
        heat stored in the heater element carry the inflow 1-2 K past it (the twin: 46.2 C
        against a 45 C limit); the cap cannot overshoot because the circuit's step response is
        monotone.
    """

    gains: PidGains = field(
        default_factory=lambda: PidGains(kp=400.0, ki=4.0, output_min=0.0, output_max=3000.0)
    )
    cavity_aggregate: CavityAggregate = "mean"
    inflow_cut_margin_k: float = 0.5
    heat_capacity_j_per_l_k: float = PERFUSATE_HEAT_CAPACITY_J_PER_L_K


class SingleLoopPid:
    """Baseline: heater power from the error of one measured temperature (inflow, or the
    abdominal temperature when the regimen targets the abdomen), with a high-limit cut on the
    inflow and, for abdominal targets, a power cap from the flow."""

    name = "pid"

    def __init__(self, config: SingleLoopConfig | None = None) -> None:
        self.config = config or SingleLoopConfig()
        self._pid = Pid(self.config.gains)
        self.reset()

    @classmethod
    def for_heater(cls, max_heater_power_w: float) -> SingleLoopPid:
        """The default baseline for a heater of ``max_heater_power_w`` [W]."""
        gains = SingleLoopConfig().gains
        return cls(SingleLoopConfig(gains=replace(gains, output_max=max_heater_power_w)))

    def reset(self) -> None:
        """Forget all state."""
        self._pid.reset()
        self._fallback = _FallbackTracker(self.name)

    def cut_level_c(self, setpoints: TemperatureSetpoints) -> float:
        """Inflow temperature [C] at which the high-limit cut acts."""
        return inflow_ceiling_c(setpoints, self.config.inflow_cut_margin_k)

    def flow_power_cap_w(self, reading: Reading, cut_c: float) -> float:
        """``rho_c Q (T_cut - T_return)`` [W], >= 0; 0 without a flow reading; the return is the
        reservoir, else the outflow, else the inflow."""
        flow = reading.inflow_l_per_min
        returning = _return_c(reading)
        if not math.isfinite(returning):
            returning = reading.inflow_c
        if not (math.isfinite(flow) and math.isfinite(returning)) or flow <= 0:
            return 0.0
        rho_c_q = self.config.heat_capacity_j_per_l_k * flow / 60.0
        return max(rho_c_q * (cut_c - returning), 0.0)

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
        cut = self.cut_level_c(setpoints)
        inflow = reading.inflow_c
        if math.isfinite(inflow) and inflow >= cut:
            power = 0.0
        if setpoints.target_site != "inflow":
            # the PID drives the inflow into the cut: never ask for more than the flow can carry
            # from the returning temperature up to the cut level (a step of that power brings
            # the inflow up to the cut without overshoot, the element's stored heat included)
            power = min(power, self.flow_power_cap_w(reading, cut))
        return HeaterDemand(power, math.nan, used, measured, reason, events)


# -- cascade ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CascadeConfig:
    """Settings of :class:`CascadeController` (tuned against the twin by
    :mod:`hipec.control.tuning` and ``benchmarks/control.py``).

    Attributes
    ----------
    outer
        Abdominal temperature -> inflow setpoint offset from the target [K per K, K per K.s];
        its output limits are replaced each step by the setpoint clamp.
    inner_mode
        ``"predictive"`` (default): a one-move predictive controller on the circuit model
        (:class:`~hipec.control.estimator.InflowPredictor`); ``"pid"``: the PID ``inner`` with
        feed-forward and gain scheduling (also the fallback while the flow is unknown).
    inner
        Inflow temperature -> heater power [W per K, W per K.s] at ``reference_flow_l_per_min``.
    circuit
        The circuit model of the predictive inner loop.
    reference_time_s
        Time constant of the reference trajectory the predictive loop asks the inflow to follow
        from where it is to the setpoint [s] (setpoint shaping: no overshoot by design).
    horizons_s
        Prediction horizons of the predictive loop [s].
    overshoot_guard_k
        The predictive loop never plans an inflow more than this above the setpoint at any
        horizon [K] (a constraint, not a weight).
    min_block_s
        Shortest first power block of the predictive loop [s] (the block is the control period
        or this, whichever is longer).
    disturbance_time_s
        Filter time constant of the model-versus-probe difference [s].
    cavity_aggregate
        What the outer loop controls: ``"mean"`` of the probes (default: the figure an abdominal
        target refers to; on the twin the mean of probes 0, 6 and 3 is within about 0.05 K of the
        mean of the 13 regions, at rest and while heating), ``"coolest"`` probe, or
        ``"estimated_mean"``: the mean of the 13 regions estimated from the probes and the inflow
        (:class:`~hipec.control.estimator.RegionEstimator`, for probe placements whose mean is
        not representative; it assumes the resting spread, so it reads high while the abdomen
        heats up), with the band edge below.
    band_low_k
        With ``"estimated_mean"``: when the estimated coolest region lies more than this below
        the target (the low edge of the therapeutic band), the outer loop controls on the
        coolest region plus this instead of the mean, so the aim is the band, not one number
        [K].
    drop_feedforward_gain, drop_filter_s
        The outer loop feeds forward this share of the inflow-to-abdomen temperature drop,
        filtered with this time constant [s]: the inflow a steady abdomen at target needs.
    setpoint_rate_k_per_min
        Largest change of the inflow setpoint [K/min].
    inflow_margin_k, region_margin_k
        The inflow setpoint stays this far below the regimen's inflow limit and the region limit
        [K].
    min_inflow_setpoint_c
        Lowest inflow setpoint [C].
    hot_guard_k, band_high_c
        The setpoint may not rise while the hottest region (the estimate of all 13 from the probes
        and the inflow, or the hottest probe if higher) is within ``hot_guard_k`` of the region
        limit or above ``band_high_c`` (the top of the therapeutic band, 41-43 C) [K], [C].
    band_backoff_per_s
        Above that the setpoint comes down at this rate per kelvin of excess [1/s].
    min_heating_flow_l_per_min
        Heater off below this flow: a still exchanger would overheat [L/min].
    feedforward_gain
        Share of the flow's heat demand fed forward in PID mode (0: none, 1: all).
    heat_capacity_j_per_l_k
        Volumetric heat capacity of the perfusate [J/(L.K)].
    gain_schedule
        Scale the inner PID gains with flow / ``reference_flow_l_per_min``.
    reference_flow_l_per_min, min_schedule_flow_l_per_min
        Flow at which ``inner`` is tuned, and the lowest flow used for scaling [L/min].
    max_heater_power_w
        Heater range [W].
    """

    outer: PidGains = field(
        default_factory=lambda: PidGains(kp=2.0, ki=0.01, output_min=-5.0, output_max=5.0)
    )
    inner_mode: InnerMode = "predictive"
    inner: PidGains = field(
        default_factory=lambda: PidGains(kp=300.0, ki=10.0, output_min=0.0, output_max=3000.0)
    )
    circuit: CircuitModel = field(default_factory=CircuitModel)
    reference_time_s: float = 4.0
    horizons_s: tuple[float, ...] = (10.0, 20.0, 30.0, 45.0, 60.0, 90.0)
    overshoot_guard_k: float = 0.1
    min_block_s: float = 1.0
    disturbance_time_s: float = 5.0
    cavity_aggregate: CascadeAggregate = "mean"
    band_low_k: float = 1.0
    drop_feedforward_gain: float = 1.0
    drop_filter_s: float = 60.0
    setpoint_rate_k_per_min: float = 30.0
    inflow_margin_k: float = 0.5
    region_margin_k: float = 0.5
    min_inflow_setpoint_c: float = 37.0
    hot_guard_k: float = 0.3
    band_high_c: float = 43.0
    band_backoff_per_s: float = 0.01
    min_heating_flow_l_per_min: float = 0.1
    feedforward_gain: float = 1.0
    heat_capacity_j_per_l_k: float = PERFUSATE_HEAT_CAPACITY_J_PER_L_K
    gain_schedule: bool = True
    reference_flow_l_per_min: float = 1.5
    min_schedule_flow_l_per_min: float = 0.5
    max_heater_power_w: float = 3000.0

    def __post_init__(self) -> None:
        if not self.reference_time_s > 0:
            raise InvalidInputError(
                "reference_time_s", f"must be > 0 s, got {self.reference_time_s!r}"
            )
        if not self.horizons_s or min(self.horizons_s) <= 0:
            raise InvalidInputError("horizons_s", f"must be > 0 s, got {self.horizons_s!r}")
        if not self.setpoint_rate_k_per_min > 0:
            raise InvalidInputError(
                "setpoint_rate_k_per_min", f"must be > 0, got {self.setpoint_rate_k_per_min!r}"
            )
        if min(self.inflow_margin_k, self.region_margin_k, self.overshoot_guard_k) < 0:
            raise InvalidInputError("margins", "margins and guards must be >= 0 K")


class CascadeController:
    """Cascade: abdominal temperature -> inflow setpoint -> heater power; see the module
    docstring."""

    name = "cascade"

    def __init__(self, config: CascadeConfig | None = None) -> None:
        self.config = config or CascadeConfig()
        cfg = self.config
        inner = replace(cfg.inner, output_max=cfg.max_heater_power_w)
        self._outer = Pid(cfg.outer)
        self._inner = Pid(inner)
        self._predictor = InflowPredictor(
            cfg.circuit, cfg.horizons_s, disturbance_time_s=cfg.disturbance_time_s
        )
        self._regions = {
            technique: RegionEstimator.for_technique(technique) for technique in ("open", "closed")
        }
        self.reset()

    @classmethod
    def for_heater(cls, max_heater_power_w: float) -> CascadeController:
        """The default cascade for a heater of ``max_heater_power_w`` [W]."""
        return cls(CascadeConfig(max_heater_power_w=max_heater_power_w))

    def reset(self) -> None:
        """Forget all state."""
        self._outer.reset()
        self._inner.reset()
        self._predictor.reset()
        self._setpoint_c = math.nan  # rate-limited inflow setpoint
        self._inner_saturated = 0  # +1 at max power below setpoint, -1 at zero power above it
        self._limiter_bound = 0  # +1 / -1 while the rate limiter held the setpoint back
        self._last_power_w = 0.0
        self._last_flow = math.nan
        self._drop_k = math.nan  # filtered inflow-to-abdomen drop [K]
        self._outer_capped = False  # a subclass bound held the outer loop's setpoint back
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
        returning = _return_c(reading)
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

    def region_estimate(self, reading: Reading, technique: str = "open") -> RegionEstimate | None:
        """The 13 regions as the controller estimates them (None without a probe)."""
        return self._regions[_estimator_key(technique)].estimate_reading(reading)

    def _gain_scale(self, reading: Reading) -> float:
        cfg = self.config
        flow = reading.inflow_l_per_min
        if not cfg.gain_schedule or not math.isfinite(flow):
            return 1.0
        return max(flow, cfg.min_schedule_flow_l_per_min) / cfg.reference_flow_l_per_min

    def _observe(self, reading: Reading, dt_s: float) -> None:
        """Advance the circuit model over the last period on the power actually delivered."""
        inflow, flow = reading.inflow_c, reading.inflow_l_per_min
        if math.isfinite(flow):
            self._last_flow = flow
        if not math.isfinite(inflow) or not math.isfinite(self._last_flow):
            self._predictor.reset()
            return
        returning = _return_c(reading)
        delivered = reading.heater_power_w
        if not math.isfinite(delivered):
            delivered = self._last_power_w
        self._predictor.observe(
            inflow,
            returning if math.isfinite(returning) else inflow,
            self._last_flow,
            delivered,
            dt_s,
        )

    # -- the loop -------------------------------------------------------------------------------

    def update(
        self, reading: Reading, setpoints: TemperatureSetpoints, dt_s: float
    ) -> HeaterDemand:
        """One control step; see :class:`TemperatureController`."""
        demand = self._update(reading, setpoints, dt_s)
        self._last_power_w = demand.heater_power_w
        return demand

    def _update(
        self, reading: Reading, setpoints: TemperatureSetpoints, dt_s: float
    ) -> HeaterDemand:
        cfg = self.config
        now = reading.time_s
        inflow = reading.inflow_c
        ceiling = self.setpoint_ceiling_c(setpoints)
        target = clamp(setpoints.target_c, cfg.min_inflow_setpoint_c, ceiling)
        self._observe(reading, dt_s)

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
        wanted, controlled_on, measured, code, reason = self._wanted_setpoint(
            reading, setpoints, target, ceiling, dt_s
        )

        # rate limit, then the absolute clamp (a lowered ceiling applies at once)
        step = cfg.setpoint_rate_k_per_min / 60.0 * dt_s
        limited = clamp(wanted, self._setpoint_c - step, self._setpoint_c + step)
        self._limiter_bound = (wanted > limited + 1e-9) - (wanted < limited - 1e-9)
        self._setpoint_c = clamp(limited, cfg.min_inflow_setpoint_c, ceiling)

        flow = reading.inflow_l_per_min
        if math.isfinite(flow) and flow < cfg.min_heating_flow_l_per_min:
            power = 0.0  # no flow through the exchanger: heating would only cook the element
            self._inner.set_manual(0.0)
            self._inner.update(self._setpoint_c, inflow, dt_s)
        elif cfg.inner_mode == "predictive" and self._predictor.initialised:
            power = self._predictive_power(reading, self._setpoint_c, ceiling, dt_s)
            # the PID tracks in manual so that a switch to it (flow lost) is bumpless
            self._inner.set_manual(power)
            self._inner.update(self._setpoint_c, inflow, dt_s)
        else:
            self._inner.set_auto()
            power = self._inner.update(
                self._setpoint_c,
                inflow,
                dt_s,
                feedforward=self.feedforward_w(reading, self._setpoint_c),
                gain_scale=self._gain_scale(reading),
            )
        high = power >= cfg.max_heater_power_w - 1e-6 and inflow < self._setpoint_c
        low = power <= 1e-6 and inflow > self._setpoint_c
        self._inner_saturated = int(high) - int(low)
        events = self._fallback.note(now, code, reason)
        return HeaterDemand(power, self._setpoint_c, controlled_on, measured, reason, events)

    def _wanted_setpoint(
        self,
        reading: Reading,
        setpoints: TemperatureSetpoints,
        target: float,
        ceiling: float,
        dt_s: float,
    ) -> tuple[float, str, float, str | None, str | None]:
        """The inflow setpoint wanted before rate limit and clamp, what was controlled, its value,
        and the fallback code and reason (None if none): the target itself for inflow targets,
        else the outer loop."""
        if setpoints.target_site == "inflow":
            return target, "inflow", reading.inflow_c, None, None
        return self._outer_loop(reading, setpoints, target, ceiling, dt_s)

    def _predictive_power(
        self, reading: Reading, setpoint_c: float, ceiling_c: float, dt_s: float
    ) -> float:
        """Predictive control with two power blocks: ``P_1`` over the next ``block_s`` and, after
        it, the steady power that holds the setpoint. ``P_1`` is the least-squares fit of the
        predicted inflow to the reference trajectory over the horizons, then capped so that no
        predicted inflow exceeds the setpoint (and the ceiling) by more than
        ``overshoot_guard_k``: the heater runs flat out while the heat stored in the element can
        still be absorbed, and backs off in time."""
        cfg = self.config
        returning = _return_c(reading)
        if not math.isfinite(returning):
            returning = reading.inflow_c
        block = max(dt_s, cfg.min_block_s)
        prediction = self._predictor.predict(returning, self._last_flow, block)
        steady_power = 0.0
        if prediction.steady_c_per_w > 0:
            steady_power = (setpoint_c - prediction.steady_c) / prediction.steady_c_per_w
        steady_power = clamp(steady_power, 0.0, cfg.max_heater_power_w)
        horizons = np.asarray(prediction.horizons_s)
        measured = reading.inflow_c
        reference = setpoint_c - (setpoint_c - measured) * np.exp(-horizons / cfg.reference_time_s)
        base = prediction.free_c + prediction.rest_c_per_w * steady_power
        gain = prediction.first_c_per_w
        power = float(gain @ (reference - base) / max(float(gain @ gain), 1e-12))
        cap_c = min(setpoint_c, ceiling_c) + cfg.overshoot_guard_k
        allowed = (cap_c - base) / np.maximum(gain, 1e-12)
        power = min(power, float(allowed.min()))
        return clamp(power, 0.0, cfg.max_heater_power_w)

    def _abdominal(
        self, reading: Reading, setpoints: TemperatureSetpoints
    ) -> tuple[float, float, str]:
        """The controlled abdominal temperature, the hottest region (the estimate of all 13, or
        the hottest probe if higher), and the label of what is controlled."""
        cfg = self.config
        estimate = self.region_estimate(reading, setpoints.technique)
        if estimate is None:
            return math.nan, math.nan, f"cavity {cfg.cavity_aggregate.replace('_', ' ')}"
        hottest = max(estimate.hottest_c, reading.max_cavity_c)
        aggregate = cfg.cavity_aggregate
        if aggregate in ("mean", "coolest"):
            how: CavityAggregate = "mean" if aggregate == "mean" else "coolest"
            return abdominal_temperature(reading, how), hottest, f"cavity {how}"
        if estimate.coolest_c < setpoints.target_c - cfg.band_low_k:
            # the band's low edge binds: bring the coolest region into the band
            value = estimate.coolest_c + cfg.band_low_k
            return min(value, estimate.mean_c), hottest, "cavity estimated coolest"
        return estimate.mean_c, hottest, "cavity estimated mean"

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
        abdominal, hottest, label = self._abdominal(reading, setpoints)
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
        hot_limit = min(setpoints.max_region_c - cfg.hot_guard_k, cfg.band_high_c)
        too_hot = math.isfinite(hottest) and hottest >= hot_limit
        hold = (
            (self._inner_saturated > 0 and error > 0)
            or (self._inner_saturated < 0 and error < 0)
            or (self._limiter_bound > 0 and error > 0)
            or (self._limiter_bound < 0 and error < 0)
            or (too_hot and error > 0)
            or (self._outer_capped and error > 0)
        )
        if not self._outer.auto:
            # back from a fallback: track once so the loop resumes at the setpoint in use
            self._outer.set_manual(self._setpoint_c - setpoints.target_c)
            self._outer.update(setpoints.target_c, abdominal, dt_s)
            self._outer.set_auto()
        # feed-forward of the present inflow-to-abdomen drop: at rest the inflow must exceed the
        # abdominal target by just that drop, so the integral only trims what is left
        drop = reading.inflow_c - abdominal
        if math.isnan(self._drop_k):
            self._drop_k = drop
        self._drop_k += dt_s / (cfg.drop_filter_s + dt_s) * (drop - self._drop_k)
        offset = self._outer.update(
            setpoints.target_c,
            abdominal,
            dt_s,
            feedforward=cfg.drop_feedforward_gain * self._drop_k,
            hold_integral=hold,
        )
        wanted = setpoints.target_c + offset
        if too_hot:
            # the hottest region at the band's top: no higher, and back off in proportion
            excess = hottest - hot_limit
            wanted = min(wanted, self._setpoint_c - cfg.band_backoff_per_s * excess * dt_s)
        return wanted, label, abdominal, code, reason

    def _hold_all(self) -> None:
        """Heater off: the inner loop in manual at 0 W (bumpless restart); the outer loop starts
        afresh when heating resumes (a new heat-up, not a continuation)."""
        self._inner.set_manual(0.0)
        self._outer.reset()
        self._drop_k = math.nan
        self._inner_saturated = 0
        self._limiter_bound = 0


# -- coverage -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoverageConfig(CascadeConfig):
    """Settings of :class:`CoverageController`: the cascade's, plus the band and its guards.

    Attributes
    ----------
    band_low_c
        Bottom of the therapeutic band [C]; the top is ``band_high_c`` (41-43 C: the band the
        control goal of issue 4 counts region-minutes in, and the "at least 42 C" of PSOGI 2022,
        Ann Surg Oncol 2024;31:7090, with 1 K either side).
    hot_margin_k
        The estimated hottest region is kept this far below the lower of the band's top and the
        regimen's region limit [K] (room for the estimate's error).
    probe_guard_k
        The hottest cavity probe *reading* is kept this far below the region limit [K]: the
        supervisor trips ``SafetyLimits.region_trip_margin_k`` (0.3 K) below it, so 0.5 K leaves
        0.2 K for probe noise (0.03 K sd on the simulated machine).
    probe_guard_kp, probe_guard_ki_per_s
        Above that the inflow setpoint is lowered by ``kp`` per kelvin of excess at once and by
        an integral of ``ki`` per second per kelvin, held while needed [K/K], [1/s].
    """

    band_low_c: float = 41.0
    hot_margin_k: float = 0.3
    probe_guard_k: float = 0.5
    probe_guard_kp: float = 3.0
    probe_guard_ki_per_s: float = 0.03

    def __post_init__(self) -> None:
        CascadeConfig.__post_init__(self)
        if not self.band_high_c - self.band_low_c > 0:
            raise InvalidInputError(
                "band_low_c",
                f"must lie below band_high_c ({self.band_high_c!r}), got {self.band_low_c!r}",
            )
        guards = (self.hot_margin_k, self.probe_guard_k, self.probe_guard_kp)
        if min(*guards, self.probe_guard_ki_per_s) < 0:
            raise InvalidInputError(
                "margins", "hot_margin_k, probe_guard_k and the probe guard gains must be >= 0"
            )


@dataclass(frozen=True, slots=True)
class CoverageAim:
    """What the coverage outer loop aims at for one set of setpoints [C].

    Attributes
    ----------
    band_low_c, band_high_c
        The band the 13 regions should lie in.
    centre_c
        Its centre: where the midpoint of the coolest and hottest region estimate is held.
    hottest_limit_c
        Highest estimated region allowed.
    probe_limit_c
        Highest cavity probe reading allowed.
    """

    band_low_c: float
    band_high_c: float
    centre_c: float
    hottest_limit_c: float
    probe_limit_c: float


class CoverageController(CascadeController):
    """The cascade whose outer loop keeps all 13 regions in the therapeutic band (41-43 C).

    A perfusionist's aim is the whole abdomen in the band, not one probe at one number: far
    regions run cooler than the inflow, so an inflow held at 42 C leaves them below 41 C. In the
    therapeutic phases (heat, perfuse) the outer loop runs for every regimen, inflow targets
    included, on the region estimate (:class:`~hipec.control.estimator.RegionEstimator`:
    ``T_i = m + s_i d`` from the probes and the inflow, ``d`` the inflow-to-mean drop).

    - Aim: the cascade's outer loop (PI on the estimated mean ``m`` with the filtered drop
      ``d`` fed forward) holds ``m`` at the mean that centres the regions in the band
      ``[B_lo, B_hi]`` at that drop::

          m* = (B_lo + B_hi) / 2 - (min_i s_i d + max_i s_i d) / 2

    - Bound: the inflow setpoint never exceeds the inflow at which the estimated hottest region
      reaches ``H_max = min(B_hi, region limit) - hot_margin_k`` with the probes as read
      (:meth:`~hipec.control.estimator.RegionEstimator.inflow_limit_c`; it depends on the probes,
      not on the inflow, so it does not chase the inflow measurement; the outer integral holds
      while it binds). A cap on ``m*`` instead would use the drop of the heat-up, twice the
      resting one, and hold the abdomen back for minutes.
    - Probe guard: while the hottest cavity probe *reading* is above ``region limit -
      probe_guard_k`` (where the supervisor's trip would follow) the setpoint is trimmed down in
      proportion, and an integral holds the trim (released when the probe is back below).
    - The clamp is the regimen's inflow limit less ``inflow_margin_k`` (the cascade also clamps
      at the region limit less ``region_margin_k``, which would keep the far regions out of the
      band); the estimate and the probes guard the region limit instead. Rate limit, predictive
      inner loop, heater-off rules and the cascade's hot-region backstop are the cascade's.

    The band applies to regimens whose target lies in it (41.5-43 C in the library: the aim is
    then the band, not the target at its site; PRODIGE 7's 43 C abdomen, which the open abdomen
    cannot reach within the limits, becomes the band). A regimen that asks for less (OVHIPEC-1,
    40 C) keeps the cascade on its own target: the coverage controller never heats beyond what
    the regimen asks. Without a region estimate (no probe reads, or no inflow) and outside the
    therapeutic phases it is the cascade on the regimen's own target and clamp; where the band
    applies it says so (``control.fallback``).
    """

    name = "coverage"
    config: CoverageConfig

    def __init__(self, config: CoverageConfig | None = None) -> None:
        self._covering = False
        self._was_covering = False
        self._aim: CoverageAim | None = None
        self._estimate: RegionEstimate | None = None  # this tick's, shared by its steps
        self._probe_trim_k = 0.0
        super().__init__(config or CoverageConfig())

    @classmethod
    def for_heater(cls, max_heater_power_w: float) -> CoverageController:
        """The default coverage controller for a heater of ``max_heater_power_w`` [W]."""
        return cls(CoverageConfig(max_heater_power_w=max_heater_power_w))

    def reset(self) -> None:
        """Forget all state."""
        super().reset()
        self._covering = False
        self._was_covering = False
        self._aim = None
        self._estimate = None
        self._probe_trim_k = 0.0

    def _restart_band_loop(self) -> None:
        self._outer.reset()
        self._drop_k = math.nan
        self._probe_trim_k = 0.0

    def aim(self, setpoints: TemperatureSetpoints) -> CoverageAim:
        """The band, its centre and the hot limits for ``setpoints`` (see the class docstring)."""
        cfg = self.config
        low, high = cfg.band_low_c, cfg.band_high_c
        return CoverageAim(
            band_low_c=low,
            band_high_c=high,
            centre_c=(low + high) / 2.0,
            hottest_limit_c=min(high, setpoints.max_region_c) - cfg.hot_margin_k,
            probe_limit_c=setpoints.max_region_c - cfg.probe_guard_k,
        )

    def mean_target_c(self, aim: CoverageAim, drop_k: float, technique: str = "open") -> float:
        """``m*`` [C]: the mean of the 13 regions that centres them in the band at the drop
        ``drop_k`` [K]."""
        coolest, hottest = self._regions[_estimator_key(technique)].spread_c(drop_k)
        return aim.centre_c - (coolest + hottest) / 2.0

    def covers(self, setpoints: TemperatureSetpoints) -> bool:
        """The band applies: a therapeutic phase, heating, and the regimen's target in the band
        (one that asks for less, such as OVHIPEC-1's 40 C, keeps its own target)."""
        cfg = self.config
        return (
            setpoints.therapeutic
            and setpoints.heating
            and cfg.band_low_c - 1e-9 <= setpoints.target_c <= cfg.band_high_c + 1e-9
        )

    def setpoint_ceiling_c(self, setpoints: TemperatureSetpoints) -> float:
        """Highest inflow setpoint allowed [C]: the regimen's inflow limit less
        ``inflow_margin_k`` while the regions are covered (the estimate and the probes guard the
        region limit), else the cascade's."""
        if not self._covering:
            return super().setpoint_ceiling_c(setpoints)
        cfg = self.config
        return max(cfg.min_inflow_setpoint_c, setpoints.max_inflow_c - cfg.inflow_margin_k)

    def update(
        self, reading: Reading, setpoints: TemperatureSetpoints, dt_s: float
    ) -> HeaterDemand:
        """One control step; see :class:`TemperatureController`."""
        self._estimate = estimate = self.region_estimate(reading, setpoints.technique)
        self._covering = (
            self.covers(setpoints) and estimate is not None and math.isfinite(reading.inflow_c)
        )
        self._aim = self.aim(setpoints) if self._covering else None
        return super().update(reading, setpoints, dt_s)

    def _wanted_setpoint(
        self,
        reading: Reading,
        setpoints: TemperatureSetpoints,
        target: float,
        ceiling: float,
        dt_s: float,
    ) -> tuple[float, str, float, str | None, str | None]:
        cfg = self.config
        aim, estimate = self._aim, self._estimate
        if aim is None or estimate is None:
            # the cascade on the regimen's own target and clamp
            if self._was_covering:
                self._restart_band_loop()
            self._was_covering = False
            wanted, controlled_on, measured, code, reason = super()._wanted_setpoint(
                reading, setpoints, target, ceiling, dt_s
            )
            if reason is None and self.covers(setpoints):
                code = "regions_unknown"
                reason = "no region estimate (no cavity probe reads): the regimen's target held"
            return wanted, controlled_on, measured, code, reason
        if not self._was_covering:
            # (re)start the band loop from the present inflow (a new heat-up)
            self._restart_band_loop()
            self._was_covering = True
        drop = self._drop_k if math.isfinite(self._drop_k) else reading.inflow_c - estimate.mean_c
        mean_target = self.mean_target_c(aim, drop, setpoints.technique)
        covering = replace(setpoints, target_c=mean_target, target_site="intra_abdominal")
        wanted, controlled_on, measured, code, reason = self._outer_loop(
            reading,
            covering,
            clamp(mean_target, cfg.min_inflow_setpoint_c, ceiling),
            ceiling,
            dt_s,
        )
        estimator = self._regions[_estimator_key(setpoints.technique)]
        hot_bound = estimator.inflow_limit_reading_c(reading, aim.hottest_limit_c)
        self._outer_capped = not math.isnan(hot_bound) and hot_bound < wanted
        if self._outer_capped:
            wanted, controlled_on = hot_bound, "hottest region estimate"
        # the probe guard: proportional trim now, integral trim held while it is needed
        excess = reading.max_cavity_c - aim.probe_limit_c
        if math.isfinite(excess):
            if excess > 0 or self._probe_trim_k < 0:
                self._probe_trim_k = min(
                    self._probe_trim_k - cfg.probe_guard_ki_per_s * excess * dt_s, 0.0
                )
            trim = self._probe_trim_k - cfg.probe_guard_kp * max(excess, 0.0)
            if trim < 0:
                wanted, controlled_on = wanted + trim, "hottest cavity probe"
        return wanted, controlled_on, measured, code, reason

    def _abdominal(
        self, reading: Reading, setpoints: TemperatureSetpoints
    ) -> tuple[float, float, str]:
        """While covering: the estimated mean of the 13 regions, the hottest region (estimated,
        or the hottest probe if higher) and the label."""
        estimate = self._estimate
        if self._aim is None or estimate is None:
            return super()._abdominal(reading, setpoints)
        hottest = estimate.hottest_c
        if math.isfinite(reading.max_cavity_c):
            hottest = max(hottest, reading.max_cavity_c)
        return estimate.mean_c, hottest, "regions centred in the band"


def _estimator_key(technique: str) -> str:
    return "open" if technique == "open" else "closed"


def _return_c(reading: Reading) -> float:
    """The fluid returning to the exchanger [C]: the reservoir, else the outflow (nan if none)."""
    return reading.reservoir_c if math.isfinite(reading.reservoir_c) else reading.outflow_c


def fallback_conditions(demand: HeaterDemand) -> tuple[AlarmCondition, ...]:
    """The ``CONTROL_FALLBACK`` alarm condition while ``demand`` reports a fallback."""
    if demand.fallback is None:
        return ()
    return (
        AlarmCondition("CONTROL_FALLBACK", source=demand.controlled_on, message=demand.fallback),
    )
