"""RunRecorder: samples committed within 1 s of device time, none twice; interrupted runs."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from sqlalchemy import Engine, func, select

from casedata import case_document, reading
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen
from hipec.protocols.plan import plan_perfusion
from hipec.store.db import transaction
from hipec.store.models import PerfusionRun, run_samples
from hipec.store.recorder import (
    RecorderStateError,
    RunRecorder,
    mark_interrupted_runs,
    process_is_alive,
)
from hipec.store.repository import add_case, run_samples_columns


@pytest.fixture
def case_engine(engine: Engine) -> Engine:
    with transaction(engine) as session:
        add_case(session, case_document(), actor="a")
    return engine


def _stored_samples(engine: Engine, run_id: int) -> int:
    # a separate connection sees only what is committed
    with engine.connect() as connection:
        query = select(func.count()).select_from(run_samples).where(run_samples.c.run_id == run_id)
        return int(connection.execute(query).scalar_one())


def _run(engine: Engine, run_id: int) -> PerfusionRun:
    with transaction(engine) as session:
        run = session.get(PerfusionRun, run_id)
        assert run is not None
        return run


def test_a_run_is_recorded_with_plan_doses_alarms_and_summary(case_engine: Engine) -> None:
    regimen = get_regimen("prodige7")
    plan = plan_perfusion(regimen, height_cm=165, weight_kg=62.5)
    recorder = RunRecorder(case_engine, actor="perfusionist")
    run_id = recorder.start(
        "T-001",
        cavity_probe_regions=(0, 6, 3),
        regimen=regimen,
        plan=plan,
        device_name="test bench",
    )
    assert _run(case_engine, run_id).status == "running"
    for second in range(10):
        recorder.add_sample(reading(float(second), probe_nan=second == 4))
        # at 1 Hz every sample is committed as it arrives: at most 1 s at risk
        assert _stored_samples(case_engine, run_id) == second + 1
        assert recorder.pending_samples == 0
    recorder.add_event(2.0, "phase", "perfusion started")
    alarm = recorder.raise_alarm("inflow-high", "high", "inflow above 44 C", 5.0)
    recorder.acknowledge_alarm(alarm, 6.0)
    recorder.clear_alarm(alarm, 8.0)
    dose_id = recorder.record_dose(plan.doses[0].drug, plan.doses[0].mg, 3.0)
    recorder.finish("completed", perfusion_min=30.0)
    with pytest.raises(RecorderStateError):
        recorder.add_sample(reading(11.0))

    run = _run(case_engine, run_id)
    assert (run.status, run.sample_count, run.duration_s, run.perfusion_min) == (
        "completed",
        10,
        9.0,
        30.0,
    )
    assert run.regimen is not None and run.regimen["id"] == "prodige7"
    assert run.plan is not None and run.plan["protocol"] == "prodige7"
    assert run.max_inflow_c == pytest.approx(max(reading(float(s)).inflow_c for s in range(10)))
    with transaction(case_engine) as session:
        run = session.get(PerfusionRun, run_id)
        assert run is not None
        assert [(a.raised_s, a.acknowledged_s, a.cleared_s) for a in run.alarms] == [
            (5.0, 6.0, 8.0)
        ]
        given = [d for d in run.doses if d.given_mg is not None]
        assert [d.id for d in given] == [dose_id] and given[0].planned_mg == plan.doses[0].mg
        samples = run_samples_columns(session, run_id)
    assert samples["seq"] == list(range(10))
    assert samples["cavity_r0_c"][4] is None  # nan probe -> NULL
    assert samples["cavity_r6_c"][4] == pytest.approx(reading(4.0).cavity_c[1])
    assert samples["cavity_r1_c"] == [None] * 10  # no probe in region 1
    assert all(v is None for v in samples["abdominal_pressure_mmhg"])


def test_a_longer_commit_interval_keeps_at_most_that_much_in_memory(case_engine: Engine) -> None:
    recorder = RunRecorder(case_engine, commit_interval_s=5.0)
    run_id = recorder.start("T-001", cavity_probe_regions=(0,))
    for second in range(12):
        recorder.add_sample(reading(float(second), regions=(0,)))
        pending = recorder.pending_samples
        assert pending <= 5
        assert _stored_samples(case_engine, run_id) == second + 1 - pending
    recorder.finish("aborted", end_reason="test stop")
    assert _stored_samples(case_engine, run_id) == 12
    assert _run(case_engine, run_id).status == "aborted"


def test_out_of_order_samples_and_bad_probes_are_refused(case_engine: Engine) -> None:
    recorder = RunRecorder(case_engine)
    with pytest.raises(InvalidInputError, match="cavity_probe_regions"):
        recorder.start("T-001", cavity_probe_regions=(0, 0))
    recorder.start("T-001", cavity_probe_regions=(0, 6, 3))
    recorder.add_sample(reading(1.0))
    with pytest.raises(InvalidInputError, match="time_s"):
        recorder.add_sample(reading(1.0))  # the same sample twice
    with pytest.raises(InvalidInputError, match="time_s"):
        recorder.add_sample(reading(math.nan))
    with pytest.raises(InvalidInputError, match="priority"):
        recorder.raise_alarm("x", "urgent", "bad priority", 2.0)
    with pytest.raises(InvalidInputError, match="status"):
        recorder.finish("interrupted")
    recorder.finish()
    assert _stored_samples(case_engine, recorder.run_id) == 1


def test_runs_of_dead_processes_are_marked_interrupted(case_engine: Engine) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not process_is_alive(dead.pid) and process_is_alive(__import__("os").getpid())
    orphan = RunRecorder(case_engine)
    orphan_id = orphan.start("T-001", cavity_probe_regions=(0, 6, 3))
    for second in range(3):
        orphan.add_sample(reading(float(second)))
    live = RunRecorder(case_engine)
    live_id = live.start("T-001", cavity_probe_regions=(0, 6, 3))
    with transaction(case_engine) as session:
        run = session.get(PerfusionRun, orphan_id)
        assert run is not None
        run.pid = dead.pid  # as if recorded by the process that has died
    assert mark_interrupted_runs(case_engine, actor="next-session") == [orphan_id]
    orphan_run = _run(case_engine, orphan_id)
    assert (orphan_run.status, orphan_run.sample_count, orphan_run.duration_s) == (
        "interrupted",
        3,
        2.0,
    )
    assert _run(case_engine, live_id).status == "running"
    assert mark_interrupted_runs(case_engine) == []
    live.finish()
