"""The safety campaign: every fault at several onsets, on every regimen, under several seeds.

One *case* is one perfusion of a library regimen for the reference patient on the simulated
machine, with at most one fault injected at an onset. The onsets are defined on the procedure
(``heat``: the middle of the heat phase; ``early-perfuse``: 2 min into the perfusion, after the
dose; ``late-perfuse``: 6 min before the perfusion ends). Their times come from the fault-free
*control run* of the same regimen and seed: until the onset a faulty run is that control run
exactly (same seed, and no fault acts before its onset), so the onset falls where it is meant to.

A fault run ends :data:`OBSERVE_AFTER_ONSET_S` after its onset (the safe state then holds; the
full 90 min would only repeat it); a control run goes to the end of the procedure.

Requirements checked per run (issue 4, safety campaign), all on the twin's *true* state and the
commands actually applied, never on the machine's sensors:

- ``region-over-44``: no abdominal region above :data:`ABSOLUTE_MAX_REGION_C` at any time;
- ``inflow-over-limit``: no inflow above the regimen's hard limit at any time;
- ``alarm-before-onset``: nothing raised before the fault acts (the prefix is a fault-free run);
- ``not-detected`` / ``late-detection``: a HIGH-priority alarm with one of the fault's codes
  (:data:`FAULT_REQUIREMENTS`) within its limit of the onset (10 s; probe faults 30 s);
- ``not-safe`` / ``late-safe-state``: within the same limit the applied command is in the fault's
  safe state (heater off; pumps at most the safe rate, inflow stopped and clamped, or both pumps
  stopped and clamped) and stays there to the end of the run;
- control runs: ``false-alarm`` (any alarm at all), ``not-completed``.
"""

from __future__ import annotations

import copy
import math
import os
import queue
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

from hipec.control.events import Event
from hipec.control.limits import ABSOLUTE_MAX_REGION_C
from hipec.control.supervisor import SafeAction
from hipec.devices.base import SAFE_FLOW_L_PER_MIN, Command
from hipec.devices.faults import FAULT_NAMES, Fault
from hipec.devices.simulated import SimulatedPerfusionMachine
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen, list_regimens, plan_perfusion
from hipec.protocols.plan import PerfusionPlan
from hipec.runner.engine import PerfusionRunner, RunConfig, RunSample
from hipec.runner.result import RunResult
from hipec.runner.simulation import simulated_run

#: The reference patient of the campaign [cm], [kg] (as ``hipec demo``).
REFERENCE_HEIGHT_CM = 172.0
REFERENCE_WEIGHT_KG = 74.0

OnsetName = Literal["heat", "early-perfuse", "late-perfuse"]
ONSETS: tuple[str, ...] = get_args(OnsetName)
#: ``early-perfuse`` onset: this long after the perfusion starts [s] (the dose is in).
EARLY_PERFUSE_S = 120.0
#: ``late-perfuse`` onset: this long before the perfusion ends [s].
LATE_PERFUSE_BEFORE_END_S = 360.0
#: A fault run ends this long after its onset [s].
OBSERVE_AFTER_ONSET_S = 300.0
#: The control period of the campaign [s]: the supervisor must see a sample at least every second
#: to detect within the limits below (the runner advances the machine one period at a time, and the
#: supervisor sees one reading per period).
CAMPAIGN_CONTROL_PERIOD_S = 1.0

#: Detection limits [s] (issue 4): hazardous faults 10 s, probe faults 30 s.
HAZARD_DETECTION_LIMIT_S = 10.0
SENSOR_DETECTION_LIMIT_S = 30.0


@dataclass(frozen=True, slots=True)
class FaultRequirement:
    """What the campaign demands of the supervisor for one fault.

    Attributes
    ----------
    detection_limit_s
        A HIGH-priority alarm with one of ``codes`` within this long of the onset [s].
    safe_action
        The least restrictive safe state that is acceptable (and it must be in force, as applied
        commands, within the same limit).
    codes
        Alarm codes that name this fault (an unrelated alarm does not count as its detection).
    """

    detection_limit_s: float
    safe_action: SafeAction
    codes: tuple[str, ...]


_H, _S = HAZARD_DETECTION_LIMIT_S, SENSOR_DETECTION_LIMIT_S
_A = SafeAction
#: Per fault: detection limit, required safe state, alarm codes that detect it. Every fault is
#: treated as hazardous (issue 4: "every hazardous fault ... no fault goes undetected"). The safe
#: states: the heater is off for every fault; the flow follows the hazard -- on battery the pumps go
#: on (issue 4: "pumps and monitoring go on, heating stops"); with a probe lost, circulation without
#: heat is safe; a stalled pump, a stuck heater, an occluded line, a leak and air each stop or slow
#: the flow as the hazard needs.
FAULT_REQUIREMENTS: dict[str, FaultRequirement] = {
    "heater-stuck-on": FaultRequirement(
        _H, _A.STOP_INFLOW, ("HEATER_STUCK_ON", "INFLOW_TEMP_HIGH")
    ),
    "heater-failed": FaultRequirement(_H, _A.HEATER_OFF, ("HEATER_FAILED",)),
    "inflow-probe-stuck": FaultRequirement(_S, _A.HEATER_OFF, ("PROBE_STUCK", "PROBE_IMPLAUSIBLE")),
    "cavity-probe-drift": FaultRequirement(_S, _A.HEATER_OFF, ("PROBE_IMPLAUSIBLE",)),
    "probe-disconnected": FaultRequirement(_S, _A.HEATER_OFF, ("PROBE_DISCONNECTED",)),
    "pump-stall": FaultRequirement(_H, _A.SAFE_FLOW, ("PUMP_STALL",)),
    "occlusion": FaultRequirement(_H, _A.STOP_INFLOW, ("LINE_PRESSURE_HIGH",)),
    "leak": FaultRequirement(_H, _A.STOP_ALL, ("LEAK", "RESERVOIR_LOW")),
    "air-in-line": FaultRequirement(_H, _A.STOP_ALL, ("AIR_IN_LINE",)),
    "power-loss": FaultRequirement(_H, _A.HEATER_OFF, ("POWER_ON_BATTERY",)),
}

FAILURE_KINDS: tuple[str, ...] = (
    "region-over-44",
    "inflow-over-limit",
    "alarm-before-onset",
    "not-detected",
    "late-detection",
    "not-safe",
    "late-safe-state",
    "false-alarm",
    "not-completed",
)


@dataclass(frozen=True, slots=True)
class CampaignCase:
    """One run of the campaign.

    Attributes
    ----------
    regimen
        Library regimen id.
    seed
        Seed of the machine's sensor noise and calibration offsets.
    fault
        Fault name, None for the fault-free control run.
    onset
        Onset name (:data:`ONSETS`), None for a control run.
    onset_s
        Onset [s from the start of the run], None for a control run.
    observe_s
        A fault run ends this long after its onset [s].
    """

    regimen: str
    seed: int
    fault: str | None = None
    onset: str | None = None
    onset_s: float | None = None
    observe_s: float = OBSERVE_AFTER_ONSET_S

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULT_NAMES:
            raise InvalidInputError(
                "fault", f"must be one of {', '.join(FAULT_NAMES)}, got {self.fault!r}"
            )
        if self.onset is not None and self.onset not in ONSETS:
            raise InvalidInputError(
                "onset", f"must be one of {', '.join(ONSETS)}, got {self.onset!r}"
            )
        if (self.fault is None) != (self.onset_s is None):
            raise InvalidInputError("onset_s", "a fault needs an onset time and a control run none")

    @property
    def label(self) -> str:
        """``regimen/fault@onset/seed`` (``control`` for the fault-free run)."""
        what = "control" if self.fault is None else f"{self.fault}@{self.onset}"
        return f"{self.regimen}/{what}/seed {self.seed}"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What one run showed.

    Attributes
    ----------
    case
        The run.
    outcome
        ``"completed"`` or ``"aborted"`` (a fault run is ended after its observation window).
    detection_s
        From the onset to the first HIGH-priority alarm naming the fault [s] (None: none).
    detected_by
        That alarm's ``code (source)``.
    first_alarm_s, first_alarm
        The first alarm of any priority at or after the onset [s from the onset] and its code.
    safe_state_s
        From the onset to the moment the applied command entered the required safe state and stayed
        there [s] (None: it never did).
    safe_action
        The supervisor's most restrictive safe action at the end of the run.
    max_region_c, max_inflow_c
        True maxima over the whole run [C].
    inflow_limit_c
        The regimen's hard inflow limit [C].
    alarms
        ``(code, priority, raised [s from the start])`` of every alarm, in order.
    failures
        Requirements not met (:data:`FAILURE_KINDS`), each with a short reason.
    wall_s
        Wall time of the run [s].
    phases
        ``(name, start [s])`` of every phase (control runs set the onsets from these).
    """

    case: CampaignCase
    outcome: str
    detection_s: float | None
    detected_by: str | None
    first_alarm_s: float | None
    first_alarm: str | None
    safe_state_s: float | None
    safe_action: str
    max_region_c: float
    max_inflow_c: float
    inflow_limit_c: float
    alarms: tuple[tuple[str, str, float], ...]
    failures: tuple[str, ...]
    wall_s: float
    phases: tuple[tuple[str, float], ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Every requirement met."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON)."""
        data = asdict(self)
        data["passed"] = self.passed
        return data


def reference_plan(regimen_id: str) -> PerfusionPlan:
    """The plan of ``regimen_id`` for the campaign's reference patient."""
    return plan_perfusion(
        get_regimen(regimen_id), height_cm=REFERENCE_HEIGHT_CM, weight_kg=REFERENCE_WEIGHT_KG
    )


def regimen_ids() -> tuple[str, ...]:
    """Every library regimen id, in library order."""
    return tuple(regimen.id for regimen in list_regimens())


# -- the run -------------------------------------------------------------------------------------


class _Recorder:
    """Sink keeping the applied commands and safe actions from ``from_s`` on (device time)."""

    def __init__(self, from_s: float) -> None:
        self.from_s = from_s
        self.samples: list[tuple[float, Command, str]] = []

    def on_sample(self, sample: RunSample) -> None:
        if sample.reading.time_s >= self.from_s - 1e-9:
            self.samples.append((sample.reading.time_s, sample.command, sample.safe_action))

    def on_event(self, event: Event) -> None:
        """Events are read from the result."""


def command_is_safe(command: Command, action: SafeAction, safe_flow_l_per_min: float) -> bool:
    """``command`` is in the safe state ``action`` (or a more restrictive one).

    Every safe state has the heater off; ``SAFE_FLOW`` limits both pumps to
    ``safe_flow_l_per_min`` [L/min]; ``STOP_INFLOW`` stops the inflow pump with its clamp closed;
    ``STOP_ALL`` stops both pumps with both clamps closed.
    """
    if command.heater_power_w > 0.0:
        return False
    inflow = command.inflow_l_per_min if command.inflow_clamp_open else 0.0
    outflow = command.outflow_l_per_min if command.outflow_clamp_open else 0.0
    tolerance = 1e-9
    if action >= SafeAction.STOP_ALL:
        return inflow <= tolerance and outflow <= tolerance and not command.inflow_clamp_open
    if action >= SafeAction.STOP_INFLOW:
        return inflow <= tolerance and not command.inflow_clamp_open
    if action >= SafeAction.SAFE_FLOW:
        return inflow <= safe_flow_l_per_min + tolerance and outflow <= safe_flow_l_per_min + 1e-9
    return True


def _detection(
    events: Sequence[Event], onset_s: float, codes: tuple[str, ...]
) -> tuple[float | None, str | None]:
    """First HIGH-priority alarm (raised high, or escalated to high) among ``codes`` at or after
    the onset: (time after the onset [s], ``code (source)``)."""
    for event in events:
        if event.time_s < onset_s - 1e-9 or event.code not in codes:
            continue
        if event.kind in ("alarm.raised", "alarm.escalated") and event.data.get("priority") == (
            "high"
        ):
            return event.time_s - onset_s, f"{event.code} ({event.data.get('source', '')})"
    return None, None


def _safe_from(
    samples: Sequence[tuple[float, Command, str]], onset_s: float, action: SafeAction
) -> float | None:
    """From the onset to the start of the final unbroken stretch of safe commands [s]."""
    start: float | None = None
    for time_s, command, _ in samples:
        if command_is_safe(command, action, SAFE_FLOW_L_PER_MIN):
            if start is None:
                start = time_s
        else:
            start = None
    return None if start is None else max(start - onset_s, 0.0)


def _judge(
    case: CampaignCase,
    runner: PerfusionRunner,
    result: RunResult,
    recorder: _Recorder,
    start_s: float,
    wall_start: float,
) -> CaseResult:
    """Check one finished run against the requirements (see the module docstring)."""
    plan = runner.plan
    onset_s = case.onset_s if case.onset_s is not None else math.inf
    alarms = tuple(
        (record.code, record.max_priority.label, record.raised_s - start_s)
        for record in runner.alarms.records
    )
    max_region = result.max_region_c if result.max_region_c is not None else math.nan
    max_inflow = result.max_inflow_c if result.max_inflow_c is not None else math.nan
    failures: list[str] = []
    if not max_region <= ABSOLUTE_MAX_REGION_C:
        failures.append(f"region-over-44: {max_region:.2f} C")
    if not max_inflow <= plan.max_inflow_c:
        failures.append(f"inflow-over-limit: {max_inflow:.2f} C > {plan.max_inflow_c:g} C")

    detection_s = detected_by = first_alarm_s = first_alarm = safe_state_s = None
    if case.fault is None:
        if alarms:
            failures.append(
                "false-alarm: " + ", ".join(f"{c} at {t / 60:.1f} min" for c, _, t in alarms)
            )
        if result.outcome != "completed":
            failures.append(f"not-completed: {result.outcome}")
    else:
        requirement = FAULT_REQUIREMENTS[case.fault]
        limit = requirement.detection_limit_s
        early = [a for a in runner.alarms.records if a.raised_s < onset_s - 1e-9]
        if early:
            failures.append(
                "alarm-before-onset: " + ", ".join(f"{a.code} ({a.source})" for a in early)
            )
        later = [a for a in runner.alarms.records if a.raised_s >= onset_s - 1e-9]
        if later:
            first_alarm_s, first_alarm = later[0].raised_s - onset_s, later[0].code
        detection_s, detected_by = _detection(runner.events, onset_s, requirement.codes)
        if detection_s is None:
            failures.append("not-detected: no HIGH alarm " + "/".join(requirement.codes))
        elif detection_s > limit + 1e-9:
            failures.append(f"late-detection: {detection_s:.0f} s > {limit:g} s")
        safe_state_s = _safe_from(recorder.samples, onset_s, requirement.safe_action)
        if safe_state_s is None:
            failures.append(f"not-safe: never held {requirement.safe_action.name.lower()}")
        elif safe_state_s > limit + 1e-9:
            failures.append(
                f"late-safe-state: {requirement.safe_action.name.lower()} after "
                f"{safe_state_s:.0f} s > {limit:g} s"
            )
    final_action = recorder.samples[-1][2] if recorder.samples else "none"
    return CaseResult(
        case=case,
        outcome=result.outcome,
        detection_s=detection_s,
        detected_by=detected_by,
        first_alarm_s=first_alarm_s,
        first_alarm=first_alarm,
        safe_state_s=safe_state_s,
        safe_action=final_action,
        max_region_c=max_region,
        max_inflow_c=max_inflow,
        inflow_limit_c=plan.max_inflow_c,
        alarms=alarms,
        failures=tuple(failures),
        wall_s=time.perf_counter() - wall_start,
        phases=tuple((p.name, p.start_min * 60.0) for p in result.phases),
    )


def _run_config(max_run_s: float | None) -> RunConfig:
    return RunConfig(control_period_s=CAMPAIGN_CONTROL_PERIOD_S, max_run_s=max_run_s)


def run_case(case: CampaignCase) -> CaseResult:
    """Run one case from the start of the procedure and judge it."""
    wall_start = time.perf_counter()
    faults: list[Fault] = []
    max_run_s: float | None = None
    if case.fault is not None and case.onset_s is not None:
        faults.append(Fault(case.fault, case.onset_s))
        max_run_s = case.onset_s + case.observe_s
    recorder = _Recorder(case.onset_s if case.onset_s is not None else 0.0)
    runner = simulated_run(
        reference_plan(case.regimen),
        _run_config(max_run_s),
        faults=faults,
        seed=case.seed,
        sinks=[recorder],
    )
    start_s = runner.time_s
    result = runner.run()
    return _judge(case, runner, result, recorder, start_s, wall_start)


class _Snapshot:
    """Sink that copies the runner at the last tick before ``onset_s`` and stops it."""

    def __init__(self, onset_s: float, period_s: float) -> None:
        self.onset_s = onset_s
        self.period_s = period_s
        self.runner: PerfusionRunner | None = None
        self.copy: PerfusionRunner | None = None

    def on_sample(self, sample: RunSample) -> None:
        runner = self.runner
        if (
            runner is None
            or self.copy is not None
            or sample.reading.time_s < self.onset_s - self.period_s - 1e-9
        ):
            return
        self.copy = fork_runner(runner, {id(self): None})
        runner.stop("snapshot taken")

    def on_event(self, event: Event) -> None:
        """Not needed."""


def fork_runner(runner: PerfusionRunner, replace_objects: dict[int, object]) -> PerfusionRunner:
    """A deep copy of ``runner`` (machine, twin, supervisor, procedure, controller, alarms,
    recorded trace and random generator included) that continues exactly as the original would.

    ``replace_objects`` maps ``id(original)`` to what stands for it in the copy (a sink, or None);
    the runner's lock and action queue are made anew (they cannot be copied).
    """
    memo: dict[int, Any] = {
        id(runner._lock): threading.RLock(),  # locks cannot be deep-copied
        id(runner._actions): queue.Queue(),
        **replace_objects,
    }
    fork: PerfusionRunner = copy.deepcopy(runner, memo)
    fork.sinks = [sink for sink in fork.sinks if sink is not None]
    return fork


def run_onset_group(
    regimen: str, seed: int, onset: str, onset_s: float, faults: Sequence[str], observe_s: float
) -> list[CaseResult]:
    """Every fault of ``faults`` at one onset of one control run.

    The fault-free prefix is simulated once: the runner is copied at the last tick before the
    onset, and each copy gets its fault and runs on to ``onset_s + observe_s``. Until the onset a
    faulty run is the fault-free run exactly (no fault acts before its onset), so this gives the
    same result as :func:`run_case` (the tests check it) in a fraction of the time.
    """
    plan = reference_plan(regimen)
    snapshot = _Snapshot(onset_s, CAMPAIGN_CONTROL_PERIOD_S)
    prefix = simulated_run(plan, _run_config(None), seed=seed, sinks=[snapshot])
    snapshot.runner = prefix
    start_s = prefix.time_s
    prefix.run()
    if snapshot.copy is None:
        raise InvalidInputError(
            "onset_s", f"the run of {regimen} ended before the onset at {onset_s:g} s"
        )
    results = []
    for fault in faults:
        wall_start = time.perf_counter()
        case = CampaignCase(regimen, seed, fault, onset, onset_s, observe_s)
        recorder = _Recorder(onset_s)
        runner = fork_runner(snapshot.copy, {})
        runner.sinks = [recorder]
        device = runner.device
        if not isinstance(device, SimulatedPerfusionMachine):  # pragma: no cover - simulated_run
            raise TypeError("the campaign runs on the simulated machine")
        device.faults = (Fault(fault, onset_s),)
        runner.config = replace(runner.config, max_run_s=onset_s + observe_s)
        device.advance(runner.period_s)  # the original loop advances after the copied tick
        result = runner.run()
        results.append(_judge(case, runner, result, recorder, start_s, wall_start))
    return results


# -- the matrix ----------------------------------------------------------------------------------


def onset_times(control: CaseResult, duration_min: float) -> dict[str, float]:
    """Onset of each of :data:`ONSETS` [s from the start] from a control run's phases.

    ``heat``: the middle of the heat phase; ``early-perfuse``: :data:`EARLY_PERFUSE_S` into the
    perfusion; ``late-perfuse``: :data:`LATE_PERFUSE_BEFORE_END_S` before its planned end.
    """
    starts = dict(control.phases)
    if "heat" not in starts or "perfuse" not in starts:
        raise InvalidInputError(
            "control", f"the control run of {control.case.label} never reached the perfusion"
        )
    heat_s, perfuse_s = starts["heat"], starts["perfuse"]
    duration_s = duration_min * 60.0
    return {
        "heat": round(heat_s + (perfuse_s - heat_s) / 2.0),
        "early-perfuse": perfuse_s + EARLY_PERFUSE_S,
        "late-perfuse": perfuse_s + max(duration_s - LATE_PERFUSE_BEFORE_END_S, EARLY_PERFUSE_S),
    }


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """Which cases a campaign runs: the first ``runs`` of the full matrix, in an order that visits
    every fault first, then every onset, every regimen, every seed.

    Attributes
    ----------
    regimens, faults, onsets, seeds
        The matrix axes.
    runs
        Number of fault runs (None: the whole matrix).
    observe_s
        Fault runs end this long after the onset [s].
    """

    regimens: tuple[str, ...]
    faults: tuple[str, ...] = FAULT_NAMES
    onsets: tuple[str, ...] = ONSETS
    seeds: tuple[int, ...] = (0,)
    runs: int | None = None
    observe_s: float = OBSERVE_AFTER_ONSET_S

    def __post_init__(self) -> None:
        if not self.regimens or not self.faults or not self.onsets or not self.seeds:
            raise InvalidInputError("campaign", "needs at least one regimen, fault, onset and seed")
        if self.runs is not None and not 1 <= self.runs <= self.size:
            raise InvalidInputError("runs", f"must be 1-{self.size}, got {self.runs}")
        if not (math.isfinite(self.observe_s) and self.observe_s >= 2 * SENSOR_DETECTION_LIMIT_S):
            raise InvalidInputError(
                "observe_s", f"must be >= {2 * SENSOR_DETECTION_LIMIT_S:g} s, got {self.observe_s}"
            )

    @property
    def size(self) -> int:
        """Runs in the full matrix."""
        return len(self.regimens) * len(self.faults) * len(self.onsets) * len(self.seeds)

    def slots(self) -> list[tuple[str, int, str, str]]:
        """``(regimen, seed, onset, fault)`` of every fault run, in campaign order."""
        f, o, r = len(self.faults), len(self.onsets), len(self.regimens)
        count = self.size if self.runs is None else self.runs
        out = []
        for k in range(count):
            fault = self.faults[k % f]
            onset = self.onsets[(k // f) % o]
            # the regimen turns fastest after faults and onsets have been covered once each
            regimen = self.regimens[(k // (f * o)) % r]
            seed = self.seeds[k // (f * o * r)]
            out.append((regimen, seed, onset, fault))
        return out


@dataclass(frozen=True, slots=True)
class FaultSummary:
    """The campaign's figures for one fault (``"control"``: the fault-free runs).

    Attributes
    ----------
    fault
        Fault name or ``"control"``.
    runs, passed
        Runs and runs meeting every requirement.
    detected
        Runs where the fault raised a HIGH alarm naming it.
    detection_median_s, detection_max_s
        Detection time over the detected runs [s] (None: none detected).
    limit_s
        Detection limit [s].
    worst_region_c, worst_inflow_c
        Highest true region and inflow temperatures over its runs [C].
    worst_inflow_margin_k
        Smallest distance of the inflow maximum below the regimen's limit [K] (negative: breached).
    safe_actions
        Safe actions in force at the end of its runs.
    detected_by
        Alarm codes that detected it.
    failures
        Failure kinds and their counts.
    """

    fault: str
    runs: int
    passed: int
    detected: int
    detection_median_s: float | None
    detection_max_s: float | None
    limit_s: float | None
    worst_region_c: float
    worst_inflow_c: float
    worst_inflow_margin_k: float
    safe_actions: tuple[str, ...]
    detected_by: tuple[str, ...]
    failures: dict[str, int]


def summarise(results: Iterable[CaseResult]) -> list[FaultSummary]:
    """Per-fault figures (faults in :data:`FAULT_NAMES` order, then ``control``)."""
    by_fault: dict[str, list[CaseResult]] = {}
    for result in results:
        by_fault.setdefault(result.case.fault or "control", []).append(result)
    order = [name for name in (*FAULT_NAMES, "control") if name in by_fault]
    out = []
    for name in order:
        group = by_fault[name]
        times = [r.detection_s for r in group if r.detection_s is not None]
        failures: dict[str, int] = {}
        for r in group:
            for failure in r.failures:
                kind = failure.split(":", 1)[0]
                failures[kind] = failures.get(kind, 0) + 1
        requirement = FAULT_REQUIREMENTS.get(name)
        out.append(
            FaultSummary(
                fault=name,
                runs=len(group),
                passed=sum(r.passed for r in group),
                detected=len(times),
                detection_median_s=statistics.median(times) if times else None,
                detection_max_s=max(times) if times else None,
                limit_s=requirement.detection_limit_s if requirement else None,
                worst_region_c=max(r.max_region_c for r in group),
                worst_inflow_c=max(r.max_inflow_c for r in group),
                worst_inflow_margin_k=min(r.inflow_limit_c - r.max_inflow_c for r in group),
                safe_actions=tuple(sorted({r.safe_action for r in group})),
                detected_by=tuple(
                    sorted({(r.detected_by or "").split(" ", 1)[0] for r in group if r.detected_by})
                ),
                failures=failures,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class CampaignResult:
    """Every run of a campaign and its verdict.

    Attributes
    ----------
    controls
        Fault-free control runs (one per regimen and seed used).
    runs
        Fault runs.
    wall_s
        Wall time [s].
    workers
        Worker processes used.
    """

    controls: tuple[CaseResult, ...]
    runs: tuple[CaseResult, ...]
    wall_s: float
    workers: int

    @property
    def passed(self) -> bool:
        """Every run met every requirement."""
        return all(r.passed for r in (*self.controls, *self.runs))

    @property
    def summary(self) -> list[FaultSummary]:
        """Per-fault figures."""
        return summarise((*self.runs, *self.controls))

    def to_dict(self, *, details: bool = False) -> dict[str, Any]:
        """Plain data (JSON); ``details`` adds every run."""
        data: dict[str, Any] = {
            "passed": self.passed,
            "runs": len(self.runs),
            "control_runs": len(self.controls),
            "failed_runs": sum(not r.passed for r in (*self.runs, *self.controls)),
            "wall_s": round(self.wall_s, 1),
            "workers": self.workers,
            "faults": [_rounded(asdict(s)) for s in self.summary],
            "failures": [
                {"run": r.case.label, "failures": list(r.failures)}
                for r in (*self.controls, *self.runs)
                if not r.passed
            ],
        }
        if details:
            data["details"] = [_rounded(r.to_dict()) for r in (*self.controls, *self.runs)]
        return data


def _rounded(data: Any) -> Any:
    if isinstance(data, float):
        return round(data, 3) if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _rounded(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_rounded(value) for value in data]
    return data


ProgressCallback = Callable[[CaseResult, int, int], None]


def _gather(
    tasks: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
    executor: ProcessPoolExecutor | None,
    progress: Callable[[list[CaseResult]], None],
) -> list[list[CaseResult]]:
    """Run ``fn(*args)`` for every task (each returns one or more results), in order."""
    out: list[list[CaseResult] | None] = [None] * len(tasks)
    if executor is None:
        for index, (fn, args) in enumerate(tasks):
            out[index] = _as_list(fn(*args))
            progress(out[index] or [])
        return [r or [] for r in out]
    futures: dict[Future[Any], int] = {
        executor.submit(fn, *args): index for index, (fn, args) in enumerate(tasks)
    }
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            results = _as_list(future.result())
            out[futures[future]] = results
            progress(results)
    return [r or [] for r in out]


def _as_list(value: CaseResult | list[CaseResult]) -> list[CaseResult]:
    return value if isinstance(value, list) else [value]


def run_campaign(
    plan: CampaignPlan,
    *,
    workers: int = 1,
    progress: ProgressCallback | None = None,
) -> CampaignResult:
    """Run a campaign: the control runs first (they set the onsets), then the fault runs, grouped
    by onset (:func:`run_onset_group`).

    Parameters
    ----------
    plan
        Which cases.
    workers
        Worker processes (1: in this process).
    progress
        Called after every run with ``(result, done, total)`` (control runs included).
    """
    if not 1 <= workers <= 64:
        raise InvalidInputError("workers", f"must be 1-64, got {workers}")
    wall_start = time.perf_counter()
    slots = plan.slots()
    pairs = list(dict.fromkeys((regimen, seed) for regimen, seed, _, _ in slots))
    total = len(pairs) + len(slots)
    done = 0

    def tick(results: list[CaseResult]) -> None:
        nonlocal done
        for result in results:
            done += 1
            if progress is not None:
                progress(result, done, total)

    executor = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        control_tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
            (run_case, (CampaignCase(regimen, seed),)) for regimen, seed in pairs
        ]
        controls = [r for group in _gather(control_tasks, executor, tick) for r in group]
        onsets = {
            (c.case.regimen, c.case.seed): onset_times(
                c, reference_plan(c.case.regimen).duration_min
            )
            for c in controls
        }
        groups: dict[tuple[str, int, str], list[str]] = {}
        for regimen, seed, onset, fault in slots:
            groups.setdefault((regimen, seed, onset), []).append(fault)
        # the longest prefixes first, so that no worker is left with one at the end
        order = sorted(groups, key=lambda key: -onsets[key[:2]][key[2]])
        group_tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
            (
                run_onset_group,
                (regimen, seed, onset, onsets[(regimen, seed)][onset], groups[key], plan.observe_s),
            )
            for key in order
            for regimen, seed, onset in (key,)
        ]
        runs = [r for group in _gather(group_tasks, executor, tick) for r in group]
    finally:
        if executor is not None:
            executor.shutdown()
    position = {slot: index for index, slot in enumerate(slots)}

    def slot_of(r: CaseResult) -> int:
        return position[(r.case.regimen, r.case.seed, r.case.onset or "", r.case.fault or "")]

    runs.sort(key=slot_of)
    return CampaignResult(
        tuple(controls), tuple(runs), time.perf_counter() - wall_start, max(workers, 1)
    )


def default_workers() -> int:
    """Worker processes for a campaign: the cores available, at most 2."""
    return max(1, min(2, os.cpu_count() or 1))
