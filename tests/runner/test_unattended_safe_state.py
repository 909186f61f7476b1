"""An unattended run held in a latched hazardous safe state that blocks its procedure aborts.

A stuck-on heater in the fill trips ``HEATER_STUCK_ON`` (inflow stopped and clamped, heater off):
the fill cannot reach its volume and only an operator can reset the trip. Unattended, the runner
ends the procedure after ``RunConfig.max_blocked_s`` (5 min) in that state; attended, it waits for
the operator with the alarm up. Runs use a 5 s control period (the trip is confirmed within two
periods of the onset) and BLAS on one thread, so each takes well under a second.
"""

from __future__ import annotations

import contextlib

import pytest

from hipec.control.events import Event
from hipec.devices.faults import Fault
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen, plan_perfusion
from hipec.protocols.plan import PerfusionPlan
from hipec.runner import (
    CallbackSink,
    PerfusionRunner,
    RunConfig,
    RunResult,
    RunSample,
    simulated_run,
    simulation_plan,
)
from hipec.runner.threads import limit_blas_threads

limit_blas_threads()

PERIOD_S = 5.0
ONSET_S = 120.0  # 2 min: one minute into the fill (priming takes 60 s)
DEFAULT_BLOCKED_S = 300.0
RECOVERY = "an unattended run cannot recover"


def plan(duration_min: float = 10.0) -> PerfusionPlan:
    base = plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70)
    return simulation_plan(base, duration_min=duration_min)


def run(
    fault: str,
    *,
    unattended: bool = True,
    duration_min: float = 10.0,
    onset_s: float = ONSET_S,
    **config: float,
) -> tuple[PerfusionRunner, RunResult, list[RunSample]]:
    samples: list[RunSample] = []
    runner = simulated_run(
        plan(duration_min),
        RunConfig(control_period_s=PERIOD_S, unattended=unattended, **config),  # type: ignore[arg-type]
        faults=[Fault(fault, onset_s)],
        seed=2,
        sinks=[CallbackSink(sample=samples.append)],
    )
    if not unattended:
        # the operator at the machine starts priming and the fill, then never touches the alarm
        def operator(sample: RunSample) -> None:
            if sample.phase in ("setup", "prime"):
                with contextlib.suppress(InvalidInputError):  # priming still running
                    runner.next_phase()

        runner.sinks.append(CallbackSink(sample=operator))
    return runner, runner.run(), samples


def tripped_at(events: list[Event], code: str) -> float:
    return next(e.time_s for e in events if e.kind == "supervisor.tripped" and e.code == code)


def aborted(events: list[Event]) -> Event:
    return next(e for e in events if e.kind == "procedure.aborted")


# -- unattended: heater stuck on in the fill ---------------------------------------------------


@pytest.fixture(scope="module")
def stuck() -> tuple[PerfusionRunner, RunResult, list[RunSample]]:
    return run("heater-stuck-on")


def test_default_is_five_minutes() -> None:
    assert RunConfig().max_blocked_s == DEFAULT_BLOCKED_S


def test_stuck_heater_in_the_fill_aborts_with_the_trip_named(
    stuck: tuple[PerfusionRunner, RunResult, list[RunSample]],
) -> None:
    runner, result, _ = stuck
    assert result.outcome == "aborted"
    assert result.reason is not None
    assert result.reason.startswith("HEATER_STUCK_ON")
    expected = f"held the machine in its safe state for 5 min; {RECOVERY}"
    assert expected in result.reason
    event = aborted(runner.events)
    assert event.code == "fill"  # aborted in the phase it blocked
    assert event.message == f"aborted in fill: {result.reason}"
    assert [p.name for p in result.phases] == ["setup", "prime", "fill", "aborted"]


def test_abort_comes_after_the_blocked_time_not_before(
    stuck: tuple[PerfusionRunner, RunResult, list[RunSample]],
) -> None:
    runner, _, samples = stuck
    trip_s = tripped_at(runner.events, "HEATER_STUCK_ON")
    assert ONSET_S <= trip_s <= ONSET_S + 10.0
    abort_s = aborted(runner.events).time_s
    # the blocked clock starts at the first tick after the trip latched
    assert trip_s + DEFAULT_BLOCKED_S <= abort_s <= trip_s + DEFAULT_BLOCKED_S + 2 * PERIOD_S
    held = [s for s in samples if trip_s < s.reading.time_s < abort_s]
    assert held and all(s.phase == "fill" and s.safe_action == "stop_inflow" for s in held)


def test_the_machine_stays_safe_through_and_after_the_abort(
    stuck: tuple[PerfusionRunner, RunResult, list[RunSample]],
) -> None:
    runner, result, samples = stuck
    trip_s = tripped_at(runner.events, "HEATER_STUCK_ON")
    after = [s for s in samples if s.reading.time_s > trip_s]
    assert after and all(s.command.heater_power_w == 0.0 for s in after)
    assert all(s.command.inflow_l_per_min == 0.0 and not s.command.inflow_clamp_open for s in after)
    final = samples[-1]
    assert final.phase == "aborted"
    assert final.command.outflow_l_per_min == 0.0 and not final.command.outflow_clamp_open
    assert result.max_region_c is not None and result.max_region_c <= 44.0
    assert result.max_inflow_c is not None and result.max_inflow_c <= runner.plan.max_inflow_c


def test_the_blocked_time_is_configurable() -> None:
    runner, result, _ = run("heater-stuck-on", max_blocked_s=90.0)
    assert result.outcome == "aborted" and result.reason is not None
    assert "for 1.5 min; " + RECOVERY in result.reason
    trip_s = tripped_at(runner.events, "HEATER_STUCK_ON")
    abort_s = aborted(runner.events).time_s
    assert trip_s + 90.0 <= abort_s <= trip_s + 90.0 + 2 * PERIOD_S


def test_a_stop_all_trip_blocks_too() -> None:
    runner, result, _ = run("air-in-line")
    assert result.outcome == "aborted" and result.reason is not None
    assert result.reason.startswith("AIR_IN_LINE held the machine in its safe state")
    assert aborted(runner.events).code == "fill"


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_max_blocked_must_be_a_positive_time(seconds: float) -> None:
    with pytest.raises(InvalidInputError) as error:
        RunConfig(max_blocked_s=seconds)
    assert error.value.field == "max_blocked_s"


# -- attended: the operator decides -------------------------------------------------------------


def test_attended_run_keeps_waiting_for_the_operator() -> None:
    limit_s = ONSET_S + 3 * DEFAULT_BLOCKED_S  # well past the unattended abort
    runner, result, samples = run("heater-stuck-on", unattended=False, max_run_s=limit_s)
    assert result.outcome == "aborted"
    assert result.reason == f"run time limit of {limit_s / 60:g} min reached"
    assert not any(RECOVERY in e.message for e in runner.events)
    trip_s = tripped_at(runner.events, "HEATER_STUCK_ON")
    waiting = [s for s in samples if trip_s < s.reading.time_s < limit_s]
    assert waiting and all(s.phase == "fill" for s in waiting)
    assert all(s.safe_action == "stop_inflow" and s.command.heater_power_w == 0 for s in waiting)
    # the alarm stays up all along (the operator has not acknowledged it)
    assert all(
        any(code == "HEATER_STUCK_ON" and priority == "high" for code, priority, _ in s.alarms)
        for s in waiting
    )
    assert aborted(runner.events).time_s == pytest.approx(limit_s)


# -- a safe state that does not block the procedure --------------------------------------------


def test_power_loss_keeps_pumping_and_never_triggers_the_abort() -> None:
    # on battery the heater is off but the pumps go on: the fill and the rest proceed; the
    # perfusion starts by the heat override (no heating) and completes
    runner, result, samples = run("power-loss", max_heat_s=120.0)
    assert result.outcome == "completed" and result.reason is None
    assert not any(RECOVERY in e.message for e in runner.events)
    trip_s = tripped_at(runner.events, "POWER_ON_BATTERY")
    fill = next(p for p in result.phases if p.name == "fill")
    assert fill.start_min * 60 < trip_s and fill.end_min is not None and fill.end_min * 60 > trip_s
    assert all(s.safe_action == "heater_off" for s in samples if trip_s < s.reading.time_s)


# -- which phases a stopped inflow blocks --------------------------------------------------------


@pytest.fixture(scope="module")
def phase_starts_s() -> dict[str, float]:
    """Phase starts of the fault-free run [s]: a faulty run is that run until its onset."""
    _, result, _ = run("power-loss", onset_s=10 * 3600.0)  # never acts
    assert result.outcome == "completed"
    return {p.name: p.start_min * 60.0 for p in result.phases}


@pytest.mark.parametrize("phase", ["heat", "perfuse"])
def test_a_stopped_inflow_in_heat_or_perfuse_aborts_there(
    phase: str, phase_starts_s: dict[str, float]
) -> None:
    # without the rule the heat override would start, and the timer count, a perfusion with the
    # inflow stopped and clamped, and the run would end "completed"
    onset_s = phase_starts_s[phase] + 5.0  # heat lasts under a minute here
    runner, result, _ = run("heater-stuck-on", onset_s=onset_s)
    assert result.outcome == "aborted" and result.reason is not None
    assert result.reason.startswith("HEATER_STUCK_ON held the machine in its safe state")
    assert aborted(runner.events).code == phase
    assert aborted(runner.events).time_s >= onset_s + DEFAULT_BLOCKED_S
    assert result.max_region_c is not None and result.max_region_c <= 44.0
    assert result.max_inflow_c is not None and result.max_inflow_c <= runner.plan.max_inflow_c


def test_a_stop_all_in_the_drain_does_not_trigger_the_abort(
    phase_starts_s: dict[str, float],
) -> None:
    # after the perfusion the drain and the rinse end on their own time limits
    onset_s = phase_starts_s["drain"] + 10.0
    runner, result, samples = run("air-in-line", onset_s=onset_s)
    trip_s = tripped_at(runner.events, "AIR_IN_LINE")
    assert trip_s >= onset_s
    assert result.outcome == "completed" and result.reason is None
    assert not any(RECOVERY in e.message for e in runner.events)
    assert all(s.safe_action == "stop_all" for s in samples if s.reading.time_s > trip_s)
