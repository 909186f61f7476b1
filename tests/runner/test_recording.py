"""The store sink: a simulated run recorded through RunRecorder, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from casedata import case_document
from dbhelpers import BACKENDS, fresh_database_url
from hipec.devices.faults import parse_fault
from hipec.errors import InvalidInputError, NotFoundError
from hipec.protocols import get_regimen, plan_perfusion
from hipec.protocols.plan import PerfusionPlan
from hipec.reports.report import build_report
from hipec.runner import CallbackSink, PerfusionRunner, RunConfig, simulated_run, simulation_plan
from hipec.runner.recording import (
    StoreSink,
    json_ready,
    record_run,
    run_summary,
)
from hipec.runner.threads import limit_blas_threads
from hipec.store.db import DatabaseUnavailableError, create_db_engine, transaction, upgrade_database
from hipec.store.models import PerfusionRun, RunAlarm, RunDose, RunEvent
from hipec.store.recorder import RunRecorder
from hipec.store.repository import add_case, run_samples_columns

CASE = "R-001"
#: Tests about what is stored, not when, commit once a minute of device time (faster).
FEW_COMMITS_S = 60.0


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread() -> None:
    limit_blas_threads()  # the twin's small matrices: several BLAS threads only contend


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database at the newest revision holding case R-001."""
    with fresh_database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        upgrade_database(engine)
        with transaction(engine) as session:
            add_case(session, case_document(CASE), actor="test")
        yield engine
        engine.dispose()


def short_plan(duration_min: float = 2.0) -> PerfusionPlan:
    """Dutch MMC (doses at 0, 30 and 60 min) cut to ``duration_min`` of perfusion."""
    plan = plan_perfusion(get_regimen("dutch-mmc"), height_cm=165, weight_kg=62.5)
    return simulation_plan(plan, duration_min=duration_min)


def stored_run(engine: Engine, run_id: int) -> dict[str, Any]:
    """The run, its samples column-wise, events, alarms and doses, read back from the database."""
    with transaction(engine) as session:
        run = session.get(PerfusionRun, run_id)
        assert run is not None
        return {
            "run": run,
            "samples": run_samples_columns(session, run_id),
            "events": session.scalars(
                select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)
            ).all(),
            "alarms": session.scalars(
                select(RunAlarm).where(RunAlarm.run_id == run_id).order_by(RunAlarm.id)
            ).all(),
            "doses": session.scalars(
                select(RunDose).where(RunDose.run_id == run_id).order_by(RunDose.id)
            ).all(),
        }


def assert_consecutive(samples: dict[str, list[Any]], step_s: float) -> None:
    """seq 0..n-1 and device times exactly ``step_s`` apart: nothing lost, nothing twice."""
    assert samples["seq"] == list(range(len(samples["seq"])))
    times = samples["time_s"]
    assert all(b - a == pytest.approx(step_s, abs=1e-6) for a, b in itertools.pairwise(times))


def test_a_completed_run_is_stored_as_the_runner_saw_it(engine: Engine) -> None:
    regimen = get_regimen("dutch-mmc")
    runner = simulated_run(short_plan(), RunConfig(control_period_s=1.0), seed=1)
    recorded = record_run(runner, engine, CASE, regimen=regimen, actor="perfusionist")
    result = recorded.result
    assert result.outcome == "completed"
    stored = stored_run(engine, recorded.run_id)
    run, samples = stored["run"], stored["samples"]

    # 1 Hz of device time: one sample per second from the first to the last, none missing
    assert run.status == "completed" and run.end_reason is None
    assert run.duration_s == samples["time_s"][-1] - samples["time_s"][0]
    assert run.sample_count == recorded.samples == len(samples["seq"]) == run.duration_s + 1
    assert_consecutive(samples, 1.0)
    assert run.duration_s == pytest.approx(result.phases[-1].start_min * 60.0)
    assert run.perfusion_min == pytest.approx(2.0)
    assert run.cavity_probe_regions == list(runner.device.info.cavity_probe_regions)
    assert run.plan is not None and run.plan["duration_min"] == 2.0
    assert run.regimen is not None and run.regimen["id"] == "dutch-mmc"

    # every event, in order, with its code; phase changes say which phase they enter
    events = stored["events"]
    assert [(e.time_s, e.kind, e.message) for e in events] == [
        (e.time_s, e.kind, e.message) for e in result.events
    ]
    assert all(
        e.data is not None and e.data["code"] == r.code
        for e, r in zip(events, result.events, strict=True)
    )
    entered = [e.data["to"] for e in events if e.kind == "phase.changed"]
    assert entered == [p.name for p in result.phases]

    # doses: three planned, the first given, the others missed (a 2 min perfusion)
    doses = stored["doses"]
    assert [(d.drug, d.planned_at_min) for d in doses] == [
        ("mitomycin C", 0.0),
        ("mitomycin C", 30.0),
        ("mitomycin C", 60.0),
    ]
    given_at = result.doses[0].given_min
    assert given_at is not None and doses[0].given_at_s == pytest.approx(given_at * 60.0)
    assert doses[0].given_mg == pytest.approx(doses[0].planned_mg)
    assert [d.given_mg for d in doses[1:]] == [None, None]

    # the summary: issue 3's simulation report, per region and per drug
    summary = run.summary
    assert summary is not None and summary["outcome"] == "completed"
    assert [r["index"] for r in summary["thermal"]["regions"]] == list(range(13))
    assert summary["drugs"]["mitomycin"]["dose_mg"] == pytest.approx(doses[0].planned_mg, abs=0.1)
    assert summary["doses"] == result.to_dict()["doses"]
    json.dumps(summary, allow_nan=False)  # PostgreSQL's JSON has no NaN


def test_the_report_reads_the_stored_run(engine: Engine) -> None:
    runner = simulated_run(short_plan(), RunConfig(control_period_s=1.0), seed=2)
    recorded = record_run(
        runner, engine, CASE, regimen=get_regimen("dutch-mmc"), commit_interval_s=FEW_COMMITS_S
    )
    result = recorded.result
    with transaction(engine) as session:
        report = build_report(session, CASE)
    run = report.run
    assert run is not None and run.run_id == recorded.run_id and run.status == "completed"
    # phases of non-zero length, as the runner had them
    assert [p.phase for p in run.phases] == [
        p.name for p in result.phases if p.end_min is not None and p.end_min > p.start_min
    ]
    assert result.timer_start_min is not None
    assert run.timer_start_s == pytest.approx(result.timer_start_min * 60.0)
    assert run.timer_end_s is not None
    assert run.timer_end_s - run.timer_start_s == pytest.approx(120.0)
    assert run.totals.perfusion_min == pytest.approx(2.0)
    assert run.totals.samples == recorded.samples
    assert len(run.region_thermal) == 13 and all(
        r.cem43_min is not None for r in run.region_thermal
    )
    assert [d.drug for d in run.drugs] == ["mitomycin"]
    assert [p.region for p in run.probe_thermal] == list(runner.device.info.cavity_probe_regions)
    assert report.notices == ()  # a completed run of a real (not synthetic) case


@pytest.mark.parametrize(("period_s", "step_s"), [(0.5, 1.0), (5.0, 5.0)])
def test_samples_are_thinned_to_1_hz_never_padded(
    engine: Engine, period_s: float, step_s: float
) -> None:
    runner = simulated_run(short_plan(1.0), RunConfig(control_period_s=period_s), seed=1)
    recorded = record_run(runner, engine, CASE, commit_interval_s=FEW_COMMITS_S)
    samples = stored_run(engine, recorded.run_id)["samples"]
    assert_consecutive(samples, step_s)
    trace = recorded.result.trace
    assert trace is not None
    # the distinct whole steps of device time the runner went through
    assert len(samples["seq"]) == len({math.floor(t / step_s + 1e-9) for t in trace.time_s})


def test_an_aborted_run_keeps_its_reason_alarms_and_samples(engine: Engine) -> None:
    runner = simulated_run(
        short_plan(), RunConfig(control_period_s=1.0), faults=[parse_fault("air-in-line@4")]
    )

    def operator(sample: Any) -> None:
        # the perfusionist acknowledges the air alarm after 20 s, then stops the run
        if runner.finished:
            return
        if sample.reading.time_s == 260.0:
            runner.acknowledge()
        if sample.reading.time_s == 280.0:
            runner.abort("air in the inflow line: perfusion stopped")

    runner.sinks.append(CallbackSink(sample=operator))
    recorded = record_run(runner, engine, CASE, commit_interval_s=FEW_COMMITS_S)
    stored = stored_run(engine, recorded.run_id)
    run = stored["run"]
    assert recorded.result.outcome == "aborted"
    assert run.status == "aborted"
    assert run.end_reason == "aborted in perfuse: air in the inflow line: perfusion stopped"
    assert_consecutive(stored["samples"], 1.0)
    assert stored["samples"]["time_s"][-1] == 280.0  # the abort came with this sample
    assert run.summary is not None and run.summary["outcome"] == "aborted"
    assert run.perfusion_min is not None and 0 < run.perfusion_min < 2.0

    alarms = stored["alarms"]
    expected = recorded.result.alarms
    assert [(a.code, a.raised_s, a.acknowledged_s, a.cleared_s) for a in alarms] == [
        (
            a.code,
            pytest.approx(a.raised_min * 60.0),
            None if a.acknowledged_min is None else pytest.approx(a.acknowledged_min * 60.0),
            None if a.cleared_min is None else pytest.approx(a.cleared_min * 60.0),
        )
        for a in expected
    ]
    air = next(a for a in alarms if a.code == "AIR_IN_LINE")
    assert air.priority == "high" and air.acknowledged_s == 260.0
    assert "air" in air.message.lower() and not air.message.endswith("raised")
    kinds = [e.kind for e in stored["events"]]
    assert "alarm.acknowledged" in kinds and kinds[-1] == "procedure.aborted"


def test_a_run_that_stops_on_an_error_is_closed_as_aborted(engine: Engine) -> None:
    runner = simulated_run(short_plan(), RunConfig(control_period_s=1.0))

    def broken(sample: Any) -> None:
        if sample.reading.time_s == 30.0:
            raise RuntimeError("display crashed")

    runner.sinks.append(CallbackSink(sample=broken))
    sink = StoreSink(RunRecorder(engine))
    run_id = sink.start(runner, CASE)
    with pytest.raises(RuntimeError, match="display crashed"):
        sink.run(runner)
    run = stored_run(engine, run_id)["run"]
    assert (run.status, run.end_reason) == ("aborted", "the run loop stopped: display crashed")
    # 0-29 s: the failing sink comes before the store, so the sample of 30 s never reached it
    assert run.sample_count == 30 and run.perfusion_min is None  # the timer never started


def run_losing_its_database(engine: Engine) -> tuple[PerfusionRunner, StoreSink, int]:
    """A recorded run whose samples table someone drops 10 s in."""
    runner = simulated_run(short_plan(), RunConfig(control_period_s=1.0))
    sink = StoreSink(RunRecorder(engine))
    run_id = sink.start(runner, CASE)

    def vandal(sample: Any) -> None:
        if sample.reading.time_s == 10.0:
            with engine.begin() as connection:
                connection.execute(text("DROP TABLE run_samples"))

    runner.sinks.append(CallbackSink(sample=vandal))
    return runner, sink, run_id


def test_a_database_failure_mid_run_is_one_error_and_leaves_the_run_running(
    engine: Engine,
) -> None:
    runner, sink, run_id = run_losing_its_database(engine)
    with pytest.raises(DatabaseUnavailableError, match=f"lost while recording run {run_id}"):
        sink.run(runner)
    assert stored_run_status(engine, run_id) == "running"


def stored_run_status(engine: Engine, run_id: int) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                select(PerfusionRun.status).where(PerfusionRun.id == run_id)
            ).scalar_one()
        )


def test_an_unknown_case_records_nothing_and_runs_nothing(engine: Engine) -> None:
    runner = simulated_run(short_plan(), RunConfig(control_period_s=1.0))
    with pytest.raises(NotFoundError, match="case: no case 'NOPE'"):
        record_run(runner, engine, "NOPE")
    assert runner.result().trace is None  # not a single tick
    with engine.connect() as connection:
        assert connection.execute(select(PerfusionRun.id)).all() == []


def test_a_real_machine_run_summary_has_the_run_figures_only() -> None:
    runner = simulated_run(short_plan(1.0), RunConfig(control_period_s=5.0))
    result = runner.run()
    summary = run_summary(result, runner.plan)
    assert summary["source"].startswith("simulation") and "regions" in summary["thermal"]
    without_trace = run_summary(type(result)(**{**result.__dict__, "trace": None}), runner.plan)
    assert without_trace["source"] == "device"
    assert without_trace["thermal"]["max_region_c"] == result.to_dict()["max_region_c"]
    assert "drugs" not in without_trace


@pytest.mark.parametrize("interval_s", [0.0, -1.0, math.nan, math.inf])
def test_the_sink_needs_a_positive_finite_interval(interval_s: float) -> None:
    recorder = RunRecorder(create_db_engine("sqlite://"))  # never connects
    with pytest.raises(InvalidInputError, match="sample_interval_s"):
        StoreSink(recorder, sample_interval_s=interval_s)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@given(json_values)
def test_json_ready_is_strict_json_and_keeps_finite_values(value: Any) -> None:
    ready = json_ready(value)
    text_form = json.dumps(ready, allow_nan=False)
    assert json.loads(text_form) == ready

    def same(original: Any, converted: Any) -> bool:
        if isinstance(original, float) and not math.isfinite(original):
            return converted is None
        if isinstance(original, dict):
            return all(same(v, converted[str(k)]) for k, v in original.items())
        if isinstance(original, list | tuple):
            return all(same(a, b) for a, b in zip(original, converted, strict=True))
        return bool(original == converted)

    assert same(value, ready)


def test_phase_events_without_data_still_name_the_phase(engine: Engine) -> None:
    runner: PerfusionRunner = simulated_run(short_plan(1.0), RunConfig(control_period_s=5.0))
    sink = StoreSink(RunRecorder(engine))
    run_id = sink.start(runner, CASE)
    from hipec.control.events import Event

    sink.on_event(Event(0.0, "phase.changed", "prime", "setup -> prime"))
    sink.on_event(Event(1.0, "alarm.cleared", "NEVER_RAISED", "cleared"))  # no row to close
    events = stored_run(engine, run_id)["events"]
    assert [(e.kind, e.data) for e in events] == [
        ("phase.changed", {"code": "prime", "to": "prime"}),
        ("alarm.cleared", {"code": "NEVER_RAISED"}),
    ]


def test_a_background_writer_records_the_same_run(engine: Engine) -> None:
    stored = []
    for background in (False, True):
        runner = simulated_run(short_plan(), RunConfig(control_period_s=1.0), seed=3)
        sink = StoreSink(RunRecorder(engine))
        run_id = sink.start(runner, CASE)
        sink.run(runner, background=background)
        assert sink.samples_dropped == 0
        stored.append(stored_run(engine, run_id))
    foreground, background_run = stored
    assert background_run["run"].status == foreground["run"].status == "completed"
    assert background_run["run"].sample_count == foreground["run"].sample_count > 0
    assert [(e.time_s, e.kind) for e in background_run["events"]] == [
        (e.time_s, e.kind) for e in foreground["events"]
    ]
    assert background_run["run"].summary == foreground["run"].summary


def test_with_a_background_writer_a_database_failure_does_not_stop_the_perfusion(
    engine: Engine,
) -> None:
    runner, sink, run_id = run_losing_its_database(engine)
    went_on = r"the perfusion itself went on \(completed\)"
    with pytest.raises(DatabaseUnavailableError, match=went_on):
        sink.run(runner, background=True)
    result = runner.result()
    assert result.outcome == "completed"  # the loop ran to the end of the procedure
    assert stored_run_status(engine, run_id) == "running"
    # ... and told the operator, with a technical alarm (medium, escalating when unattended);
    # when depends on how far the writer lags an as-fast-as-possible loop, so it is not checked
    (lost,) = [a for a in result.alarms if a.code == "RECORDING_FAILED"]
    assert lost.priority in ("medium", "high") and lost.cleared_min is None
    raised = next(e for e in runner.events if e.kind == "alarm.raised" and e.code == lost.code)
    assert "run_samples" in raised.message or "run_samples" in str(raised.data)
