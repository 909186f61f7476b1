"""The runner on the simulated machine: phases, operator actions, doses, faults, every regimen.

Runs use a 5 s control period (the runner allows any period; the machine's own is 1 s) so that a
90-min perfusion takes about a second; fault runs use 1 s for the detection times.
"""

from __future__ import annotations

import math
import threading
import time

import pytest

from hipec.control import ProcedureConfig
from hipec.control.events import Event
from hipec.devices.faults import Fault
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen, list_regimens, plan_perfusion
from hipec.protocols.plan import PerfusionPlan
from hipec.runner import (
    CallbackSink,
    RunConfig,
    RunResult,
    RunSample,
    simulated_run,
    simulation_plan,
    simulation_report,
)
from hipec.runner.threads import limit_blas_threads

limit_blas_threads()

PHASES = ["setup", "prime", "fill", "heat", "perfuse", "drain", "rinse", "complete"]
FAST = RunConfig(control_period_s=5.0)


def plan(regimen: str = "dutch-mmc", **changes: float) -> PerfusionPlan:
    base = plan_perfusion(get_regimen(regimen), height_cm=170, weight_kg=70)
    return simulation_plan(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def dutch() -> RunResult:
    return simulated_run(plan(), FAST, seed=1).run()


def test_a_perfusion_runs_through_every_phase_to_completion(dutch: RunResult) -> None:
    assert dutch.outcome == "completed" and dutch.reason is None
    assert [p.name for p in dutch.phases] == PHASES
    spans = {p.name: p for p in dutch.phases}
    perfuse = spans["perfuse"]
    assert perfuse.end_min is not None
    assert perfuse.end_min - perfuse.start_min == pytest.approx(90.0, abs=5 / 60 + 1e-6)
    for earlier, later in zip(dutch.phases, dutch.phases[1:], strict=False):
        assert earlier.end_min == later.start_min
    assert dutch.alarms == ()  # a healthy run raises nothing


def test_doses_are_given_at_the_timer_times_and_reach_the_twin(dutch: RunResult) -> None:
    start = dutch.timer_start_min
    assert start is not None
    for dose in dutch.doses:
        assert dose.given_min == pytest.approx(start + dose.planned_min, abs=5 / 60 + 1e-6)
        assert dose.confirmed_by == "auto"
    assert dutch.snapshot is not None
    given = sum(d.mg for d in dutch.doses)
    assert dutch.snapshot.drugs[0].dosed_mg == pytest.approx(given)


def test_summary_has_the_issue_json_shape_and_sane_figures(dutch: RunResult) -> None:
    data = dutch.to_dict()
    assert list(data) == [
        "outcome", "phases", "alarms", "doses", "time_to_target_min", "overshoot_c",
        "time_in_range_fraction", "max_region_c", "max_inflow_c", "core_max_c",
    ]  # fmt: skip
    assert set(data["doses"][0]) == {"drug", "mg", "planned_min", "given_min"}
    assert 0 < data["time_to_target_min"] < 10
    assert 0 <= data["time_in_range_fraction"] <= 1
    assert data["max_inflow_c"] <= 43.0  # the regimen's inflow limit
    assert 37.0 < data["core_max_c"] < 40.0
    assert data["max_region_c"] < data["max_inflow_c"]


@pytest.mark.parametrize("regimen", list_regimens())
def test_every_library_regimen_simulates_to_completion(regimen: object) -> None:
    regimen_id = getattr(regimen, "id", regimen)
    the_plan = plan(str(regimen_id))
    result = simulated_run(the_plan, RunConfig(control_period_s=10.0), seed=2).run()
    assert result.outcome == "completed", result.reason
    assert result.max_region_c is not None and result.max_region_c < 44.0
    assert result.max_inflow_c is not None and result.max_inflow_c <= the_plan.max_inflow_c
    report = simulation_report(result, the_plan)
    assert len(report["thermal"]["regions"]) == 13
    for drug, row in report["drugs"].items():
        assert drug in ("mitomycin", "oxaliplatin", "cisplatin", "doxorubicin")
        assert row["dose_mg"] > 0
        total = row["fraction_remaining_in_perfusate"] + row["fraction_absorbed"]
        assert 0.8 < total <= 1.0 + 1e-6  # the rest was rinsed, drained or degraded
        assert row["auc_ratio_perfusate_to_plasma"] > 1
        assert row["penetration_depth_mm"] > 0


def test_unreachable_abdominal_target_starts_the_perfusion_at_the_plateau() -> None:
    # PRODIGE 7: 43 C intra-abdominal, the cascade keeps the inflow <= 43.5 C (region limit 44
    # C - 0.5 K): the open abdomen plateaus near 42 C, so the unattended operator overrides
    result = simulated_run(plan("prodige7"), RunConfig(control_period_s=10.0), seed=2).run()
    start = next(e for e in result.events if e.kind == "phase.changed" and e.code == "perfuse")
    assert "override" in start.data
    assert result.time_to_target_min is None
    assert result.outcome == "completed"


def test_pause_stops_the_timer_and_resume_continues() -> None:
    short = plan(duration_min=10.0)
    holder: dict[str, object] = {}

    def on_sample(sample: RunSample) -> None:
        runner = holder["runner"]
        t = sample.reading.time_s
        if sample.phase == "perfuse" and sample.timer_s >= 120 and "paused" not in holder:
            holder["paused"] = t
            runner.pause()  # type: ignore[attr-defined]
        if "paused" in holder and "resumed" not in holder and t >= holder["paused"] + 300:  # type: ignore[operator]
            holder["resumed"] = t
            runner.resume()  # type: ignore[attr-defined]

    runner = simulated_run(short, FAST, seed=1, sinks=[CallbackSink(sample=on_sample)])
    holder["runner"] = runner
    result = runner.run()
    perfuse = next(p for p in result.phases if p.name == "perfuse")
    assert perfuse.end_min is not None
    assert perfuse.end_min - perfuse.start_min == pytest.approx(15.0, abs=0.2)  # 10 + 5 paused
    kinds = [e.kind for e in result.events]
    assert "procedure.paused" in kinds and "procedure.resumed" in kinds
    assert any(a.code == "PROCEDURE_PAUSED" for a in result.alarms)


def test_abort_from_any_phase_stops_heater_and_pumps() -> None:
    seen: list[RunSample] = []

    def on_sample(sample: RunSample) -> None:
        seen.append(sample)
        if sample.phase == "perfuse" and sample.timer_s >= 60:
            runner.abort("test")

    runner = simulated_run(plan(), FAST, seed=1, sinks=[CallbackSink(sample=on_sample)])
    result = runner.run()
    assert result.outcome == "aborted" and result.reason is not None
    assert result.phases[-1].name == "aborted"
    last = seen[-1]
    assert last.phase == "aborted"
    assert last.command.heater_power_w == 0.0
    assert last.command.inflow_l_per_min == 0.0 and last.command.outflow_l_per_min == 0.0
    with pytest.raises(InvalidInputError):
        runner.abort()  # the procedure has ended


def test_operator_confirms_doses_late_and_the_actual_time_is_recorded() -> None:
    config = RunConfig(
        control_period_s=5.0,
        procedure=ProcedureConfig(
            auto_confirm_doses=False, circuit_volume_l=1.1, drain_fraction=0.8
        ),
    )
    due: dict[str, float] = {}

    def on_event(event: Event) -> None:
        if event.kind == "dose.due":
            due.setdefault(f"{event.data['planned_min']}", event.time_s)

    def on_sample(sample: RunSample) -> None:
        for key, at in list(due.items()):
            if sample.reading.time_s >= at + 60:
                del due[key]
                runner.confirm_dose()

    runner = simulated_run(
        plan(duration_min=40.0), config, seed=1, sinks=[CallbackSink(on_sample, on_event)]
    )
    with pytest.raises(InvalidInputError):
        runner.confirm_dose()  # nothing due before the run
    result = runner.run()
    assert result.timer_start_min is not None
    given = [d for d in result.doses if d.given_min is not None]
    assert [d.planned_min for d in given] == [0.0, 30.0]  # the 60-min dose never fell due
    for dose in given:
        assert dose.confirmed_by == "operator"
        assert dose.given_min == pytest.approx(
            result.timer_start_min + dose.planned_min + 1.0, abs=0.1
        )
    assert [d.planned_min for d in result.doses if d.given_min is None] == [60.0]
    assert result.snapshot is not None
    assert result.snapshot.drugs[0].dosed_mg == pytest.approx(sum(d.mg for d in given))


def test_operator_actions_from_another_thread_are_served_by_the_loop() -> None:
    runner = simulated_run(plan(), RunConfig(control_period_s=5.0, speed=120.0), seed=1)
    thread = runner.start_background()
    time.sleep(0.5)
    assert runner.running
    assert runner.status() is not None
    with pytest.raises(InvalidInputError):
        runner.confirm_dose("cisplatin")  # the error reaches the caller's thread
    events = runner.abort("from the console")
    assert events and events[-1].kind == "procedure.aborted"
    assert threading.get_ident() != runner._loop_thread
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert runner.result().outcome == "aborted"


def test_next_phase_and_acknowledge_as_operator_actions() -> None:
    config = RunConfig(
        control_period_s=5.0,
        unattended=False,
        procedure=ProcedureConfig(
            auto_advance=False, auto_confirm_doses=False, circuit_volume_l=1.1
        ),
    )
    runner = simulated_run(plan(), config, seed=1)
    runner.tick()
    runner.next_phase()  # setup -> prime (loads the carrier)
    assert runner.procedure.phase.value == "prime"
    with pytest.raises(InvalidInputError):
        runner.next_phase()  # priming needs 60 s
    assert runner.acknowledge() == []


# -- the supervisor against real injected faults ---------------------------------------------------

ONSET_S = 600.0


def faulted(name: str) -> tuple[RunResult, list[RunSample]]:
    samples: list[RunSample] = []
    runner = simulated_run(
        plan(duration_min=10.0),
        RunConfig(control_period_s=1.0),
        faults=[Fault(name, ONSET_S)],
        seed=3,
        sinks=[CallbackSink(sample=samples.append)],
    )
    return runner.run(), samples


def _raised(result: RunResult, code: str) -> float:
    alarm = next(a for a in result.alarms if a.code == code)
    assert alarm.priority == "high"
    return alarm.raised_min * 60.0


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("heater-stuck-on", "HEATER_STUCK_ON"),
        ("air-in-line", "AIR_IN_LINE"),
        ("power-loss", "POWER_ON_BATTERY"),
    ],
)
def test_supervisor_forces_the_safe_state_on_a_real_fault(fault: str, code: str) -> None:
    result, samples = faulted(fault)
    raised_s = _raised(result, code)
    assert ONSET_S <= raised_s <= ONSET_S + 10.0
    after = [s for s in samples if s.reading.time_s >= raised_s + 1]
    assert after and all(s.command.heater_power_w == 0.0 for s in after)
    assert result.max_region_c is not None and result.max_region_c < 44.0
    if fault == "heater-stuck-on":  # stop the inflow: the heater's heat goes nowhere
        assert all(
            s.command.inflow_l_per_min == 0.0 and not s.command.inflow_clamp_open for s in after
        )
        assert result.max_inflow_c is not None and result.max_inflow_c < 43.0 + 2.0
    if fault == "air-in-line":  # stop everything, clamp both lines
        assert all(
            s.command.inflow_l_per_min == 0.0 and s.command.outflow_l_per_min == 0.0 for s in after
        )
    if fault == "power-loss":  # battery: pumps go on, heating stops
        perfusing = [s for s in after if s.phase == "perfuse"]
        assert perfusing and all(s.reading.inflow_l_per_min > 1.0 for s in perfusing)
        assert all(s.reading.heater_power_w == 0.0 for s in after)
    assert math.isfinite(raised_s)
