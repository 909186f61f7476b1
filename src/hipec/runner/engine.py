"""One perfusion: clock + device + supervisor + procedure + controller + alarms -> sinks.

The tick (the wiring of :mod:`hipec.control`, plus what the operator does at the machine)::

    reading = device.read()
    verdict = supervisor.check(reading, last)
    tick = procedure.advance(verdict.trusted_reading)
    operator: carrier into the reservoir on prime, each confirmed dose into the reservoir, the
              rinse on rinse (simulated machine: twin events; a real machine: people do it)
    heater = controller.update(trusted, setpoints.temperature, dt)
    pumps = balance.update(trusted, setpoints.flow, dt)
    last = supervisor.constrain(compose_command(heater, pumps)); device.apply(last)
    alarms.update(t, conditions); sinks receive the sample and every event
    clock: device.advance(dt) for a simulated device; wait dt / speed of wall time (or not at all)

Operator actions (:meth:`PerfusionRunner.pause`, ``resume``, ``abort``, ``next_phase``,
``acknowledge``, ``silence``, ``confirm_dose``) are thread-safe: called from another thread (a web
request, an asyncio task through ``asyncio.to_thread``) while the loop runs, they are queued, run by
the loop thread before its next tick, and their result (or error) is returned to the caller. A
real-time loop waits on that queue, so an action is served at once, not at the next period.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from hipec.control import (
    CONTROLLERS,
    AlarmManager,
    AlarmPriority,
    BalanceConfig,
    FlowBalance,
    Phase,
    Procedure,
    ProcedureConfig,
    SafeAction,
    SafetyLimits,
    Supervisor,
    SupervisorConfig,
    TemperatureController,
    compose_command,
    fallback_conditions,
    make_temperature_controller,
)
from hipec.control.alarms import AlarmCondition
from hipec.control.events import Event
from hipec.control.pid import PidGains
from hipec.control.procedure import (
    FLOW_POLICIES,
    TERMINAL_PHASES,
    TRANSITIONS,
    DoseRecord,
    FlowPolicy,
)
from hipec.devices.base import Command, PerfusionDevice, Reading, SimulatedDevice
from hipec.devices.simulated import PlantSnapshot, PlantTruth, SimulatedPerfusionMachine
from hipec.errors import InvalidInputError
from hipec.protocols.plan import PerfusionPlan
from hipec.runner.result import RunResult, build_result

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How a perfusion is run.

    Attributes
    ----------
    controller
        Temperature controller name (:data:`hipec.control.CONTROLLERS`: ``"cascade"``, the
        ``"pid"`` baseline, or ``"coverage"``, which keeps all 13 regions in 41-43 C rather than
        one site at the regimen's target).
    speed
        Clock: None runs as fast as possible; ``1.0`` is real time; ``N`` is N-times accelerated.
    control_period_s
        Control period [s]; None: the device's own.
    unattended
        Phases advance and doses are confirmed automatically (no operator).
    perfusion_flow_l_per_min
        Circulation rate in heat and perfuse [L/min]; None: chosen by ``flow_policy``.
    flow_policy
        How the circulation rate is chosen from the regimen (``ProcedureConfig.flow_policy``:
        ``"regimen"``, ``"upper"`` or ``"coverage"``).
    rinse_volume_l
        Saline used for the rinse [L]; None: the filled volume.
    max_heat_s
        Unattended runs start the perfusion anyway (recorded as an override of the timer-start
        rule) if the rule is not met after this long in heat [s].
    max_run_s
        Every run aborts after this much device time [s]; None: regimen duration + 3 h.
    max_blocked_s
        Unattended runs abort after this much device time [s] (default 5 min) held in a latched
        safe state that stops the inflow (``STOP_INFLOW`` / ``STOP_ALL``) in a phase that cannot
        progress without it (fill, heat, perfuse; see :meth:`PerfusionRunner.blocking_trips`):
        only an operator can reset such a trip, so the fill would otherwise wait, in the safe
        state, until ``max_run_s``. The abort keeps the heater off and stops both pumps. Attended
        runs never abort on this: they wait for the operator with the alarm up.
    supervisor
        Supervisor check table and thresholds; None: defaults with the device's actuator limits.
    limit_overrides
        Overrides of :class:`~hipec.control.SafetyLimits` by attribute name.
    procedure
        Procedure settings; None: hipec defaults with the machine's circuit volume, the settings
        above, and unattended flags.
    """

    controller: str = "cascade"
    speed: float | None = None
    control_period_s: float | None = None
    unattended: bool = True
    perfusion_flow_l_per_min: float | None = None
    flow_policy: FlowPolicy = "regimen"
    rinse_volume_l: float | None = None
    max_heat_s: float = 20.0 * 60.0
    max_run_s: float | None = None
    max_blocked_s: float = 5.0 * 60.0
    supervisor: SupervisorConfig | None = None
    limit_overrides: dict[str, Any] = field(default_factory=dict)
    procedure: ProcedureConfig | None = None

    def __post_init__(self) -> None:
        if self.controller not in CONTROLLERS:
            raise InvalidInputError(
                "controller", f"must be one of {', '.join(CONTROLLERS)}, got {self.controller!r}"
            )
        if self.flow_policy not in FLOW_POLICIES:
            raise InvalidInputError(
                "flow_policy",
                f"must be one of {', '.join(FLOW_POLICIES)}, got {self.flow_policy!r}",
            )
        if self.speed is not None and not (math.isfinite(self.speed) and self.speed > 0):
            raise InvalidInputError("speed", f"must be a factor > 0, got {self.speed!r}")
        if self.control_period_s is not None and not (
            math.isfinite(self.control_period_s) and 0 < self.control_period_s <= 60
        ):
            raise InvalidInputError(
                "control_period_s", f"must be 0-60 s, got {self.control_period_s!r}"
            )
        if self.perfusion_flow_l_per_min is not None and not (
            math.isfinite(self.perfusion_flow_l_per_min)
            and 0.3 <= self.perfusion_flow_l_per_min <= 4.0
        ):
            raise InvalidInputError(
                "flow_l_min", f"must be 0.3-4 L/min, got {self.perfusion_flow_l_per_min!r}"
            )
        if not (math.isfinite(self.max_blocked_s) and self.max_blocked_s > 0):
            raise InvalidInputError(
                "max_blocked_s", f"must be a time > 0 s, got {self.max_blocked_s!r}"
            )


@dataclass(frozen=True, slots=True)
class RunSample:
    """What sinks receive every control period.

    Attributes
    ----------
    reading
        The machine's raw reading.
    command
        The command applied for the next period (after the supervisor).
    phase, paused
        Procedure phase and pause state.
    timer_s, remaining_s
        Perfusion timer and time left [s].
    target_c, target_site
        Temperature target [C] and its site.
    inflow_setpoint_c
        Inflow setpoint of the cascade [C] (nan for the PID).
    next_dose
        ``(drug, mg, planned_min)`` of the next dose not yet given, None if none.
    alarms
        Active alarms ``(code, priority, source)``, most urgent first.
    safe_action
        The supervisor's safe action in force (``"none"``, ``"heater_off"``, ...).
    truth
        The plant's true state (simulated machines), else None.
    """

    reading: Reading
    command: Command
    phase: str
    paused: bool
    timer_s: float
    remaining_s: float
    target_c: float
    target_site: str
    inflow_setpoint_c: float
    next_dose: tuple[str, float, float] | None
    alarms: tuple[tuple[str, str, str], ...]
    safe_action: str
    truth: PlantTruth | None


@runtime_checkable
class RunSink(Protocol):
    """Receives samples and events as they happen (store, websocket, terminal, ...)."""

    def on_sample(self, sample: RunSample) -> None:
        """One control period's sample."""
        ...

    def on_event(self, event: Event) -> None:
        """One event (alarm, phase, dose, supervisor, controller)."""
        ...


@dataclass(slots=True)
class CallbackSink:
    """A :class:`RunSink` from two optional callables."""

    sample: Callable[[RunSample], None] | None = None
    event: Callable[[Event], None] | None = None

    def on_sample(self, sample: RunSample) -> None:
        """Forward to ``sample``."""
        if self.sample is not None:
            self.sample(sample)

    def on_event(self, event: Event) -> None:
        """Forward to ``event``."""
        if self.event is not None:
            self.event(event)


#: Phases that cannot progress while the inflow is stopped: the fill's only way out is the volume
#: pumped in; heat cannot reach its target, and its unattended override would only start a
#: perfusion with no perfusate flowing; the perfusion timer would count a perfusion that is not
#: delivered. Prime and rinse end on their own time, the drain on its time limit (and a
#: ``STOP_INFLOW`` keeps the outflow at the safe rate), so they end the run anyway.
INFLOW_BOUND_PHASES: frozenset[Phase] = frozenset({Phase.FILL, Phase.HEAT, Phase.PERFUSE})


def default_supervisor_config() -> SupervisorConfig:
    """The supervisor defaults with what the twin shows: after the heater is cut, its element still
    warms a 0.5 L/min flow for about 3 min, so the thermal stuck-on / implausible-inflow checks wait
    180 s (the delivered-power check still catches a stuck heater within seconds)."""
    return SupervisorConfig(heater_settle_s=180.0)


def make_controller(name: str, max_heater_power_w: float) -> TemperatureController:
    """A temperature controller by name (:data:`hipec.control.CONTROLLERS`) with the heater
    limit of the machine [W]."""
    return make_temperature_controller(name, max_heater_power_w)


class PerfusionRunner:
    """Runs one perfusion of ``plan`` on ``device``; see the module docstring.

    Parameters
    ----------
    plan
        The planned perfusion.
    device
        The machine (a :class:`~hipec.devices.base.SimulatedDevice` is advanced by the runner;
        any other device runs in its own time and the runner only paces itself).
    config
        How to run.
    sinks
        Receivers of samples and events.
    """

    def __init__(
        self,
        plan: PerfusionPlan,
        device: PerfusionDevice,
        config: RunConfig | None = None,
        sinks: Sequence[RunSink] = (),
    ) -> None:
        self.plan = plan
        self.device = device
        self.config = config or RunConfig()
        self.sinks = list(sinks)
        cfg = self.config
        info = device.info
        self.period_s = cfg.control_period_s or info.control_period_s
        self.supervisor = Supervisor(
            SafetyLimits.from_plan(plan, **cfg.limit_overrides),
            cfg.supervisor or default_supervisor_config(),
            info,
        )
        self.procedure = Procedure(plan, self._procedure_config())
        self.controller = make_controller(cfg.controller, info.max_heater_power_w)
        # the twin's compliance puts the planned fill near 0-2 mmHg, where a pressure loop has no
        # authority: balance on volume and let the supervisor watch the pressure
        self.balance = FlowBalance(
            BalanceConfig(
                use_pressure=False,
                max_flow_l_per_min=info.max_flow_l_per_min,
                volume_gains=PidGains(kp=1.0, ki=0.01, output_min=-0.5, output_max=0.5),
            )
        )
        self.alarms = AlarmManager()
        # isinstance on a runtime-checkable Protocol is slow: decide once
        self._simulated = isinstance(device, SimulatedDevice)
        self._machine = device if isinstance(device, SimulatedPerfusionMachine) else None
        self.events: list[Event] = []
        self._last: Command | None = None
        self._start_s = device.read().time_s
        self._sample: RunSample | None = None
        self._truth: list[PlantTruth] = []
        self._phases_at: list[str] = []
        self._snapshot: PlantSnapshot | None = None
        self._lock = threading.RLock()
        self._actions: queue.Queue[tuple[Callable[[float], Any], Future[Any]]] = queue.Queue()
        self._running = False
        self._loop_thread: int | None = None
        self._stop_reason: str | None = None
        self._outcome_reason: str | None = None
        self._wall_s = 0.0
        self._blocked_since_s: float | None = None
        self._external_conditions: dict[tuple[str, str], AlarmCondition] = {}

    # -- construction ---------------------------------------------------------------------------

    def _procedure_config(self) -> ProcedureConfig:
        cfg = self.config
        if cfg.procedure is not None:
            return cfg.procedure
        circuit = (
            self.device.circuit_volume_l
            if isinstance(self.device, SimulatedPerfusionMachine)
            else ProcedureConfig().circuit_volume_l
        )
        # drain to 80 % of the filled volume: the open abdomen evaporates ~0.1 L in 90 min in the
        # twin, so 90 % can exceed what is left and the outflow pump would run dry
        return ProcedureConfig(
            auto_advance=cfg.unattended,
            auto_confirm_doses=cfg.unattended,
            circuit_volume_l=circuit,
            perfusion_flow_l_per_min=cfg.perfusion_flow_l_per_min,
            flow_policy=cfg.flow_policy,
            drain_fraction=0.8,
        )

    @property
    def time_s(self) -> float:
        """Device time [s] of the last reading."""
        return self.device.read().time_s

    @property
    def running(self) -> bool:
        """The loop is running."""
        return self._running

    @property
    def finished(self) -> bool:
        """The procedure has ended (complete or aborted)."""
        return self.procedure.phase in TERMINAL_PHASES

    def status(self) -> RunSample | None:
        """The latest sample (None before the first tick); safe from any thread."""
        with self._lock:
            return self._sample

    # -- operator actions (thread-safe) ---------------------------------------------------------

    def _call(self, action: Callable[[float], T], timeout_s: float = 10.0) -> T:
        if not self._running or threading.get_ident() == self._loop_thread:
            with self._lock:
                return action(self.time_s)
        future: Future[T] = Future()
        self._actions.put((action, future))
        return future.result(timeout=timeout_s)

    def _act(self, events: list[Event]) -> list[Event]:
        """Carry out what the events ask of the machine and hand them to the sinks."""
        self._physical(events)
        self._emit(events)
        return events

    def pause(self) -> list[Event]:
        """Pause the procedure (the timer stops; the machine keeps its setpoints)."""
        return self._call(lambda t: self._act(self.procedure.pause(t)))

    def resume(self) -> list[Event]:
        """Resume after a pause."""
        return self._call(lambda t: self._act(self.procedure.resume(t)))

    def abort(self, reason: str = "aborted by the operator") -> list[Event]:
        """Abort from any phase: heater off, pumps stopped; the run ends."""
        return self._call(lambda t: self._act(self.procedure.abort(t, reason)))

    def next_phase(self) -> list[Event]:
        """Ask for the next phase (refused with the reason if its guard is not met)."""

        def go(t: float) -> list[Event]:
            options = TRANSITIONS[self.procedure.phase]
            if not options:
                return self._act(self.procedure.request(self.procedure.phase, t))  # refused
            target = options[0]
            if Phase.RINSE in options and not self.procedure.config.rinse:
                target = Phase.COMPLETE
            return self._act(self.procedure.request(target, t))

        return self._call(go)

    def confirm_dose(self, drug: str | None = None) -> list[Event]:
        """Confirm the earliest due dose (of ``drug``): it goes into the reservoir now."""
        return self._call(lambda t: self._act(self.procedure.confirm_dose(t, drug)))

    def acknowledge(self, code: str | None = None, source: str | None = None) -> list[Event]:
        """Acknowledge alarms (all, or by code / source) and reset the supervisor's latched
        trips whose condition has cleared."""

        def ack(t: float) -> list[Event]:
            events = self.alarms.acknowledge(t, code, source)
            events += self.supervisor.reset(t, code, source)
            return self._act(events)

        return self._call(ack)

    def silence(self, duration_s: float | None = None) -> list[Event]:
        """Pause the audio of active alarms."""
        return self._call(lambda t: self._act(self.alarms.silence(t, duration_s)))

    def stop(self, reason: str = "stopped") -> None:
        """Ask the loop to end after the current tick (aborting the procedure if it runs)."""
        self._stop_reason = reason

    def report_condition(self, condition: AlarmCondition) -> None:
        """Hold an alarm condition from outside the loop (a failed recorder, say) from the next
        tick until :meth:`clear_condition`; any thread may call it."""
        with self._lock:
            self._external_conditions[condition.key] = condition

    def clear_condition(self, code: str, source: str = "") -> None:
        """End a condition held by :meth:`report_condition`."""
        with self._lock:
            self._external_conditions.pop((code, source), None)

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run the perfusion to its end (complete or aborted) and return the summary."""
        cfg = self.config
        limit_s = (
            cfg.max_run_s
            if cfg.max_run_s is not None
            else self.plan.duration_min * 60.0 + 3 * 3600.0
        )
        self._running, self._loop_thread = True, threading.get_ident()
        wall_start = time.perf_counter()
        try:
            while True:
                self._serve_actions(block_s=0.0)
                with self._lock:
                    self._guard_limits(limit_s)
                    sample = self.tick()
                    if self.finished:
                        if sample.phase != self.procedure.phase.value:
                            self.tick()  # ended by a sink during the tick: apply the final state
                        break
                    self._advance()
                self._pace(wall_start)
        finally:
            self._running = False
            self._wall_s = time.perf_counter() - wall_start
            self._serve_actions(block_s=0.0)
        return self.result()

    def start_background(self) -> threading.Thread:
        """Run in a daemon thread (web console); the result is :meth:`result` once finished."""
        thread = threading.Thread(target=self.run, name="hipec-runner", daemon=True)
        self._running = True  # actions queue from now on
        thread.start()
        return thread

    def blocking_trips(self) -> tuple[str, ...]:
        """Codes of the latched trips (in the order they latched) that stop the inflow
        (``STOP_INFLOW``, ``STOP_ALL``) while the procedure is in a phase that cannot progress
        without it (:data:`INFLOW_BOUND_PHASES`); empty when paused or ended."""
        procedure = self.procedure
        if procedure.paused or procedure.phase not in INFLOW_BOUND_PHASES:
            return ()
        checks = self.supervisor.config.checks
        codes = [
            code
            for code, _ in self.supervisor.trips
            if checks[code].action >= SafeAction.STOP_INFLOW
        ]
        return tuple(dict.fromkeys(codes))

    def _guard_limits(self, limit_s: float) -> None:
        now = self.time_s
        if self.finished:
            return
        blocking = self.blocking_trips()
        if not blocking:
            self._blocked_since_s = None
        elif self._blocked_since_s is None:
            self._blocked_since_s = now
        reason = None
        if self._stop_reason is not None:
            reason = self._stop_reason
        elif now - self._start_s >= limit_s:
            reason = f"run time limit of {limit_s / 60:g} min reached"
        elif (
            self.config.unattended
            and self._blocked_since_s is not None
            and now - self._blocked_since_s >= self.config.max_blocked_s - 1e-9
        ):
            # nobody can check the machine and reset the trip: waiting on only prolongs the
            # patient's exposure to an interrupted procedure; end it, still safe (abort: heater
            # off, pumps stopped and clamped)
            reason = (
                f"{' and '.join(blocking)} held the machine in its safe state for "
                f"{self.config.max_blocked_s / 60:g} min; an unattended run cannot recover"
            )
        elif (
            self.config.unattended
            and self.procedure.phase == Phase.HEAT
            and not self.procedure.paused
            and self.procedure.phases
            and now - self.procedure.phases[-1].start_s >= self.config.max_heat_s
        ):
            # the unattended operator does what a surgeon does when the target cannot be reached
            # within the safety margins: start the perfusion at the plateau
            why = f"target not reached after {self.config.max_heat_s / 60:g} min of heating"
            self._act(self.procedure.request(Phase.PERFUSE, now, override=why))
            return
        if reason is not None:
            self._outcome_reason = reason
            self._act(self.procedure.abort(now, reason))

    def _serve_actions(self, block_s: float) -> None:
        deadline = time.perf_counter() + block_s
        while True:
            remaining = deadline - time.perf_counter()
            try:
                action, future = (
                    self._actions.get(timeout=remaining)
                    if remaining > 0
                    else self._actions.get_nowait()
                )
            except queue.Empty:
                return
            with self._lock:
                try:
                    future.set_result(action(self.time_s))
                except Exception as error:  # handed to the caller's thread
                    future.set_exception(error)

    def _pace(self, wall_start: float) -> None:
        speed = self.config.speed
        if speed is None:
            return
        due = wall_start + (self.time_s - self._start_s) / speed
        self._serve_actions(block_s=max(due - time.perf_counter(), 0.0))

    def _advance(self) -> None:
        if self._simulated:
            self.device.advance(self.period_s)  # type: ignore[attr-defined]

    def tick(self) -> RunSample:
        """One control period at the device's present time (the loop calls this; tests may)."""
        device, dt = self.device, self.period_s
        reading = device.read()
        verdict = self.supervisor.check(reading, self._last)
        trusted = verdict.trusted_reading
        tick = self.procedure.advance(trusted)
        events = [*verdict.events, *tick.events]
        self._physical(tick.events)
        setpoints = self.procedure.setpoints()  # after the operator's actions of this tick
        heater = self.controller.update(trusted, setpoints.temperature, dt)
        pumps = self.balance.update(trusted, setpoints.flow, dt)
        command = compose_command(heater, pumps)
        if self.procedure.phase == Phase.ABORTED:
            command = Command(0.0, 0.0, 0.0, inflow_clamp_open=False, outflow_clamp_open=False)
        command = self.supervisor.constrain(command)
        device.apply(command)
        self._last = command
        conditions = [
            *verdict.conditions,
            *pumps.conditions,
            *tick.conditions,
            *fallback_conditions(heater),
        ]
        with self._lock:
            conditions += self._external_conditions.values()
        events += heater.events
        events += self.alarms.update(reading.time_s, conditions)
        self._emit(events)
        truth = self._machine.ground_truth() if self._machine is not None else None
        if truth is not None:
            self._truth.append(truth)
            self._phases_at.append(self.procedure.phase.value)
        sample = RunSample(
            reading=reading,
            command=command,
            phase=self.procedure.phase.value,
            paused=self.procedure.paused,
            timer_s=self.procedure.timer_s,
            remaining_s=max(self.procedure.duration_s - self.procedure.timer_s, 0.0),
            target_c=setpoints.temperature.target_c,
            target_site=setpoints.temperature.target_site,
            inflow_setpoint_c=heater.inflow_setpoint_c,
            next_dose=_next_dose(self.procedure.doses),
            alarms=tuple((a.code, a.priority.label, a.source) for a in self.alarms.active),
            safe_action=verdict.safe_action.name.lower(),
            truth=truth,
        )
        self._sample = sample
        for sink in self.sinks:
            sink.on_sample(sample)
        return sample

    # -- the operator at the machine ------------------------------------------------------------

    def _physical(self, events: Sequence[Event]) -> None:
        """What people do at the machine when the procedure says so (simulated machine only); an
        abort stops heater and pumps at once, on any machine."""
        if any(e.kind == "procedure.aborted" for e in events):
            stop = Command(0.0, 0.0, 0.0, inflow_clamp_open=False, outflow_clamp_open=False)
            self.device.apply(stop)
            self._last = stop
        device = self._machine
        if device is None:
            return
        for event in events:
            if event.kind == "phase.changed" and event.code == Phase.PRIME.value:
                device.load_reservoir(max(self.plan.carrier_volume_l - device.circuit_volume_l, 0))
            elif event.kind == "dose.confirmed":
                device.add_drug(str(event.data["drug"]), float(event.data["mg"]))
            elif event.kind == "phase.changed" and event.code == Phase.DRAIN.value:
                self._snapshot = device.snapshot()  # the end of perfusion
            elif event.kind == "phase.changed" and event.code == Phase.RINSE.value:
                volume = self.config.rinse_volume_l
                device.rinse_abdomen(self.procedure.fill_volume_l if volume is None else volume)
            elif (
                event.kind == "phase.changed"
                and event.code == Phase.ABORTED.value
                and self._snapshot is None
            ):
                self._snapshot = device.snapshot()

    def _emit(self, events: Sequence[Event]) -> None:
        for event in events:
            self.events.append(event)
            for sink in self.sinks:
                sink.on_event(event)

    # -- summary --------------------------------------------------------------------------------

    def result(self) -> RunResult:
        """The run summary so far (complete once :meth:`run` has returned)."""
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None and isinstance(self.device, SimulatedPerfusionMachine):
                snapshot = self.device.snapshot()
            return build_result(
                plan=self.plan,
                procedure=self.procedure,
                alarms=self.alarms,
                events=tuple(self.events),
                start_s=self._start_s,
                truth=tuple(self._truth),
                phases_at=tuple(self._phases_at),
                snapshot=snapshot,
                controller=self.config.controller,
                wall_time_s=self._wall_s,
                reason=self._outcome_reason,
                drugs=self.device.drugs
                if isinstance(self.device, SimulatedPerfusionMachine)
                else (),
            )


def _next_dose(doses: Sequence[DoseRecord]) -> tuple[str, float, float] | None:
    for dose in doses:
        if dose.given_s is None and not dose.missed:
            return dose.drug, dose.mg, dose.planned_min
    return None


def audible_priority_label(runner: PerfusionRunner) -> str | None:
    """The priority label the alarm audio should have now (None: silent)."""
    priority: AlarmPriority | None = runner.alarms.audible_priority(runner.time_s)
    return None if priority is None else priority.label
