"""The procedure: phases, the perfusion timer, dose prompts and the setpoints of each phase.

Phases (lower-case names, in order)::

    setup -> prime -> fill -> heat -> perfuse -> drain -> rinse -> complete      (+ aborted)

Guards (the same for the operator's :meth:`Procedure.request` and for automatic advance):

======================  =====================================================================
transition              allowed once
======================  =====================================================================
setup -> prime          always
prime -> fill           the circuit has been primed for ``prime_s``
fill -> heat            the measured net volume pumped in reached the fill volume
heat -> perfuse         the regimen's timer-start rule is met (see below)
perfuse -> drain        the perfusion timer reached the regimen's duration (automatic)
drain -> rinse/complete the drained volume reached ``drain_fraction`` of the filled volume, or
                        the drain has run ``max_drain_s``
rinse -> complete       the rinse has run ``rinse_s``
======================  =====================================================================

Timer-start rules (``PerfusionPlan.timer_start``): ``inflow_at_target`` and ``abdomen_at_target``
(the inflow, or the abdominal temperature, within ``at_target_tolerance_k`` of its target for
``at_target_hold_s``); ``drug_added`` (the 0-min doses are prompted once the target site is at
target, and the timer starts when the first is confirmed); ``perfusion_start`` (at once).

The timer counts perfusion seconds with paused time excluded; at the regimen's duration it ends and
the procedure goes to drain. Doses fall due at their ``at_min`` after the timer start; each is
confirmed by the operator (:meth:`Procedure.confirm_dose`) or, in unattended runs, automatically,
and the actual time is recorded. :meth:`Procedure.abort` ends the procedure from any phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from hipec.control.alarms import AlarmCondition
from hipec.control.events import Event, EventKind
from hipec.control.flow import FlowSetpoints
from hipec.control.temperature import CavityAggregate, TemperatureSetpoints
from hipec.devices.base import Reading
from hipec.errors import InvalidInputError
from hipec.protocols.plan import PerfusionPlan

FlowPolicy = Literal["regimen", "upper", "coverage"]
FLOW_POLICIES: tuple[FlowPolicy, ...] = ("regimen", "upper", "coverage")

#: Perfusion flows in published practice [L/min]: "around 1-2 L/min" (Elias, Ann Oncol 2002;13:267,
#: open, 2 L/min), and flows of 2.35 L/min and above in the Hendrix cohort (Ann Surg Oncol 2020,
#: 135 patients, fewer reached a core >= 39.5 C at those flows). The upper bound of 2.5 L/min
#: rests on Hendrix and is [verify]: confirm against the primary paper before clinical use.
#: Why higher flow covers the abdomen better: Furman et al., "Higher flow rates improve heating
#: during hyperthermic intraperitoneal chemoperfusion" (New England Surgical Society 2011, abstract
#: P15; swine and 20 clinical HIPECs: higher flow, higher intraperitoneal temperatures sooner)
#: [verify: conference abstract].
PRACTICE_FLOW_RANGE_L_PER_MIN = (1.0, 2.5)

#: The ``"coverage"`` flow policy's rate when the regimen gives none [L/min]: the top of
#: :data:`PRACTICE_FLOW_RANGE_L_PER_MIN` ([verify], as above). On the twin it narrows the spread of
#: the 13 regions from about 1.5 K (closed, 1.5 L/min) to about 1.0 K, inside the 2 K band
#: (``benchmarks/control.py`` prints the steady spreads).
COVERAGE_FLOW_L_PER_MIN = 2.5


class Phase(StrEnum):
    """Procedure phases; the value is the lower-case name used in records and the CLI."""

    SETUP = "setup"
    PRIME = "prime"
    FILL = "fill"
    HEAT = "heat"
    PERFUSE = "perfuse"
    DRAIN = "drain"
    RINSE = "rinse"
    COMPLETE = "complete"
    ABORTED = "aborted"


#: The allowed forward transitions (abort is allowed from every phase not in TERMINAL_PHASES).
TRANSITIONS: dict[Phase, tuple[Phase, ...]] = {
    Phase.SETUP: (Phase.PRIME,),
    Phase.PRIME: (Phase.FILL,),
    Phase.FILL: (Phase.HEAT,),
    Phase.HEAT: (Phase.PERFUSE,),
    Phase.PERFUSE: (Phase.DRAIN,),
    Phase.DRAIN: (Phase.RINSE, Phase.COMPLETE),
    Phase.RINSE: (Phase.COMPLETE,),
    Phase.COMPLETE: (),
    Phase.ABORTED: (),
}
TERMINAL_PHASES: frozenset[Phase] = frozenset({Phase.COMPLETE, Phase.ABORTED})


class TransitionRefusedError(InvalidInputError):
    """A phase change the procedure does not allow now (field ``phase``)."""

    def __init__(self, message: str) -> None:
        super().__init__("phase", message)


@dataclass(frozen=True, slots=True)
class ProcedureConfig:
    """Settings of a :class:`Procedure` (hipec defaults; tune against the twin).

    Attributes
    ----------
    auto_advance
        Advance phases automatically once their guards are met (unattended runs).
    auto_confirm_doses
        Confirm each dose as it falls due (unattended runs).
    prime_s
        Priming time [s].
    prime_temperature_c, fill_temperature_c
        Inflow targets while priming and filling [C] (moderate: the patient is not yet perfused).
    prime_flow_l_per_min, fill_flow_l_per_min, drain_flow_l_per_min, rinse_flow_l_per_min
        Pump rates in those phases [L/min].
    perfusion_flow_l_per_min
        Circulation rate during heat and perfuse [L/min]; None: chosen by ``flow_policy``.
    flow_policy
        How the circulation rate is chosen when ``perfusion_flow_l_per_min`` is None (see
        :func:`perfusion_flow_l_per_min`): ``"regimen"`` (default) the middle of the regimen's
        range, else ``default_perfusion_flow_l_per_min``; ``"upper"`` the top of the regimen's
        range, else the default; ``"coverage"`` the top of the regimen's range, else
        ``coverage_flow_l_per_min`` (a higher flow narrows the spread of the 13 regions so that
        all fit the 41-43 C band; an explicit choice, never the default).
    default_perfusion_flow_l_per_min
        Used when the regimen gives no flow [L/min] (perfusion practice: about 1-2 L/min).
    coverage_flow_l_per_min
        The ``"coverage"`` policy's flow when the regimen gives none [L/min]; see
        :data:`COVERAGE_FLOW_L_PER_MIN`.
    fill_volume_l
        Net volume to pump into the abdomen [L]; None: carrier volume minus ``circuit_volume_l``
        (at least ``min_fill_volume_l``).
    circuit_volume_l, min_fill_volume_l
        Perfusate held by reservoir, exchanger and lines [L]; smallest fill [L].
    drain_fraction, max_drain_s
        Drain ends at this share of the filled volume, or after this long [s].
    rinse
        Rinse after the drain (False: drain -> complete).
    rinse_s
        Rinse duration [s].
    at_target_tolerance_k, at_target_hold_s
        "At target": within this of the target [K], continuously for this long [s].
    abdomen_measure
        ``"mean"`` or ``"coolest"`` of the reading probes for ``abdomen_at_target``.
    """

    auto_advance: bool = True
    auto_confirm_doses: bool = True
    prime_s: float = 60.0
    prime_temperature_c: float = 39.0
    fill_temperature_c: float = 40.0
    prime_flow_l_per_min: float = 1.0
    fill_flow_l_per_min: float = 2.0
    drain_flow_l_per_min: float = 2.0
    rinse_flow_l_per_min: float = 1.0
    perfusion_flow_l_per_min: float | None = None
    flow_policy: FlowPolicy = "regimen"
    default_perfusion_flow_l_per_min: float = 1.5
    coverage_flow_l_per_min: float = COVERAGE_FLOW_L_PER_MIN
    fill_volume_l: float | None = None
    circuit_volume_l: float = 1.1
    min_fill_volume_l: float = 0.5
    drain_fraction: float = 0.9
    max_drain_s: float = 600.0
    rinse: bool = True
    rinse_s: float = 300.0
    at_target_tolerance_k: float = 0.2
    at_target_hold_s: float = 30.0
    abdomen_measure: CavityAggregate = "mean"

    def __post_init__(self) -> None:
        if self.flow_policy not in FLOW_POLICIES:
            raise InvalidInputError(
                "flow_policy",
                f"must be one of {', '.join(FLOW_POLICIES)}, got {self.flow_policy!r}",
            )
        low, high = PRACTICE_FLOW_RANGE_L_PER_MIN
        for name in ("default_perfusion_flow_l_per_min", "coverage_flow_l_per_min"):
            value = getattr(self, name)
            if not (math.isfinite(value) and low <= value <= high):
                raise InvalidInputError(
                    name, f"must lie in published practice, {low:g}-{high:g} L/min, got {value!r}"
                )


def perfusion_flow_l_per_min(plan: PerfusionPlan, config: ProcedureConfig) -> float:
    """Circulation rate during heat and perfuse [L/min] (see ``ProcedureConfig.flow_policy``).

    An explicit ``config.perfusion_flow_l_per_min`` wins; otherwise the policy chooses from the
    regimen's own range (``plan.flow_l_per_min``), which it never leaves: only when the regimen
    gives no flow does the ``"coverage"`` policy use ``config.coverage_flow_l_per_min``.
    """
    if config.perfusion_flow_l_per_min is not None:
        return config.perfusion_flow_l_per_min
    if plan.flow_l_per_min is not None:
        low, high = plan.flow_l_per_min
        return (low + high) / 2.0 if config.flow_policy == "regimen" else high
    if config.flow_policy == "coverage":
        return config.coverage_flow_l_per_min
    return config.default_perfusion_flow_l_per_min


@dataclass(slots=True)
class DoseRecord:
    """One scheduled intraperitoneal dose and what happened to it.

    Attributes
    ----------
    drug, mg
        What and how much.
    planned_min
        Minutes after the timer start it is scheduled.
    due_s
        Device time it fell due [s] (None: not yet).
    given_s
        Device time it was confirmed [s] (None: not given).
    given_timer_min
        Perfusion timer [min] at confirmation.
    confirmed_by
        ``"operator"`` or ``"auto"``.
    """

    drug: str
    mg: float
    planned_min: float
    due_s: float | None = None
    given_s: float | None = None
    given_timer_min: float | None = None
    confirmed_by: str | None = None
    missed: bool = False


@dataclass(frozen=True, slots=True)
class PhaseSetpoints:
    """What the controllers aim at in the current phase."""

    temperature: TemperatureSetpoints
    flow: FlowSetpoints


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    """When a phase ran (device time [s]; ``end_s`` None while it runs)."""

    phase: Phase
    start_s: float
    end_s: float | None = None


@dataclass(frozen=True, slots=True)
class ProcedureTick:
    """The procedure's state after :meth:`Procedure.advance`.

    Attributes
    ----------
    phase, paused
        Current phase and pause state.
    timer_s
        Perfusion seconds counted so far (paused time excluded).
    remaining_s
        Perfusion seconds left (the full duration before the timer starts).
    setpoints
        Targets for the temperature controller and the flow balance.
    due_doses
        Doses due and not yet confirmed.
    conditions
        ``DOSE_DUE`` and ``PROCEDURE_PAUSED`` alarm conditions.
    events
        Events of this step.
    """

    phase: Phase
    paused: bool
    timer_s: float
    remaining_s: float
    setpoints: PhaseSetpoints
    due_doses: tuple[DoseRecord, ...]
    conditions: tuple[AlarmCondition, ...]
    events: tuple[Event, ...]


@dataclass(slots=True)
class _Progress:
    """Per-phase bookkeeping."""

    phase_start_s: float = 0.0
    pumped_in_l: float = 0.0  # net measured volume pumped into the abdomen in this phase
    at_target_since_s: float | None = None
    target_reached: bool = False
    filled_l: float = 0.0
    timer_started_s: float | None = None
    pending: list[Event] = field(default_factory=list)


class Procedure:
    """Phases, timer and dose prompts of one perfusion; see the module docstring.

    Parameters
    ----------
    plan
        The planned perfusion (target, limits, duration, timer-start rule, doses).
    config
        Phase settings.
    """

    def __init__(self, plan: PerfusionPlan, config: ProcedureConfig | None = None) -> None:
        self.plan = plan
        self.config = config or ProcedureConfig()
        self.duration_s = plan.duration_min * 60.0
        self.doses: list[DoseRecord] = [DoseRecord(d.drug, d.mg, d.at_min) for d in plan.doses]
        self.phase = Phase.SETUP
        self.paused = False
        self.phases: list[PhaseSpan] = []
        self.timer_s = 0.0
        self._clock_s: float | None = None
        self._progress = _Progress()
        self._last_reading: Reading | None = None

    # -- derived settings -----------------------------------------------------------------------

    @property
    def perfusion_flow_l_per_min(self) -> float:
        """Circulation rate during heat and perfuse [L/min] (``ProcedureConfig.flow_policy``)."""
        return perfusion_flow_l_per_min(self.plan, self.config)

    @property
    def fill_volume_l(self) -> float:
        """Net volume to pump into the abdomen during fill [L]."""
        cfg = self.config
        if cfg.fill_volume_l is not None:
            return cfg.fill_volume_l
        return max(self.plan.carrier_volume_l - cfg.circuit_volume_l, cfg.min_fill_volume_l)

    @property
    def timer_started(self) -> bool:
        """The perfusion timer has started."""
        return self._progress.timer_started_s is not None

    def setpoints(self) -> PhaseSetpoints:
        """Setpoints of the current phase."""
        cfg, plan = self.config, self.plan
        at_target = TemperatureSetpoints.from_plan(plan)
        off = replace(at_target, heating=False)
        phase = self.phase
        if phase == Phase.PRIME:
            temperature = replace(
                at_target,
                target_c=cfg.prime_temperature_c,
                target_site="inflow",
                therapeutic=False,
            )
            return PhaseSetpoints(temperature, FlowSetpoints("circulate", cfg.prime_flow_l_per_min))
        if phase == Phase.FILL:
            temperature = replace(
                at_target,
                target_c=cfg.fill_temperature_c,
                target_site="inflow",
                therapeutic=False,
            )
            return PhaseSetpoints(temperature, FlowSetpoints("fill", cfg.fill_flow_l_per_min))
        if phase in (Phase.HEAT, Phase.PERFUSE):
            return PhaseSetpoints(
                at_target, FlowSetpoints("circulate", self.perfusion_flow_l_per_min)
            )
        if phase == Phase.DRAIN:
            return PhaseSetpoints(off, FlowSetpoints("drain", cfg.drain_flow_l_per_min))
        if phase == Phase.RINSE:
            return PhaseSetpoints(off, FlowSetpoints("circulate", cfg.rinse_flow_l_per_min))
        return PhaseSetpoints(off, FlowSetpoints("stop", 0.0))

    # -- operator actions -----------------------------------------------------------------------

    def start(self, time_s: float) -> list[Event]:
        """Open the procedure at ``time_s`` (records the setup phase). Called by the first
        :meth:`advance` if not called before."""
        if self.phases:
            return []
        self._clock_s = time_s
        self._progress = _Progress(phase_start_s=time_s)
        self.phases.append(PhaseSpan(Phase.SETUP, time_s))
        return [self._event(time_s, "phase.changed", "setup", "procedure opened: setup")]

    def request(
        self, phase: Phase | str, time_s: float, override: str | None = None
    ) -> list[Event]:
        """Operator request to move to ``phase`` (the next one in order).

        ``override`` (heat -> perfuse only): the operator starts the perfusion although the
        timer-start rule is not met (e.g. the abdomen plateaus below a target the safety margins
        do not allow); the reason is recorded in the phase-change event.

        Raises
        ------
        TransitionRefusedError
            If the move is not the next allowed one or its guard is not met; the message says why.
        """
        events = self.start(time_s)
        target = _parse_phase(phase)
        self._accrue(time_s)
        allowed = TRANSITIONS[self.phase]
        if target not in allowed:
            accepted = ", ".join(p.value for p in allowed) or "none (the procedure has ended)"
            raise TransitionRefusedError(
                f"from {self.phase.value} the next phase may be {accepted}, got {target.value!r}"
            )
        if self.paused:
            raise TransitionRefusedError(
                f"the procedure is paused; resume before moving to {target}"
            )
        why_not = self._guard(target, time_s)
        if override is not None and target == Phase.PERFUSE and why_not is not None:
            entered = self._enter(target, time_s)
            entered[0] = replace(
                entered[0],
                message=f"{entered[0].message} (timer-start rule overridden: {override})",
                data={**entered[0].data, "override": override, "rule_unmet": why_not},
            )
            return events + entered
        if why_not is not None:
            raise TransitionRefusedError(
                f"cannot go from {self.phase.value} to {target.value}: {why_not}"
            )
        return events + self._enter(target, time_s)

    def pause(self, time_s: float) -> list[Event]:
        """Pause: the timer stops and phases do not advance (the machine keeps its setpoints)."""
        self._refuse_if_ended("pause")
        if self.paused:
            return []
        self._accrue(time_s)
        self.paused = True
        return [self._event(time_s, "procedure.paused", self.phase.value, "procedure paused")]

    def resume(self, time_s: float) -> list[Event]:
        """Resume after :meth:`pause`."""
        self._refuse_if_ended("resume")
        if not self.paused:
            return []
        self._accrue(time_s)  # moves the clock past the pause without counting it
        self.paused = False
        return [self._event(time_s, "procedure.resumed", self.phase.value, "procedure resumed")]

    def abort(self, time_s: float, reason: str = "aborted by the operator") -> list[Event]:
        """Abort from any phase: heater off, pumps stopped, the procedure ends."""
        self._refuse_if_ended("abort")
        events = self.start(time_s)
        self._accrue(time_s)
        aborted_in = self.phase.value
        events += self._enter(Phase.ABORTED, time_s)
        self.paused = False
        events.append(
            self._event(
                time_s, "procedure.aborted", aborted_in, f"aborted in {aborted_in}: {reason}"
            )
        )
        return events

    def confirm_dose(self, time_s: float, drug: str | None = None) -> list[Event]:
        """Confirm the earliest due, unconfirmed dose (of ``drug`` if given).

        Raises
        ------
        InvalidInputError
            (field ``dose``) if no such dose is due.
        """
        self._accrue(time_s)
        due = [d for d in self.doses if d.due_s is not None and d.given_s is None and not d.missed]
        if drug is not None:
            due = [d for d in due if d.drug == drug]
        if not due:
            pending = ", ".join(sorted({d.drug for d in self.doses if d.given_s is None}))
            raise InvalidInputError(
                "dose",
                f"no dose{' of ' + drug if drug else ''} is due now; not yet given: "
                f"{pending or 'none'}",
            )
        return self._confirm(due[0], time_s, "operator")

    # -- the tick -------------------------------------------------------------------------------

    def advance(self, reading: Reading) -> ProcedureTick:
        """Bring the procedure up to ``reading.time_s``: volumes, timer, doses, automatic phase
        changes. Feed it the supervisor's trusted reading."""
        now = reading.time_s
        events = self.start(now)
        previous = self._clock_s if self._clock_s is not None else now
        dt_s = max(now - previous, 0.0)
        self._accrue(now)
        self._last_reading = reading
        progress = self._progress
        events += progress.pending
        progress.pending = []
        if math.isfinite(reading.inflow_l_per_min) and math.isfinite(reading.outflow_l_per_min):
            progress.pumped_in_l += (
                (reading.inflow_l_per_min - reading.outflow_l_per_min) * dt_s / 60.0
            )
        if self.phase == Phase.HEAT and not self.paused:
            self._track_target(reading, now)
            if self.plan.timer_start == "drug_added" and progress.target_reached:
                events += self._make_due(now, first_only=True)
        if self.phase == Phase.PERFUSE:
            events += self._make_due(now, first_only=False)
            if self.timer_s >= self.duration_s - 1e-9 and not self.paused:
                events += self._end_timer(now)
        if self.config.auto_advance and not self.paused and self.phase not in TERMINAL_PHASES:
            for target in TRANSITIONS[self.phase]:
                if target == Phase.RINSE and not self.config.rinse:
                    continue
                if target == Phase.COMPLETE and self.phase == Phase.DRAIN and self.config.rinse:
                    continue
                if self._guard(target, now) is None:
                    events += self._enter(target, now)
                    break
        if self.config.auto_confirm_doses:
            for dose in [
                d for d in self.doses if d.due_s is not None and d.given_s is None and not d.missed
            ]:
                events += self._confirm(dose, now, "auto")
        return self._tick(events)

    # -- internals ------------------------------------------------------------------------------

    def _tick(self, events: list[Event]) -> ProcedureTick:
        due = tuple(
            d for d in self.doses if d.due_s is not None and d.given_s is None and not d.missed
        )
        conditions = [
            AlarmCondition(
                "DOSE_DUE",
                self.timer_s / 60.0,
                d.planned_min,
                d.drug,
                f"{d.drug} {d.mg:.1f} mg due at {d.planned_min:g} min",
            )
            for d in due
        ]
        if self.paused:
            conditions.append(AlarmCondition("PROCEDURE_PAUSED", source=self.phase.value))
        return ProcedureTick(
            self.phase,
            self.paused,
            self.timer_s,
            max(self.duration_s - self.timer_s, 0.0),
            self.setpoints(),
            due,
            tuple(conditions),
            tuple(events),
        )

    def _accrue(self, now: float) -> None:
        """Move the clock to ``now``; count perfusion time if the timer runs."""
        if self._clock_s is None:
            self._clock_s = now
            return
        if self.phase == Phase.PERFUSE and self.timer_started and not self.paused:
            self.timer_s = min(self.timer_s + max(now - self._clock_s, 0.0), self.duration_s)
        self._clock_s = max(self._clock_s, now)

    def _guard(self, target: Phase, now: float) -> str | None:
        """None if the transition to ``target`` is allowed now, else why not."""
        cfg, progress = self.config, self._progress
        elapsed = now - progress.phase_start_s
        if target == Phase.PRIME:
            return None
        if target == Phase.FILL:
            if elapsed < cfg.prime_s - 1e-9:
                return f"priming needs {cfg.prime_s:g} s, {elapsed:g} s so far"
            return None
        if target == Phase.HEAT:
            if progress.pumped_in_l < self.fill_volume_l - 1e-9:
                return (
                    f"filled {progress.pumped_in_l:.2f} L of {self.fill_volume_l:.2f} L "
                    "(measured net inflow)"
                )
            return None
        if target == Phase.PERFUSE:
            return self._timer_rule_unmet()
        if target == Phase.DRAIN:
            if self.timer_s < self.duration_s - 1e-9:
                return (
                    f"the perfusion timer is at {self.timer_s / 60:.1f} of "
                    f"{self.duration_s / 60:g} min (abort to stop early)"
                )
            return None
        if target in (Phase.RINSE, Phase.COMPLETE) and self.phase == Phase.DRAIN:
            drained = -progress.pumped_in_l
            needed = cfg.drain_fraction * progress.filled_l
            if drained < needed - 1e-9 and elapsed < cfg.max_drain_s - 1e-9:
                return f"drained {drained:.2f} L of {needed:.2f} L"
            return None
        if target == Phase.COMPLETE and self.phase == Phase.RINSE:
            if elapsed < cfg.rinse_s - 1e-9:
                return f"the rinse needs {cfg.rinse_s:g} s, {elapsed:g} s so far"
            return None
        return None  # pragma: no cover - every transition is listed above

    def _timer_rule_unmet(self) -> str | None:
        rule = self.plan.timer_start
        if rule == "perfusion_start":
            return None
        if rule == "drug_added":
            if not self.timer_started:
                return "the timer starts when the first drug is added (no dose confirmed yet)"
            return None
        if not self._progress.target_reached:
            site = "inflow" if rule == "inflow_at_target" else "abdomen"
            return (
                f"timer-start rule {rule}: the {site} is not yet within "
                f"{self.config.at_target_tolerance_k:g} K of {self._rule_target_c():g} C for "
                f"{self.config.at_target_hold_s:g} s"
            )
        return None

    def _rule_target_c(self) -> float:
        plan = self.plan
        if plan.timer_start == "abdomen_at_target" or (
            plan.timer_start == "drug_added" and plan.target_site != "inflow"
        ):
            return (
                plan.intra_abdominal_target_c
                if plan.intra_abdominal_target_c is not None
                else plan.target_temperature_c
            )
        return (
            plan.inflow_target_c if plan.inflow_target_c is not None else plan.target_temperature_c
        )

    def _rule_measure_c(self, reading: Reading) -> float:
        plan = self.plan
        abdominal = plan.timer_start == "abdomen_at_target" or (
            plan.timer_start == "drug_added" and plan.target_site != "inflow"
        )
        if not abdominal:
            return reading.inflow_c
        values = [v for v in reading.cavity_c if math.isfinite(v)]
        if values:
            return (
                min(values) if self.config.abdomen_measure == "coolest" else reading.mean_cavity_c
            )
        return reading.outflow_c

    def _track_target(self, reading: Reading, now: float) -> None:
        progress = self._progress
        if progress.target_reached:
            return
        measured = self._rule_measure_c(reading)
        near = (
            math.isfinite(measured)
            and measured >= self._rule_target_c() - self.config.at_target_tolerance_k
        )
        if not near:
            progress.at_target_since_s = None
            return
        if progress.at_target_since_s is None:
            progress.at_target_since_s = now
        if now - progress.at_target_since_s >= self.config.at_target_hold_s - 1e-9:
            progress.target_reached = True

    def _enter(self, target: Phase, now: float) -> list[Event]:
        previous = self.phase
        events = [
            self._event(
                now,
                "phase.changed",
                target.value,
                f"{previous.value} -> {target.value}",
                {"from": previous.value, "to": target.value},
            )
        ]
        if self.phases:
            last = self.phases[-1]
            self.phases[-1] = PhaseSpan(last.phase, last.start_s, now)
        self.phases.append(PhaseSpan(target, now))
        filled = self._progress.filled_l
        if previous == Phase.FILL:
            filled = self._progress.pumped_in_l
        timer_started_s = self._progress.timer_started_s
        target_reached = self._progress.target_reached
        self._progress = _Progress(
            phase_start_s=now,
            filled_l=filled,
            timer_started_s=timer_started_s,
            target_reached=target_reached,
        )
        self.phase = target
        if target == Phase.PERFUSE and not self.timer_started:
            events += self._start_timer(now)
        if target == Phase.PERFUSE:
            events += self._make_due(now, first_only=False)
        if target in TERMINAL_PHASES or target == Phase.DRAIN:
            events += self._miss_remaining(now)
        return events

    def _start_timer(self, now: float) -> list[Event]:
        self._progress.timer_started_s = now
        return [
            self._event(
                now,
                "timer.started",
                self.plan.timer_start,
                f"perfusion timer started ({self.plan.timer_start}); "
                f"{self.duration_s / 60:g} min to go",
                {"duration_min": self.duration_s / 60},
            )
        ]

    def _end_timer(self, now: float) -> list[Event]:
        events = [
            self._event(
                now,
                "timer.ended",
                self.plan.timer_start,
                f"perfusion timer ended after {self.timer_s / 60:g} min",
                {"timer_min": self.timer_s / 60},
            )
        ]
        return events + self._enter(Phase.DRAIN, now)

    def _make_due(self, now: float, first_only: bool) -> list[Event]:
        events = []
        for dose in self.doses:
            if dose.due_s is not None:
                continue
            if first_only:
                if dose.planned_min > 0:
                    continue
            elif dose.planned_min * 60.0 > self.timer_s + 1e-9:
                continue
            dose.due_s = now
            events.append(
                self._event(
                    now,
                    "dose.due",
                    dose.drug,
                    f"{dose.drug} {dose.mg:.1f} mg due (scheduled at {dose.planned_min:g} min)",
                    {"drug": dose.drug, "mg": dose.mg, "planned_min": dose.planned_min},
                )
            )
        return events

    def _confirm(self, dose: DoseRecord, now: float, by: str) -> list[Event]:
        dose.given_s = now
        dose.confirmed_by = by
        events: list[Event] = []
        if (
            self.plan.timer_start == "drug_added"
            and not self.timer_started
            and self.phase == Phase.HEAT
        ):
            # the first drug starts the timer: perfusion begins now
            events += self._enter(Phase.PERFUSE, now)
        dose.given_timer_min = self.timer_s / 60.0
        events.insert(
            0,
            self._event(
                now,
                "dose.confirmed",
                dose.drug,
                f"{dose.drug} {dose.mg:.1f} mg given at timer {dose.given_timer_min:.1f} min "
                f"(confirmed by {by})",
                {
                    "drug": dose.drug,
                    "mg": dose.mg,
                    "planned_min": dose.planned_min,
                    "given_timer_min": dose.given_timer_min,
                    "confirmed_by": by,
                },
            ),
        )
        return events

    def _miss_remaining(self, now: float) -> list[Event]:
        missed = [d for d in self.doses if d.given_s is None and not d.missed]
        for dose in missed:
            dose.missed = True
        return [
            self._event(
                now,
                "dose.missed",
                dose.drug,
                f"{dose.drug} {dose.mg:.1f} mg (at {dose.planned_min:g} min) was not given",
                {"drug": dose.drug, "mg": dose.mg, "planned_min": dose.planned_min},
            )
            for dose in missed
        ]

    def _refuse_if_ended(self, action: str) -> None:
        if self.phase in TERMINAL_PHASES:
            raise TransitionRefusedError(
                f"cannot {action}: the procedure has ended ({self.phase.value})"
            )

    def _event(
        self,
        time_s: float,
        kind: EventKind,
        code: str,
        message: str,
        data: dict[str, object] | None = None,
    ) -> Event:
        payload: dict[str, object] = {"phase": self.phase.value, "timer_s": self.timer_s}
        payload.update(data or {})
        return Event(time_s, kind, code, message, payload)


def _parse_phase(phase: Phase | str) -> Phase:
    try:
        return Phase(phase)
    except ValueError:
        accepted = ", ".join(p.value for p in Phase)
        raise TransitionRefusedError(f"must be one of {accepted}, got {phase!r}") from None
