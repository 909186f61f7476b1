"""Record a perfusion into the case database while it runs: the runner's store sink.

:class:`StoreSink` is a :class:`~hipec.runner.RunSink` that writes one run through
:class:`hipec.store.recorder.RunRecorder`:

- **samples** at 1 Hz of device time: the first sample of every whole second since the first
  sample (a control period under 1 s is thinned out; a longer one stores every sample);
- **every event** as it happens (``run_events``: kind, message, and ``data`` = the event's data plus
  its ``code``; a ``phase.changed`` event always carries ``data["to"]``, the phase entered);
- **alarms**: ``alarm.raised`` opens a ``run_alarms`` row, ``alarm.acknowledged`` and
  ``alarm.cleared`` fill its times (alarms are matched by code and source, as the alarm manager
  keys them);
- **doses**: the plan's doses as planned at :meth:`StoreSink.start`, each ``dose.confirmed`` as
  given (``dose.missed`` stays an event: the planned row keeps no given amount);
- at the end, **status** ``completed`` or ``aborted`` with the reason, the perfusion minutes of the
  runner's timer, and the **summary** of :func:`run_summary` (for a simulated machine issue 3's
  ``simulation_report``: per-region thermal figures and per-drug exposure).

Durability is the recorder's: a sample is committed once the uncommitted ones span
``commit_interval_s`` of device time (1 s by default), an event, alarm or dose at once. A process
killed mid-run leaves every committed row intact and the run ``running``; the next command that
opens the store marks it ``interrupted`` (:func:`hipec.store.recorder.mark_interrupted_runs`).

On a paced clock (the console's live runs, ``hipec run`` without ``--fast``) the sink writes on a
background thread (``StoreSink.run(..., background=True)``, :class:`hipec.runner.sinks.QueuedSink`):
the loop that drives the heater and pumps never waits for the database, and a database lost mid-run
ends the recording, not the perfusion.

>>> from hipec.protocols import get_regimen, plan_perfusion
>>> from hipec.runner import simulated_run
>>> from hipec.runner.recording import record_run
>>> regimen = get_regimen("dutch-mmc")
>>> runner = simulated_run(plan_perfusion(regimen, height_cm=170, weight_kg=70))
>>> recorded = record_run(runner, engine, "C-1", regimen=regimen)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import enum
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hipec.control.alarms import AlarmCondition
from hipec.control.events import Event
from hipec.errors import HipecError, InvalidInputError
from hipec.protocols.plan import PerfusionPlan
from hipec.protocols.schema import Regimen
from hipec.runner.engine import PerfusionRunner, RunSample, RunSink
from hipec.runner.result import RunResult, simulation_report
from hipec.runner.sinks import QueuedSink
from hipec.store.db import DatabaseUnavailableError
from hipec.store.recorder import DEFAULT_COMMIT_INTERVAL_S, RecorderStateError, RunRecorder
from hipec.store.vocabulary import ALARM_PRIORITIES

#: Device time between two stored samples [s]: the issue's 1 Hz.
SAMPLE_INTERVAL_S = 1.0
# a sample whose time lands a rounding error short of the next whole second still opens it
_SLOT_TOLERANCE = 1e-9


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON: non-finite numbers become None, numpy scalars Python numbers,
    tuples lists, enums their value, anything else its text (PostgreSQL's JSON has no NaN)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, enum.Enum):
        return json_ready(value.value)
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_ready(item) for item in value]
    return str(value)


def _minutes(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 2)


def run_summary(result: RunResult, plan: PerfusionPlan) -> dict[str, Any]:
    """The ``summary`` stored with a run: what :mod:`hipec.reports.report` reads.

    A simulated run gets :func:`~hipec.runner.result.simulation_report` (``thermal`` with the 13
    ``regions``, ``drugs`` by generic name, ``phases``, ``alarms``; the twin's true state, so the
    figures of unprobed regions are model estimates) plus ``doses``, ``reason``, ``timer_start_min``
    and ``perfusion_end_min``; ``source`` says which. A run on a real machine (no trace) gets the
    run figures of :meth:`RunResult.to_dict` only.
    """
    figures = result.to_dict()
    summary: dict[str, Any] = {
        "protocol": result.protocol,
        "controller": result.controller,
        "outcome": result.outcome,
        "reason": result.reason,
        "target_c": result.target_c,
        "target_site": result.target_site,
        "timer_start_min": _minutes(result.timer_start_min),
        "perfusion_end_min": _minutes(result.perfusion_end_min),
        "phases": figures["phases"],
        "alarms": figures["alarms"],
        "doses": figures["doses"],
    }
    if result.trace is not None and result.trace.time_s.size:
        summary.update(simulation_report(result, plan))
        summary["source"] = "simulation: the twin's true state (unprobed regions are estimates)"
    else:
        summary["thermal"] = {
            key: figures[key]
            for key in (
                "time_to_target_min",
                "overshoot_c",
                "time_in_range_fraction",
                "max_region_c",
                "max_inflow_c",
                "core_max_c",
            )
        }
        summary["source"] = "device"
    result_json = json_ready(summary)
    assert isinstance(result_json, dict)
    return result_json


def _recording_failed(exc: BaseException) -> AlarmCondition:
    text = str(exc).strip()
    first = text.splitlines()[0][:200] if text else type(exc).__name__
    return AlarmCondition("RECORDING_FAILED", source="store", message=first)


def _database_error(
    run_id: int | None, exc: DBAPIError, result: RunResult | None = None
) -> DatabaseUnavailableError:
    text = str(exc.orig or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    which = f"run {run_id}" if run_id is not None else "the run"
    went_on = f"the perfusion itself went on ({result.outcome}); " if result is not None else ""
    return DatabaseUnavailableError(
        f"database: lost while recording {which} ({first}); {went_on}what was committed is kept "
        "and the run is marked interrupted at the next start"
    )


class StoreSink:
    """Stream one run into the case database (see the module docstring).

    Parameters
    ----------
    recorder
        A recorder not yet started; :meth:`start` starts it.
    sample_interval_s
        Device time between stored samples [s] (1 s: 1 Hz).
    """

    def __init__(self, recorder: RunRecorder, *, sample_interval_s: float = SAMPLE_INTERVAL_S):
        if not (math.isfinite(sample_interval_s) and sample_interval_s > 0):
            raise InvalidInputError(
                "sample_interval_s", f"must be more than 0 s, got {sample_interval_s}"
            )
        self.recorder = recorder
        self.sample_interval_s = sample_interval_s
        self._plan: PerfusionPlan | None = None
        self._origin_s: float | None = None
        self._last_slot = -1
        self._stored = 0
        self._last_stored_s: float | None = None
        self._timer_s = 0.0
        self._timer_started = False
        self._alarms: dict[tuple[str, str], int] = {}
        self._closed = False
        #: Samples a background writer had to drop (the database stalled too long), if any.
        self.samples_dropped = 0

    # -- reading --------------------------------------------------------------------------------

    @property
    def run_id(self) -> int:
        """The id of the run in the database (after :meth:`start`)."""
        return self.recorder.run_id

    @property
    def samples_stored(self) -> int:
        """Samples handed to the recorder (committed, or waiting under ``commit_interval_s``)."""
        return self._stored

    @property
    def last_sample_s(self) -> float | None:
        """Device time [s] of the last sample handed to the recorder."""
        return self._last_stored_s

    @property
    def closed(self) -> bool:
        """The run has been closed (completed or aborted)."""
        return self._closed

    # -- life cycle -----------------------------------------------------------------------------

    def start(
        self,
        runner: PerfusionRunner,
        case_number: str,
        *,
        regimen: Regimen | None = None,
        procedure_id: int | None = None,
    ) -> int:
        """Create the run (status ``running``) for ``case_number`` with the runner's plan, its
        planned doses, the machine's name and probe regions, and attach this sink to the runner.

        Returns
        -------
        int
            The run id.

        Raises
        ------
        NotFoundError
            Field ``case`` for an unknown case.
        """
        device = runner.device
        run_id = self.recorder.start(
            case_number,
            cavity_probe_regions=device.read().cavity_probe_regions,
            regimen=regimen,
            plan=runner.plan,
            device_name=device.info.name,
            procedure_id=procedure_id,
        )
        self._plan = runner.plan
        if self not in runner.sinks:
            runner.sinks.append(self)
        return run_id

    def run(self, runner: PerfusionRunner, *, background: bool = False) -> RunResult:
        """Run ``runner`` to its end and close the run with its result (:meth:`finish`).

        If the loop stops on an exception (or Ctrl-C without a handler), the run is closed as
        ``aborted`` with the reason when the database still answers, and the exception goes on.

        With ``background`` the database is written on a writer thread
        (:class:`~hipec.runner.sinks.QueuedSink`): the control loop never waits for the database,
        and a database that fails mid-run does not stop the perfusion; the error is raised once
        the runner has finished. Use it whenever the loop drives a machine in real time.

        Raises
        ------
        DatabaseUnavailableError
            The database failed during the run (the run is left ``running``; the next start marks
            it ``interrupted``).
        """
        writer = (
            QueuedSink(
                self,
                name=f"hipec-record-{self.run_id}",
                on_error=lambda exc: runner.report_condition(_recording_failed(exc)),
            )
            if background
            else None
        )
        sink: RunSink = writer if writer is not None else self
        runner.sinks = [sink if s is self else s for s in runner.sinks]
        if sink not in runner.sinks:
            runner.sinks.append(sink)
        try:
            result = runner.run()
        except DBAPIError as exc:
            raise _database_error(self.recorder.run_id, exc) from None
        except BaseException as exc:
            if writer is not None:
                with contextlib.suppress(BaseException):
                    writer.close()
            self._close_after_failure(exc)
            raise
        if writer is not None:
            try:
                writer.close()
            except DBAPIError as exc:
                raise _database_error(self.run_id, exc, result) from None
            self.samples_dropped = writer.dropped_samples
        try:
            self.finish(result)
        except DBAPIError as exc:
            raise _database_error(self.run_id, exc) from None
        return result

    def _close_after_failure(self, exc: BaseException) -> None:
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # if the database is what failed, the run stays "running" and the next start marks it
        # interrupted
        with contextlib.suppress(SQLAlchemyError, HipecError):
            self.abandon(f"the run loop stopped: {what}")

    def finish(self, result: RunResult) -> None:
        """Close the run as ``completed`` or ``aborted`` with the summary of :func:`run_summary`.

        ``perfusion_min`` is the runner's timer at the last sample (None if it never started).
        """
        if self._plan is None:
            raise RecorderStateError("store sink: start() has not been called")
        status = "completed" if result.outcome == "completed" else "aborted"
        summary = run_summary(result, self._plan)
        if self.samples_dropped:
            summary["samples_dropped"] = self.samples_dropped
        self.recorder.finish(
            status,
            end_reason=result.reason,
            perfusion_min=self._perfusion_min(),
            summary=summary,
        )
        self._closed = True

    def abandon(self, reason: str) -> None:
        """Close the run as ``aborted`` with ``reason`` when the loop could not end normally."""
        if self._closed:
            return
        self.recorder.finish("aborted", end_reason=reason, perfusion_min=self._perfusion_min())
        self._closed = True

    def _perfusion_min(self) -> float | None:
        return self._timer_s / 60.0 if self._timer_started else None

    # -- the sink -------------------------------------------------------------------------------

    def on_sample(self, sample: RunSample) -> None:
        """Store the first sample of each ``sample_interval_s`` of device time."""
        self._timer_s = sample.timer_s
        time_s = sample.reading.time_s
        if self._origin_s is None:
            self._origin_s = time_s
        slot = math.floor((time_s - self._origin_s) / self.sample_interval_s + _SLOT_TOLERANCE)
        if slot <= self._last_slot:
            return
        self.recorder.add_sample(sample.reading)
        self._last_slot = slot
        self._stored += 1
        self._last_stored_s = time_s

    def on_event(self, event: Event) -> None:
        """Store the event; keep the alarm and dose tables in step with it."""
        data = json_ready({**event.data, "code": event.code})
        if event.kind == "phase.changed":
            data.setdefault("to", event.code)
        elif event.kind == "timer.started":
            self._timer_started = True
        self.recorder.add_event(event.time_s, event.kind, event.message, data)
        if event.kind.startswith("alarm."):
            self._alarm(event)
        elif event.kind == "dose.confirmed":
            self.recorder.record_dose(
                str(event.data.get("drug", event.code)), float(event.data["mg"]), event.time_s
            )

    def _alarm(self, event: Event) -> None:
        key = (event.code, str(event.data.get("source", "")))
        if event.kind == "alarm.raised":
            priority = str(event.data.get("priority", ""))
            if priority not in ALARM_PRIORITIES:  # an unknown label is still an alarm
                priority = "high"
            message = event.message.removesuffix(" - raised")
            self._alarms[key] = self.recorder.raise_alarm(
                event.code, priority, message, event.time_s
            )
            return
        alarm_id = self._alarms.get(key)
        if alarm_id is None:
            return  # raised before this recording started
        if event.kind == "alarm.acknowledged":
            self.recorder.acknowledge_alarm(alarm_id, event.time_s)
        elif event.kind == "alarm.cleared":
            self.recorder.clear_alarm(alarm_id, event.time_s)
            del self._alarms[key]


@dataclass(frozen=True)
class RecordedRun:
    """A run recorded in the database: its id, the runner's result and the samples stored."""

    run_id: int
    result: RunResult
    samples: int


def record_run(
    runner: PerfusionRunner,
    engine: Engine,
    case_number: str,
    *,
    regimen: Regimen | None = None,
    procedure_id: int | None = None,
    actor: str | None = None,
    commit_interval_s: float = DEFAULT_COMMIT_INTERVAL_S,
) -> RecordedRun:
    """Run ``runner`` and record it as a perfusion run of ``case_number`` (see the module
    docstring).

    Parameters
    ----------
    runner
        A runner that has not run yet.
    engine
        The case database (at the newest schema revision).
    case_number
        The case the run belongs to.
    regimen
        The regimen the plan came from (stored as a snapshot with the run).
    procedure_id
        The procedure the perfusion belongs to, if recorded.
    actor
        Who runs it, for the audit log (default: the current user).
    commit_interval_s
        Device time [s] of samples that may wait uncommitted (1 s: at most 1 s at risk).

    Raises
    ------
    NotFoundError
        Field ``case`` for an unknown case (nothing is run).
    DatabaseUnavailableError
        The database failed during the run.
    """
    sink = StoreSink(RunRecorder(engine, actor=actor, commit_interval_s=commit_interval_s))
    run_id = sink.start(runner, case_number, regimen=regimen, procedure_id=procedure_id)
    result = sink.run(runner)
    return RecordedRun(run_id, result, sink.samples_stored)


__all__ = [
    "SAMPLE_INTERVAL_S",
    "RecordedRun",
    "StoreSink",
    "json_ready",
    "record_run",
    "run_summary",
]
