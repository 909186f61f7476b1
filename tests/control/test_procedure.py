"""Procedure: every transition (allowed and refused), timer rules, pause/resume, abort, doses."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from control_helpers import dutch_plan, reading

from hipec.control.procedure import (
    COVERAGE_FLOW_L_PER_MIN,
    PRACTICE_FLOW_RANGE_L_PER_MIN,
    TRANSITIONS,
    Phase,
    Procedure,
    ProcedureConfig,
    ProcedureTick,
    TransitionRefusedError,
    perfusion_flow_l_per_min,
)
from hipec.devices.base import Reading
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen, plan_perfusion

ORDER = ["setup", "prime", "fill", "heat", "perfuse", "drain", "rinse", "complete"]
FAST = ProcedureConfig(prime_s=10.0, rinse_s=20.0, at_target_hold_s=5.0, fill_volume_l=1.0)


def world(
    procedure: Procedure, time_s: float, inflow_c: float = 41.5, **changes: object
) -> Reading:
    """A reading whose pump flows follow the procedure's current flow setpoints."""
    flow = procedure.setpoints().flow
    q_in = flow.rate_l_per_min if flow.mode in ("circulate", "fill") else 0.0
    q_out = flow.rate_l_per_min if flow.mode in ("circulate", "drain") else 0.0
    values: dict[str, object] = {
        "time_s": time_s,
        "inflow_c": inflow_c,
        "inflow_l_per_min": q_in,
        "outflow_l_per_min": q_out,
    }
    values.update(changes)
    return reading(**values)


def run(procedure: Procedure, start: float, seconds: int, **changes: object) -> list[ProcedureTick]:
    return [
        procedure.advance(world(procedure, start + t, **changes))  # type: ignore[arg-type]
        for t in range(seconds)
    ]


def phase_events(ticks: list[ProcedureTick]) -> list[str]:
    return [e.code for tick in ticks for e in tick.events if e.kind == "phase.changed"]


def test_unattended_run_goes_through_every_phase_in_order() -> None:
    procedure = Procedure(dutch_plan(), FAST)
    ticks = run(procedure, 0.0, 90 * 60 + 400)
    assert phase_events(ticks) == ORDER
    assert [span.phase.value for span in procedure.phases] == ORDER
    assert procedure.phase == Phase.COMPLETE
    perfuse = next(s for s in procedure.phases if s.phase == Phase.PERFUSE)
    assert perfuse.end_s is not None
    assert perfuse.end_s - perfuse.start_s == pytest.approx(90 * 60)
    # doses at 0, 30, 60 min after the timer start, auto-confirmed when due
    given = [(d.planned_min, d.given_timer_min, d.confirmed_by) for d in procedure.doses]
    assert given == [(0.0, 0.0, "auto"), (30.0, 30.0, "auto"), (60.0, 60.0, "auto")]
    assert [d.given_s - perfuse.start_s for d in procedure.doses] == [0.0, 1800.0, 3600.0]  # type: ignore[operator]
    kinds = [e.kind for tick in ticks for e in tick.events]
    assert kinds.count("timer.started") == 1 and kinds.count("timer.ended") == 1
    assert kinds.count("dose.due") == 3 and kinds.count("dose.confirmed") == 3


def test_setpoints_per_phase() -> None:
    plan = dutch_plan()
    procedure = Procedure(plan, FAST)
    seen = {"setup": procedure.setpoints()}
    for tick in run(procedure, 0.0, 90 * 60 + 400):
        seen.setdefault(tick.phase.value, tick.setpoints)
    assert not seen["setup"].temperature.heating and seen["setup"].flow.mode == "stop"
    assert seen["prime"].temperature.target_c == 39.0 and seen["prime"].flow.mode == "circulate"
    assert seen["fill"].temperature.target_c == 40.0 and seen["fill"].flow.mode == "fill"
    # only heat and perfuse hold the regimen's temperature (the coverage controller's band)
    assert not seen["prime"].temperature.therapeutic and not seen["fill"].temperature.therapeutic
    for phase in ("heat", "perfuse"):
        assert seen[phase].temperature.therapeutic
        assert seen[phase].temperature.target_c == plan.target_temperature_c
        assert seen[phase].temperature.heating and seen[phase].flow.mode == "circulate"
        assert seen[phase].flow.rate_l_per_min == 1.5  # no regimen flow: the default
    assert not seen["drain"].temperature.heating and seen["drain"].flow.mode == "drain"
    assert not seen["rinse"].temperature.heating
    assert not seen["complete"].temperature.heating and seen["complete"].flow.mode == "stop"


def operator(**changes: object) -> ProcedureConfig:
    return replace(FAST, auto_advance=False, auto_confirm_doses=False, **changes)  # type: ignore[arg-type]


def test_operator_transitions_with_guards() -> None:
    procedure = Procedure(dutch_plan(), operator())
    procedure.advance(world(procedure, 0.0))
    with pytest.raises(TransitionRefusedError, match="from setup the next phase may be prime"):
        procedure.request("fill", 0.0)
    procedure.request("prime", 1.0)
    run(procedure, 1.0, 5)
    with pytest.raises(TransitionRefusedError, match="priming needs 10 s"):
        procedure.request("fill", 6.0)
    run(procedure, 6.0, 6)
    procedure.request(Phase.FILL, 11.0)
    with pytest.raises(TransitionRefusedError, match="filled"):
        procedure.request("heat", 11.0)
    run(procedure, 11.0, 31)  # 2 L/min for 30 s = 1.0 L
    procedure.request("heat", 42.0)
    run(procedure, 42.0, 3, inflow_c=40.0)
    with pytest.raises(TransitionRefusedError, match="timer-start rule inflow_at_target"):
        procedure.request("perfuse", 45.0)
    run(procedure, 45.0, 6, inflow_c=41.35)  # within 0.2 K of 41.5 for 5 s
    procedure.request("perfuse", 51.0)
    assert procedure.timer_started
    with pytest.raises(TransitionRefusedError, match="abort to stop early"):
        procedure.request("drain", 52.0)
    with pytest.raises(TransitionRefusedError, match="must be one of"):
        procedure.request("boil", 52.0)


@pytest.mark.parametrize("phase", [p for p in Phase if TRANSITIONS[p]])
def test_only_the_next_phase_may_be_requested(phase: Phase) -> None:
    procedure = Procedure(dutch_plan(), operator())
    procedure.start(0.0)
    procedure.phase = phase
    for target in Phase:
        if target in TRANSITIONS[phase]:
            continue
        with pytest.raises(TransitionRefusedError):
            procedure.request(target, 1.0)


def test_inflow_at_target_needs_the_hold_time_and_restarts_when_it_drops() -> None:
    procedure = Procedure(dutch_plan(), operator())
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    run(procedure, 0.0, 4, inflow_c=41.4)
    run(procedure, 4.0, 1, inflow_c=41.2)  # dropped out of the band
    run(procedure, 5.0, 5, inflow_c=41.4)
    with pytest.raises(TransitionRefusedError):
        procedure.request("perfuse", 9.0)
    run(procedure, 10.0, 1, inflow_c=41.4)
    procedure.request("perfuse", 10.0)


def test_abdomen_at_target_rule() -> None:
    plan = replace(dutch_plan(), timer_start="abdomen_at_target", intra_abdominal_target_c=41.0)
    procedure = Procedure(plan, operator())
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    run(procedure, 0.0, 10, cavity_c=(40.8, 40.6, 40.8))  # mean 40.73 < 41.0 - 0.2
    with pytest.raises(TransitionRefusedError, match="abdomen"):
        procedure.request("perfuse", 10.0)
    run(procedure, 10.0, 6, cavity_c=(40.9, 40.8, 40.9))  # mean 40.87 >= 40.8
    procedure.request("perfuse", 16.0)


def test_perfusion_start_rule_starts_at_once() -> None:
    plan = replace(dutch_plan(), timer_start="perfusion_start")
    procedure = Procedure(plan, FAST)
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    tick = procedure.advance(world(procedure, 1.0, inflow_c=37.0))
    assert tick.phase == Phase.PERFUSE and procedure.timer_started


def test_drug_added_rule_timer_starts_at_the_first_confirmation() -> None:
    plan = replace(dutch_plan(), timer_start="drug_added")
    procedure = Procedure(plan, operator())
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    ticks = run(procedure, 0.0, 4, inflow_c=41.5)
    assert ticks[-1].due_doses == ()  # not yet at target for 5 s
    ticks = run(procedure, 4.0, 3, inflow_c=41.5)
    assert [d.planned_min for d in ticks[-1].due_doses] == [0.0]
    assert [c.code for c in ticks[-1].conditions] == ["DOSE_DUE"]
    with pytest.raises(TransitionRefusedError, match="first drug"):
        procedure.request("perfuse", 7.0)
    events = procedure.confirm_dose(7.5)
    assert [e.kind for e in events][:3] == ["dose.confirmed", "phase.changed", "timer.started"]
    assert procedure.phase == Phase.PERFUSE and procedure.doses[0].given_s == 7.5
    assert procedure.doses[0].confirmed_by == "operator"


def test_operator_dose_confirmation_records_the_actual_time() -> None:
    procedure = Procedure(dutch_plan(), operator())
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    run(procedure, 0.0, 6)
    procedure.request("perfuse", 6.0)
    with pytest.raises(Exception, match="no dose of cisplatin is due"):
        procedure.confirm_dose(6.0, "cisplatin")
    procedure.confirm_dose(66.0, "mitomycin C")  # a minute late
    first = procedure.doses[0]
    assert first.given_s == 66.0 and first.given_timer_min == pytest.approx(1.0)
    ticks = run(procedure, 66.0, 30 * 60 - 59)
    due = [d for d in ticks[-1].due_doses]
    assert [d.planned_min for d in due] == [30.0] and due[0].due_s == pytest.approx(6.0 + 1800.0)
    with pytest.raises(Exception, match="no dose"):
        procedure.confirm_dose(1900.0)
        procedure.confirm_dose(1900.0)


def test_pause_excludes_time_from_the_timer() -> None:
    procedure = Procedure(dutch_plan(), FAST)
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    run(procedure, 0.0, 6)
    assert procedure.phase == Phase.PERFUSE
    run(procedure, 6.0, 100)  # timer 100 s at t=105 (started at 5)
    events = procedure.pause(105.5)
    assert [e.kind for e in events] == ["procedure.paused"]
    ticks = run(procedure, 106.0, 300)
    assert procedure.timer_s == pytest.approx(100.5)
    assert all(t.paused for t in ticks)
    assert "PROCEDURE_PAUSED" in [c.code for c in ticks[-1].conditions]
    assert [e.kind for e in procedure.resume(405.5)] == ["procedure.resumed"]
    run(procedure, 406.0, 10)
    assert procedure.timer_s == pytest.approx(100.5 + 9.5)  # resumed at 405.5, now 415
    assert procedure.pause(420.0) and procedure.pause(421.0) == []  # idempotent
    with pytest.raises(TransitionRefusedError, match="paused"):
        procedure.request("drain", 421.0)


def test_timer_ends_at_the_duration_despite_pauses() -> None:
    procedure = Procedure(dutch_plan(), FAST)
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    run(procedure, 0.0, 6)
    start = next(s.start_s for s in procedure.phases if s.phase == Phase.PERFUSE)
    procedure.pause(start + 600.0)
    procedure.resume(start + 900.0)
    ticks = run(procedure, 6.0, 5700)
    end = next(e.time_s for t in ticks for e in t.events if e.kind == "timer.ended")
    assert end - start == pytest.approx(5400.0 + 300.0)
    assert procedure.timer_s == pytest.approx(5400.0)


@pytest.mark.parametrize("phase", [p for p in Phase if p not in (Phase.COMPLETE, Phase.ABORTED)])
def test_abort_from_every_phase(phase: Phase) -> None:
    procedure = Procedure(dutch_plan(), FAST)
    procedure.start(0.0)
    procedure.phase = phase
    events = procedure.abort(5.0, "surgeon's decision")
    assert procedure.phase == Phase.ABORTED
    aborted = [e for e in events if e.kind == "procedure.aborted"]
    assert aborted and aborted[0].code == phase.value and "surgeon" in aborted[0].message
    setpoints = procedure.setpoints()
    assert not setpoints.temperature.heating and setpoints.flow.mode == "stop"
    with pytest.raises(TransitionRefusedError, match="ended"):
        procedure.abort(6.0)
    with pytest.raises(TransitionRefusedError):
        procedure.pause(6.0)
    with pytest.raises(TransitionRefusedError):
        procedure.request("complete", 6.0)


def test_abort_records_missed_doses() -> None:
    procedure = Procedure(dutch_plan(), FAST)
    procedure.start(0.0)
    procedure.phase = Phase.HEAT
    run(procedure, 0.0, 6)
    events = procedure.abort(100.0)
    missed = [e for e in events if e.kind == "dose.missed"]
    assert [e.data["planned_min"] for e in missed] == [30.0, 60.0]
    assert all(math.isclose(d.planned_min, 0.0) for d in procedure.doses if d.given_s is not None)


def test_drain_without_rinse_goes_to_complete() -> None:
    procedure = Procedure(dutch_plan(), replace(FAST, rinse=False))
    procedure.start(0.0)
    procedure.phase = Phase.DRAIN
    procedure._progress.filled_l = 1.0
    ticks = run(procedure, 0.0, 40)  # 2 L/min drains 0.9 L in 27 s
    assert phase_events(ticks) == ["complete"]


def test_drain_times_out() -> None:
    procedure = Procedure(dutch_plan(), replace(FAST, max_drain_s=30.0))
    procedure.start(0.0)
    procedure.phase = Phase.DRAIN
    procedure._progress.filled_l = 100.0
    ticks = run(procedure, 0.0, 32, outflow_l_per_min=0.0)
    assert phase_events(ticks) == ["rinse"]


@pytest.mark.parametrize(
    ("regimen", "policy", "expected"),
    [
        ("aspsm-mmc", "regimen", 1.5),  # no regimen flow: the default
        ("aspsm-mmc", "upper", 1.5),
        ("aspsm-mmc", "coverage", COVERAGE_FLOW_L_PER_MIN),
        ("elias-oxaliplatin", "regimen", 2.0),  # the regimen's 2 L/min is never overridden
        ("elias-oxaliplatin", "upper", 2.0),
        ("elias-oxaliplatin", "coverage", 2.0),
    ],
)
def test_flow_policies(regimen: str, policy: str, expected: float) -> None:
    plan = plan_perfusion(get_regimen(regimen), height_cm=170, weight_kg=70)
    config = replace(FAST, flow_policy=policy)  # type: ignore[arg-type]
    assert perfusion_flow_l_per_min(plan, config) == expected
    procedure = Procedure(plan, config)
    assert procedure.perfusion_flow_l_per_min == expected
    # an explicit flow wins over every policy
    assert perfusion_flow_l_per_min(plan, replace(config, perfusion_flow_l_per_min=1.2)) == 1.2


def test_upper_policy_takes_the_top_of_a_regimen_range() -> None:
    plan = replace(
        plan_perfusion(get_regimen("aspsm-mmc"), height_cm=170, weight_kg=70),
        flow_l_per_min=(1.0, 2.0),
    )
    assert perfusion_flow_l_per_min(plan, FAST) == 1.5
    assert perfusion_flow_l_per_min(plan, replace(FAST, flow_policy="upper")) == 2.0
    assert perfusion_flow_l_per_min(plan, replace(FAST, flow_policy="coverage")) == 2.0


def test_flow_policy_settings_are_checked() -> None:
    low, high = PRACTICE_FLOW_RANGE_L_PER_MIN
    assert low <= COVERAGE_FLOW_L_PER_MIN <= high
    with pytest.raises(InvalidInputError):
        ProcedureConfig(flow_policy="fastest")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        ProcedureConfig(coverage_flow_l_per_min=high + 0.5)
    with pytest.raises(InvalidInputError):
        ProcedureConfig(default_perfusion_flow_l_per_min=math.nan)
