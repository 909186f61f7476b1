"""Live perfusions of the web console: a run manager and a broadcast to WebSocket clients.

:class:`LiveRuns` starts simulated perfusions (at most ``max_runs`` at once, one per case), each
in its own thread (:meth:`hipec.runner.PerfusionRunner.run`), recorded with its case through
:class:`hipec.runner.recording.StoreSink`. A :class:`LiveRun` is also a sink of its runner: every
sample and event becomes one JSON message with a sequence number, handed to the asyncio loop of
the server with ``loop.call_soon_threadsafe`` and put into one queue per subscriber. Nothing the
runner thread does can wait on a client.

Messages (JSON objects; ``seq`` counts every message of a run from 1, ``wall`` is the server's
clock [s since the epoch] when the sink got it, ``t`` the device time [s])::

    {"type": "hello", "run": {...}, "last_seq": n, "chart": [[t_min, inflow, outflow, reservoir,
     core, cavity_mean, cavity_max], ...], "events": [event, ...], "sample": sample | null,
     "end": end | null}                         first message of every connection
    {"type": "sample", "seq", "wall", "t", "phase", "paused", "timer_s", "remaining_s",
     "target_c", "target_site", "inflow_setpoint_c", "temperatures_c": {"inflow", "outflow",
     "reservoir", "core", "cavity": [..]}, "probe_regions": [..], "flows_l_min": {"inflow",
     "outflow"}, "pressures_mmhg": {"line", "abdominal"}, "volumes_l": {"reservoir",
     "abdomen_model"}, "heater_w", "power", "air_in_line", "next_dose": {"drug", "mg",
     "planned_min"} | null, "alarms": [{"code", "priority", "source"}], "audible": priority | null,
     "safe_action", "regions_model_c": [13] | null}
    {"type": "event", "seq", "wall", "t", "kind", "code", "message", "data": {...}}
    {"type": "skipped", "count": n}      samples left out for this (slow) client before the next
    {"type": "end", "seq", "wall", "status", "reason", "result": {...}, "report_url"}

Flow control: a client that falls behind has its *samples* thinned (at most
:data:`MAX_PENDING_SAMPLES` wait in its queue; the others are left out and counted in a
``skipped`` message); *events* and the end are never left out. A client that cannot take even
those (:data:`MAX_PENDING_MESSAGES` waiting) is disconnected (close code 1013); when it connects
again its ``hello`` carries every event so far. Runs faster than :data:`MAX_PUBLISH_HZ` samples per
second of wall time (accelerated simulations) publish samples at that rate; events always.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from hipec.control.events import Event
from hipec.devices.faults import FAULT_NAMES, Fault
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen, plan_perfusion
from hipec.protocols.plan import PerfusionPlan
from hipec.runner import PerfusionRunner, RunConfig, RunSample, simulated_run, simulation_plan
from hipec.runner.engine import audible_priority_label
from hipec.runner.recording import StoreSink, json_ready
from hipec.store.recorder import RunRecorder

#: Perfusions that may run at once in one console (each is a thread stepping the twin).
DEFAULT_MAX_RUNS = 4
#: Finished runs kept in memory for their live page (the record stays in the database).
KEEP_FINISHED = 20
#: Accelerated clock factors a user may choose (None: as fast as the machine goes).
MIN_SPEED, MAX_SPEED = 1.0, 60.0
#: Faults a training run may carry.
MAX_FAULTS = 5
#: Samples per second of wall time published to clients at most (events: all of them).
MAX_PUBLISH_HZ = 20.0
#: Samples that may wait for one client before its samples are thinned.
MAX_PENDING_SAMPLES = 50
#: Messages that may wait for one client before it is disconnected.
MAX_PENDING_MESSAGES = 5000
#: Chart points kept for a client that joins late; thinned by half beyond this.
MAX_CHART_POINTS = 2400


def _number(value: float) -> float | None:
    """A float fit for JSON (nan and inf become None), rounded to what a display needs."""
    return round(value, 3) if math.isfinite(value) else None


def sample_message(sample: RunSample, seq: int, wall: float) -> dict[str, Any]:
    """The ``sample`` message of one runner sample (see the module docstring)."""
    reading, truth = sample.reading, sample.truth
    dose = sample.next_dose
    return {
        "type": "sample",
        "seq": seq,
        "wall": wall,
        "t": _number(reading.time_s),
        "phase": sample.phase,
        "paused": sample.paused,
        "timer_s": _number(sample.timer_s),
        "remaining_s": _number(sample.remaining_s),
        "target_c": _number(sample.target_c),
        "target_site": sample.target_site,
        "inflow_setpoint_c": _number(sample.inflow_setpoint_c),
        "temperatures_c": {
            "inflow": _number(reading.inflow_c),
            "outflow": _number(reading.outflow_c),
            "reservoir": _number(reading.reservoir_c),
            "core": _number(reading.core_c),
            "cavity": [_number(v) for v in reading.cavity_c],
        },
        "probe_regions": list(reading.cavity_probe_regions),
        "flows_l_min": {
            "inflow": _number(reading.inflow_l_per_min),
            "outflow": _number(reading.outflow_l_per_min),
        },
        "pressures_mmhg": {
            "line": _number(reading.line_pressure_mmhg),
            "abdominal": _number(reading.abdominal_pressure_mmhg),
        },
        "volumes_l": {
            "reservoir": _number(reading.reservoir_volume_l),
            "abdomen_model": _number(truth.abdominal_volume_l) if truth else None,
        },
        "heater_w": _number(reading.heater_power_w),
        "power": reading.power,
        "air_in_line": reading.air_in_line,
        "next_dose": (
            {"drug": dose[0], "mg": _number(dose[1]), "planned_min": _number(dose[2])}
            if dose
            else None
        ),
        "alarms": [
            {"code": code, "priority": priority, "source": source}
            for code, priority, source in sample.alarms
        ],
        "audible": None,
        "safe_action": sample.safe_action,
        "regions_model_c": [_number(v) for v in truth.region_c] if truth else None,
    }


def event_message(event: Event, seq: int, wall: float) -> dict[str, Any]:
    """The ``event`` message of one runner event."""
    return {
        "type": "event",
        "seq": seq,
        "wall": wall,
        "t": _number(event.time_s),
        "kind": event.kind,
        "code": event.code,
        "message": event.message,
        "data": json_ready(dict(event.data)),
    }


def speed_label(speed: float | None) -> str:
    """How a clock factor is shown: ``"x10"``, ``"real time"``, ``"as fast as possible"``."""
    if speed is None:
        return "as fast as possible"
    return "real time" if speed == 1 else f"x{speed:g}"


def _chart_point(message: dict[str, Any]) -> list[float | None]:
    temps = message["temperatures_c"]
    cavity = [v for v in temps["cavity"] if v is not None]
    t = message["t"]
    return [
        None if t is None else round(t / 60.0, 4),
        temps["inflow"],
        temps["outflow"],
        temps["reservoir"],
        temps["core"],
        round(sum(cavity) / len(cavity), 3) if cavity else None,
        max(cavity) if cavity else None,
    ]


class Subscriber:
    """One WebSocket client's queue (used on the event loop only).

    Parameters
    ----------
    after_seq
        Messages up to this sequence number are in the client's ``hello`` already.
    max_pending_samples, max_pending_messages
        Flow-control limits (see the module docstring).
    """

    def __init__(
        self,
        after_seq: int,
        *,
        max_pending_samples: int = MAX_PENDING_SAMPLES,
        max_pending_messages: int = MAX_PENDING_MESSAGES,
    ) -> None:
        self.after_seq = after_seq
        self.max_pending_samples = max_pending_samples
        self.max_pending_messages = max_pending_messages
        self.queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        self.pending_samples = 0
        self.skipped = 0
        self.skipped_total = 0
        self.overflowed = False

    def offer(self, seq: int, kind: str, text: str) -> None:
        """Queue one message, thinning samples and never dropping anything else."""
        if seq <= self.after_seq or self.overflowed:
            return
        if kind == "sample" and self.pending_samples >= self.max_pending_samples:
            self.skipped += 1
            self.skipped_total += 1
            return
        if self.queue.qsize() >= self.max_pending_messages:
            self.overflowed = True
            self.queue.put_nowait(None)  # the writer closes the connection
            return
        if kind == "sample":
            if self.skipped:
                note = json.dumps({"type": "skipped", "count": self.skipped})
                self.queue.put_nowait(("skipped", note))
                self.skipped = 0
            self.pending_samples += 1
        self.queue.put_nowait((kind, text))

    async def next_item(self) -> tuple[str, str] | None:
        """The next ``(kind, text)`` to send; None when the client must be disconnected."""
        item = await self.queue.get()
        if item is not None and item[0] == "sample":
            self.pending_samples -= 1
        return item


@dataclass(frozen=True)
class StartRequest:
    """What a user asks for when starting a simulated perfusion.

    Attributes
    ----------
    case_number
        The case the perfusion is recorded with.
    regimen, technique
        Regimen id and technique (None: the regimen's).
    speed
        Clock factor 1-60, or None: as fast as possible.
    unattended
        Phases advance and doses are confirmed automatically.
    duration_min
        Training: a shorter (or longer) perfusion than the regimen's [min], 1-240; None: the
        regimen's.
    faults
        Faults injected for training.
    seed
        Seed of the machine's sensor noise.
    actor
        Who starts it (audit).
    """

    case_number: str
    regimen: str
    technique: str | None
    speed: float | None
    unattended: bool
    duration_min: float | None
    faults: tuple[Fault, ...]
    seed: int
    actor: str

    def __post_init__(self) -> None:
        if self.speed is not None and not (
            math.isfinite(self.speed) and MIN_SPEED <= self.speed <= MAX_SPEED
        ):
            raise InvalidInputError(
                "speed", f"must be {MIN_SPEED:g}-{MAX_SPEED:g} or 'max', got {self.speed:g}"
            )
        if len(self.faults) > MAX_FAULTS:
            raise InvalidInputError(
                "faults", f"at most {MAX_FAULTS} faults per run, got {len(self.faults)}"
            )
        if self.technique is not None and self.technique not in ("open", "closed"):
            raise InvalidInputError("technique", f"must be open or closed, got {self.technique!r}")


def parse_fault(name: str, onset_min: float, magnitude: float | None = None) -> Fault:
    """A :class:`Fault` from the form's fields (onset in minutes of device time).

    Raises
    ------
    InvalidInputError
        Field ``fault`` for an unknown name, an onset outside 0-240 min or a bad magnitude.
    """
    if name not in FAULT_NAMES:
        raise InvalidInputError("fault", f"must be one of {', '.join(FAULT_NAMES)}, got {name!r}")
    if not (math.isfinite(onset_min) and 0.0 <= onset_min <= 240.0):
        raise InvalidInputError("fault", f"onset must be 0-240 min, got {onset_min:g}")
    return Fault(name, onset_min * 60.0, magnitude)


def _case_body(session: Any, case_number: str) -> tuple[float, float]:
    from hipec.store.repository import get_case

    patient = get_case(session, case_number)
    if patient.height_cm is None or patient.weight_kg is None:
        raise InvalidInputError(
            "case", f"case {case_number} has no height or weight; record them before a perfusion"
        )
    return float(patient.height_cm), float(patient.weight_kg)


class LiveRun:
    """One perfusion running (or run) in the console; the runner's live sink.

    Samples and events arrive on the runner's thread (:meth:`on_sample`, :meth:`on_event`);
    subscribers live on the event loop (:meth:`subscribe`).
    """

    def __init__(
        self,
        request: StartRequest,
        plan: PerfusionPlan,
        regimen_name: str,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.request = request
        self.plan = plan
        self.regimen_name = regimen_name
        self.started_at = dt.datetime.now(dt.UTC)
        self.run_id = 0
        self.status = "starting"
        self.reason: str | None = None
        self.result: dict[str, Any] | None = None
        self.runner: PerfusionRunner | None = None
        self.thread: threading.Thread | None = None
        self._loop = loop
        self._lock = threading.Lock()
        self._seq = 0
        self._events: list[dict[str, Any]] = []
        self._chart: list[list[float | None]] = []
        self._chart_stride = 1
        self._chart_count = 0
        self._last_sample: dict[str, Any] | None = None
        self._end: dict[str, Any] | None = None
        self._last_publish_wall = -math.inf
        self._last_publish_device_s = -math.inf
        # at x10 and a 1 s period every sample goes out; at x60 one in three
        self._min_device_interval_s = (request.speed or 1.0) / MAX_PUBLISH_HZ - 1e-6
        self._subscribers: set[Subscriber] = set()
        self.finished = threading.Event()

    # -- description ----------------------------------------------------------------------------

    @property
    def case_number(self) -> str:
        """The case the run belongs to."""
        return self.request.case_number

    @property
    def running(self) -> bool:
        """The perfusion has not ended."""
        return not self.finished.is_set()

    def describe(self) -> dict[str, Any]:
        """What the run is (for lists, the page and the ``hello`` message)."""
        request, plan = self.request, self.plan
        return {
            "run_id": self.run_id,
            "case_number": request.case_number,
            "regimen": request.regimen,
            "regimen_name": self.regimen_name,
            "technique": plan.technique,
            "speed": request.speed,
            "speed_label": speed_label(request.speed),
            "unattended": request.unattended,
            "duration_min": plan.duration_min,
            "target_c": plan.target_temperature_c,
            "target_site": plan.target_site,
            "faults": [
                {"name": f.name, "onset_min": round(f.onset_s / 60.0, 2), "magnitude": f.magnitude}
                for f in request.faults
            ],
            "doses": [
                {"drug": d.drug, "mg": round(d.mg, 1), "at_min": d.at_min} for d in plan.doses
            ],
            "started_by": request.actor,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "status": self.status,
            "reason": self.reason,
            "url": f"/cases/{request.case_number}/live?run={self.run_id}",
            "websocket": f"/ws/runs/{self.run_id}",
            "report_url": f"/cases/{request.case_number}/report?run={self.run_id}",
        }

    # -- the sink (runner thread) ---------------------------------------------------------------

    def on_sample(self, sample: RunSample) -> None:
        """Publish a sample (at most :data:`MAX_PUBLISH_HZ` per second of wall time)."""
        wall = time.time()
        device_s = sample.reading.time_s
        if self.request.speed is None:  # as fast as possible: thin by wall time
            if wall - self._last_publish_wall < 1.0 / MAX_PUBLISH_HZ:
                return
        elif device_s - self._last_publish_device_s < self._min_device_interval_s:
            return  # accelerated: thin by device time, so that thinning is regular
        self._last_publish_wall, self._last_publish_device_s = wall, device_s
        runner = self.runner
        with self._lock:
            self._seq += 1
            message = sample_message(sample, self._seq, wall)
            if runner is not None:
                message["audible"] = audible_priority_label(runner)
            self._last_sample = message
            self._add_chart_point(_chart_point(message))
            text = json.dumps(message, separators=(",", ":"))
            self._deliver_threadsafe(self._seq, "sample", text)

    def on_event(self, event: Event) -> None:
        """Publish an event (never thinned)."""
        with self._lock:
            self._seq += 1
            message = event_message(event, self._seq, time.time())
            self._events.append(message)
            text = json.dumps(message, separators=(",", ":"))
            self._deliver_threadsafe(self._seq, "event", text)

    def _add_chart_point(self, point: list[float | None]) -> None:
        self._chart_count += 1
        if self._chart_count % self._chart_stride:
            return
        self._chart.append(point)
        if len(self._chart) > MAX_CHART_POINTS:
            self._chart = self._chart[::2]
            self._chart_stride *= 2

    def _publish_end(self) -> None:
        with self._lock:
            self._seq += 1
            self._end = {
                "type": "end",
                "seq": self._seq,
                "wall": time.time(),
                "status": self.status,
                "reason": self.reason,
                "result": self.result,
                "report_url": f"/cases/{self.case_number}/report?run={self.run_id}",
            }
            text = json.dumps(self._end, separators=(",", ":"))
            self._deliver_threadsafe(self._seq, "end", text)

    def _deliver_threadsafe(self, seq: int, kind: str, text: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # the loop may close between the check and the call (shutdown)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._deliver, seq, kind, text)

    def _deliver(self, seq: int, kind: str, text: str) -> None:
        for subscriber in list(self._subscribers):
            subscriber.offer(seq, kind, text)

    # -- subscribers (event loop) ---------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The ``hello`` message: what the run is, its chart so far, every event, the latest
        sample and (once ended) the end."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "run": self.describe(),
            "last_seq": self._seq,
            "chart": list(self._chart),
            "events": list(self._events),
            "sample": self._last_sample,
            "end": self._end,
        }

    def subscribe(self) -> tuple[Subscriber, dict[str, Any]]:
        """A new subscriber and its ``hello`` (call on the event loop; nothing is lost or
        repeated between the two)."""
        with self._lock:
            hello = self._snapshot()
            subscriber = Subscriber(hello["last_seq"])
            self._subscribers.add(subscriber)
        return subscriber, hello

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber (its connection closed)."""
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        """Clients connected now."""
        return len(self._subscribers)

    # -- operator actions (any thread; they wait for the runner's loop) -------------------------

    def act(self, action: str, **arguments: Any) -> list[dict[str, Any]]:
        """Carry out an operator action; the events it caused.

        Raises
        ------
        InvalidInputError
            Field ``run`` if the perfusion has ended; the procedure's own refusals (``phase``,
            ``dose``) as they come.
        """
        runner = self.runner
        if runner is None or not self.running:
            raise InvalidInputError("run", f"run {self.run_id} has ended ({self.status})")
        calls: dict[str, Callable[[], list[Event]]] = {
            "next-phase": runner.next_phase,
            "pause": runner.pause,
            "resume": runner.resume,
            "abort": lambda: runner.abort(arguments.get("reason") or "aborted by the operator"),
            "confirm-dose": lambda: runner.confirm_dose(arguments.get("drug")),
            "acknowledge": lambda: runner.acknowledge(
                arguments.get("code"), arguments.get("source")
            ),
            "silence": runner.silence,
        }
        if action not in calls:
            raise InvalidInputError("action", f"must be one of {', '.join(calls)}, got {action!r}")
        events = calls[action]()
        return [event_message(e, 0, time.time()) for e in events]


@dataclass
class LiveRuns:
    """The console's perfusions (see the module docstring).

    Parameters
    ----------
    engine
        The case database the runs are recorded in.
    max_runs
        Perfusions running at once.
    """

    engine: Engine
    max_runs: int = DEFAULT_MAX_RUNS
    loop: asyncio.AbstractEventLoop | None = None
    on_finish: list[Callable[[LiveRun], None]] = field(default_factory=list)
    _runs: dict[int, LiveRun] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use ``loop`` (the server's) for the broadcasts."""
        self.loop = loop

    def get(self, run_id: int) -> LiveRun | None:
        """A run kept in memory, by id."""
        with self._lock:
            return self._runs.get(run_id)

    def for_case(self, case_number: str) -> LiveRun | None:
        """The case's running perfusion, else its latest one kept in memory."""
        with self._lock:
            runs = [r for r in self._runs.values() if r.case_number == case_number]
        running = [r for r in runs if r.running]
        if running:
            return running[0]
        return max(runs, key=lambda r: r.run_id) if runs else None

    def all(self) -> list[LiveRun]:
        """Every run kept, newest first."""
        with self._lock:
            return sorted(self._runs.values(), key=lambda r: r.run_id, reverse=True)

    def running(self) -> list[LiveRun]:
        """The perfusions running now."""
        return [r for r in self.all() if r.running]

    def start(self, request: StartRequest) -> LiveRun:
        """Plan, record and start a simulated perfusion in its own thread.

        Raises
        ------
        NotFoundError
            Unknown case or regimen.
        InvalidInputError
            Field ``run`` if the case already has a perfusion running or ``max_runs`` are
            running; ``case`` without height and weight; the plan's own refusals.
        """
        from hipec.store.db import transaction

        regimen = get_regimen(request.regimen)
        with transaction(self.engine) as session:
            height_cm, weight_kg = _case_body(session, request.case_number)
        plan = plan_perfusion(
            regimen, height_cm=height_cm, weight_kg=weight_kg, technique=request.technique
        )
        plan = simulation_plan(plan, duration_min=request.duration_min)
        config = RunConfig(controller="cascade", speed=request.speed, unattended=request.unattended)
        live = LiveRun(request, plan, regimen.name, self.loop)
        with self._lock:
            running = [r for r in self._runs.values() if r.running]
            if any(r.case_number == request.case_number for r in running):
                raise InvalidInputError(
                    "run", f"case {request.case_number} already has a perfusion running"
                )
            if len(running) >= self.max_runs:
                raise InvalidInputError(
                    "run",
                    f"at most {self.max_runs} perfusions may run at once; "
                    f"{len(running)} are running",
                )
            runner = simulated_run(
                plan, config, faults=request.faults, seed=request.seed, sinks=[live]
            )
            live.runner = runner
            # an accelerated run commits about once a second of wall time, not of device time
            commit_s = 60.0 if request.speed is None else max(1.0, request.speed)
            sink = StoreSink(
                RunRecorder(self.engine, actor=request.actor, commit_interval_s=commit_s)
            )
            live.run_id = sink.start(runner, request.case_number, regimen=regimen)
            live.status = "running"
            self._runs[live.run_id] = live
            self._forget_old()
        thread = threading.Thread(
            target=self._work, args=(live, sink), name=f"hipec-run-{live.run_id}", daemon=True
        )
        live.thread = thread
        thread.start()
        return live

    def _work(self, live: LiveRun, sink: StoreSink) -> None:
        assert live.runner is not None
        try:
            # the console's database must never hold up the loop that drives the machine
            result = sink.run(live.runner, background=True)
            live.status = result.outcome
            live.reason = result.reason
            live.result = json_ready(result.to_dict())
        except Exception as exc:  # the record says why; the console keeps serving
            live.status = "failed"
            live.reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            live._publish_end()
            live.finished.set()
            for callback in list(self.on_finish):
                # a follow-up (the demo's next run) that fails must not end the thread noisily
                with contextlib.suppress(Exception):
                    callback(live)

    def _forget_old(self) -> None:
        finished = sorted((r for r in self._runs.values() if not r.running), key=lambda r: r.run_id)
        for old in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._runs[old.run_id]

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop every running perfusion (recorded as aborted) and wait for their threads."""
        self.on_finish.clear()
        runs = self.running()
        for run in runs:
            if run.runner is not None:
                run.runner.stop("the console was stopped")
        deadline = time.monotonic() + timeout_s
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, deadline - time.monotonic()))


def choose_demo_case(engine: Engine, exclude: Sequence[str] = ()) -> str | None:
    """A synthetic case with height and weight for the demo perfusion (None if there is none)."""
    from sqlalchemy import select

    from hipec.store.db import transaction
    from hipec.store.models import Patient

    with transaction(engine) as session:
        numbers = session.scalars(
            select(Patient.case_number)
            .where(Patient.synthetic)
            .where(Patient.height_cm.is_not(None), Patient.weight_kg.is_not(None))
            .order_by(Patient.case_number)
        ).all()
    for number in numbers:
        if number not in exclude:
            return number
    return numbers[0] if numbers else None


#: The demo perfusion: Dutch MMC at x10 (a 90 min perfusion in about 10 min), unattended.
DEMO_REGIMEN = "dutch-mmc"
DEMO_SPEED = 10.0


def start_demo_perfusion(runs: LiveRuns, *, repeat: bool = True) -> LiveRun | None:
    """Start the demo's perfusion on a synthetic case; with ``repeat``, a new one starts on the
    next case whenever the last one ends, so the console always has something live."""
    exclude = [r.case_number for r in runs.all()]
    case_number = choose_demo_case(runs.engine, exclude)
    if case_number is None:
        return None
    live = runs.start(
        StartRequest(
            case_number=case_number,
            regimen=DEMO_REGIMEN,
            technique=None,
            speed=DEMO_SPEED,
            unattended=True,
            duration_min=None,
            faults=(),
            seed=0,
            actor="hipec-demo",
        )
    )
    if repeat and not runs.on_finish:

        def again(ended: LiveRun) -> None:
            if ended.request.actor == "hipec-demo" and not runs.running():
                start_demo_perfusion(runs, repeat=False)

        runs.on_finish.append(again)
    return live


__all__ = [
    "DEFAULT_MAX_RUNS",
    "DEMO_SPEED",
    "MAX_PENDING_MESSAGES",
    "MAX_PENDING_SAMPLES",
    "MAX_PUBLISH_HZ",
    "LiveRun",
    "LiveRuns",
    "StartRequest",
    "Subscriber",
    "event_message",
    "parse_fault",
    "sample_message",
    "start_demo_perfusion",
]
