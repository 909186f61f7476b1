"""Durable capture of a perfusion: :class:`RunRecorder` streams a run into the database.

The recorder is a sink for the runner: ``start(...)`` once, ``add_sample(reading)`` every control
period, ``add_event`` / ``raise_alarm`` / ``record_dose`` as things happen, ``finish(...)`` at the
end. Samples are buffered and committed in small transactions: a commit happens as soon as the
buffered samples span ``commit_interval_s`` of *device* time (default 1 s, so at a 1 Hz control
period every sample is committed as it arrives) or ``max_batch`` samples; events, alarms and doses
are committed at once, with any buffered samples. If the process dies, at most the uncommitted
samples (under ``commit_interval_s`` of device time) are lost; every committed row is intact, and
``(run_id, seq)`` is the samples' key, so no sample is ever stored twice.

A run left ``running`` by a process that no longer exists becomes ``interrupted`` when
:func:`mark_interrupted_runs` runs (every database command of the CLI calls it first).
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from hipec.clinical.pci import REGION_COUNT
from hipec.devices.base import Reading
from hipec.errors import HipecError, InvalidInputError
from hipec.protocols.plan import PerfusionPlan
from hipec.protocols.schema import Regimen
from hipec.store.audit import audited_insert, audited_update
from hipec.store.db import current_actor
from hipec.store.models import (
    CAVITY_COLUMNS,
    SAMPLE_FLOAT_CHANNELS,
    PerfusionRun,
    RunAlarm,
    RunDose,
    RunEvent,
    run_samples,
    utc_now,
)
from hipec.store.repository import get_case
from hipec.store.vocabulary import ALARM_PRIORITIES

DEFAULT_COMMIT_INTERVAL_S = 1.0
DEFAULT_MAX_BATCH = 600
FINAL_STATUSES = ("completed", "aborted")


class RecorderStateError(HipecError):
    """The recorder was used out of order (a sample before start, a second finish, ...)."""


def _value(number: float) -> float | None:
    return number if math.isfinite(number) else None


def reading_row(run_id: int, seq: int, reading: Reading) -> dict[str, Any]:
    """The ``run_samples`` row of one reading: nan becomes NULL, probes go to their region."""
    row: dict[str, Any] = {"run_id": run_id, "seq": seq, "time_s": reading.time_s}
    for name in SAMPLE_FLOAT_CHANNELS:
        row[name] = _value(float(getattr(reading, name)))
    row["air_in_line"] = bool(reading.air_in_line)
    row["power"] = reading.power
    row.update(dict.fromkeys(CAVITY_COLUMNS))
    seen: set[int] = set()
    for region, value in zip(reading.cavity_probe_regions, reading.cavity_c, strict=True):
        if not 0 <= region < REGION_COUNT or region in seen:
            raise InvalidInputError(
                "cavity_probe_regions",
                f"must name distinct PCI regions 0-{REGION_COUNT - 1}, got "
                f"{list(reading.cavity_probe_regions)}",
            )
        seen.add(region)
        row[CAVITY_COLUMNS[region]] = _value(float(value))
    return row


class RunRecorder:
    """Stream one perfusion run into the database (see the module docstring).

    Parameters
    ----------
    engine
        The case database (at the newest schema revision).
    actor
        Who runs the perfusion, for the audit log (default :func:`current_actor`).
    commit_interval_s
        Device time [s] of samples that may wait in memory before a commit; 1 s by default.
        An accelerated simulation may pass more to spare the disk.
    max_batch
        Samples that may wait in memory whatever their time span.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        actor: str | None = None,
        commit_interval_s: float = DEFAULT_COMMIT_INTERVAL_S,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if not commit_interval_s >= 0:
            raise InvalidInputError(
                "commit_interval_s", f"must be 0 s or more, got {commit_interval_s}"
            )
        if max_batch < 1:
            raise InvalidInputError("max_batch", f"must be 1 or more, got {max_batch}")
        self._engine = engine
        self._actor = actor or current_actor()
        self._commit_interval_s = commit_interval_s
        self._max_batch = max_batch
        self._run_id: int | None = None
        self._finished = False
        self._buffer: list[dict[str, Any]] = []
        self._next_seq = 0
        self._last_time_s = -math.inf
        self._last_committed_time_s: float | None = None

    @property
    def run_id(self) -> int:
        """The id of the run being recorded."""
        if self._run_id is None:
            raise RecorderStateError("recorder: start() has not been called")
        return self._run_id

    @property
    def pending_samples(self) -> int:
        """Samples buffered but not yet committed."""
        return len(self._buffer)

    def start(
        self,
        case_number: str,
        *,
        cavity_probe_regions: Sequence[int],
        regimen: Regimen | None = None,
        plan: PerfusionPlan | None = None,
        device_name: str | None = None,
        procedure_id: int | None = None,
    ) -> int:
        """Create the run (status ``running``) with its regimen snapshot, plan and planned doses.

        Returns
        -------
        int
            The run id.
        """
        if self._run_id is not None:
            raise RecorderStateError("recorder: start() was called already")
        regions = list(cavity_probe_regions)
        if len(set(regions)) != len(regions) or any(not 0 <= r < REGION_COUNT for r in regions):
            raise InvalidInputError(
                "cavity_probe_regions",
                f"must name distinct PCI regions 0-{REGION_COUNT - 1}, got {regions}",
            )
        with Session(self._engine) as session, session.begin():
            patient = get_case(session, case_number)
            run = PerfusionRun(
                patient=patient,
                procedure_id=procedure_id,
                status="running",
                started_at=utc_now(),
                regimen_id=regimen.id if regimen is not None else None,
                regimen=regimen.model_dump(mode="json") if regimen is not None else None,
                plan=plan.to_dict() if plan is not None else None,
                device_name=device_name,
                cavity_probe_regions=regions,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            audited_insert(session, run, actor=self._actor)
            if plan is not None:
                for dose in plan.doses:
                    session.add(
                        RunDose(
                            run_id=run.id,
                            drug=dose.drug,
                            route=dose.route,
                            planned_mg=dose.mg,
                            planned_at_min=dose.at_min,
                        )
                    )
            self._run_id = run.id
        return self.run_id

    def _check_open(self) -> int:
        run_id = self.run_id
        if self._finished:
            raise RecorderStateError("recorder: the run is finished")
        return run_id

    def add_sample(self, reading: Reading) -> None:
        """Buffer one reading; commit when the buffer spans ``commit_interval_s`` of device time.

        Raises
        ------
        InvalidInputError
            Field ``time_s`` if the reading is not later than the previous one.
        """
        run_id = self._check_open()
        if not (math.isfinite(reading.time_s) and reading.time_s > self._last_time_s):
            raise InvalidInputError(
                "time_s",
                f"each sample must be later than the previous one ({self._last_time_s:g} s), "
                f"got {reading.time_s:g} s",
            )
        self._buffer.append(reading_row(run_id, self._next_seq, reading))
        self._next_seq += 1
        self._last_time_s = reading.time_s
        reference = (
            self._last_committed_time_s
            if self._last_committed_time_s is not None
            else self._buffer[0]["time_s"] - self._commit_interval_s
        )
        if (
            reading.time_s - reference >= self._commit_interval_s
            or len(self._buffer) >= self._max_batch
        ):
            self.flush()

    def _write_buffer(self, session: Session) -> None:
        if self._buffer:
            session.execute(insert(run_samples), self._buffer)

    def _after_commit(self) -> None:
        if self._buffer:
            self._last_committed_time_s = self._buffer[-1]["time_s"]
            self._buffer = []

    def flush(self) -> None:
        """Commit every buffered sample now."""
        if not self._buffer:
            return
        with Session(self._engine) as session, session.begin():
            self._write_buffer(session)
        self._after_commit()

    def _commit_with(self, row: RunEvent | RunAlarm | RunDose) -> int:
        with Session(self._engine) as session, session.begin():
            self._write_buffer(session)
            session.add(row)
            session.flush()
            row_id = row.id
        self._after_commit()
        return row_id

    def add_event(
        self, time_s: float, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> int:
        """Record an event (phase change, prompt, note) at device time ``time_s`` [s]."""
        run_id = self._check_open()
        return self._commit_with(
            RunEvent(run_id=run_id, time_s=time_s, kind=kind, message=message, data=data)
        )

    def raise_alarm(self, code: str, priority: str, message: str, time_s: float) -> int:
        """Record an alarm raised at ``time_s`` [s]; returns its id for acknowledge/clear."""
        run_id = self._check_open()
        if priority not in ALARM_PRIORITIES:
            raise InvalidInputError(
                "priority", f"must be one of {', '.join(ALARM_PRIORITIES)}, got {priority!r}"
            )
        return self._commit_with(
            RunAlarm(run_id=run_id, code=code, priority=priority, message=message, raised_s=time_s)
        )

    def _set_alarm_time(self, alarm_id: int, field: str, time_s: float) -> None:
        run_id = self._check_open()
        with Session(self._engine) as session, session.begin():
            self._write_buffer(session)
            alarm = session.get(RunAlarm, alarm_id)
            if alarm is None or alarm.run_id != run_id:
                raise InvalidInputError("alarm", f"no alarm {alarm_id} in run {run_id}")
            setattr(alarm, field, time_s)
        self._after_commit()

    def acknowledge_alarm(self, alarm_id: int, time_s: float) -> None:
        """Record that the operator acknowledged alarm ``alarm_id`` at ``time_s`` [s]."""
        self._set_alarm_time(alarm_id, "acknowledged_s", time_s)

    def clear_alarm(self, alarm_id: int, time_s: float) -> None:
        """Record that the condition of alarm ``alarm_id`` cleared at ``time_s`` [s]."""
        self._set_alarm_time(alarm_id, "cleared_s", time_s)

    def record_dose(self, drug: str, mg: float, time_s: float) -> int:
        """Record a dose given: fills the first planned, not yet given dose of ``drug``, else adds
        an unplanned one. Returns the dose row id."""
        run_id = self._check_open()
        if not (math.isfinite(mg) and mg >= 0):
            raise InvalidInputError("mg", f"must be a dose of 0 mg or more, got {mg}")
        with Session(self._engine) as session, session.begin():
            self._write_buffer(session)
            planned = session.scalar(
                select(RunDose)
                .where(RunDose.run_id == run_id, RunDose.drug == drug, RunDose.given_mg.is_(None))
                .order_by(RunDose.id)
            )
            dose = planned or RunDose(run_id=run_id, drug=drug, route="intraperitoneal")
            dose.given_mg = mg
            dose.given_at_s = time_s
            session.add(dose)
            session.flush()
            dose_id = dose.id
        self._after_commit()
        return dose_id

    def finish(
        self,
        status: str = "completed",
        *,
        end_reason: str | None = None,
        perfusion_min: float | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """Commit what is buffered and close the run as ``completed`` or ``aborted``.

        ``perfusion_min`` is the perfusion time for billing (the runner's timer); the sample
        count, duration and maxima are computed from the stored samples.
        """
        run_id = self._check_open()
        if status not in FINAL_STATUSES:
            raise InvalidInputError(
                "status", f"must be one of {', '.join(FINAL_STATUSES)}, got {status!r}"
            )
        with Session(self._engine) as session, session.begin():
            self._write_buffer(session)
            session.flush()
            run = session.get(PerfusionRun, run_id)
            assert run is not None
            changes = summarise_samples(session, run_id)
            changes.update(
                status=status,
                ended_at=utc_now(),
                end_reason=end_reason,
                perfusion_min=perfusion_min,
                summary=summary,
            )
            audited_update(session, run, changes, actor=self._actor)
        self._after_commit()
        self._finished = True


def summarise_samples(session: Session, run_id: int) -> dict[str, Any]:
    """Sample count, duration [s] and maxima [C] of a run, from its stored samples."""
    c = run_samples.c
    row = session.execute(
        select(
            func.count(),
            func.min(c.time_s),
            func.max(c.time_s),
            func.max(c.inflow_c),
            *(func.max(c[name]) for name in CAVITY_COLUMNS),
        ).where(c.run_id == run_id)
    ).one()
    count, first, last, max_inflow, *cavity = row
    cavity_values = [float(v) for v in cavity if v is not None]
    return {
        "sample_count": int(count),
        "duration_s": (float(last) - float(first)) if count else None,
        "max_inflow_c": float(max_inflow) if max_inflow is not None else None,
        "max_cavity_c": max(cavity_values) if cavity_values else None,
    }


def process_is_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        # field 3 is the state; "Z" is a zombie: dead, only waiting to be reaped
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def mark_interrupted_runs(engine: Engine, *, actor: str | None = None) -> list[int]:
    """Mark ``interrupted`` every run still ``running`` whose recording process is gone.

    Only runs recorded on this host are judged (another host's process cannot be checked).
    Returns the ids of the runs marked.
    """
    marked: list[int] = []
    host = socket.gethostname()
    who = actor or current_actor()
    with Session(engine) as session, session.begin():
        running = session.scalars(
            select(PerfusionRun).where(PerfusionRun.status == "running", PerfusionRun.host == host)
        ).all()
        for run in running:
            if run.pid is not None and process_is_alive(run.pid):
                continue
            changes = summarise_samples(session, run.id)
            changes.update(
                status="interrupted",
                end_reason=f"recording process {run.pid} ended without closing the run",
            )
            audited_update(session, run, changes, actor=who)
            marked.append(run.id)
    return marked
