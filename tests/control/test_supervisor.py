"""Safety supervisor: every check at its threshold, safe states, latching, plausibility, no false
alarms on healthy readings."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from control_helpers import dutch_plan, reading
from hypothesis import given, settings
from hypothesis import strategies as st

from hipec.control.limits import SafetyLimits
from hipec.control.supervisor import SafeAction, Supervisor, SupervisorConfig
from hipec.devices.base import Command, DeviceInfo, Reading

LIMITS = SafetyLimits.from_plan(dutch_plan())  # inflow limit 43.0, regions 43.0, open
CLOSED = replace(LIMITS, technique="closed")
HEATING = Command(heater_power_w=150.0, inflow_l_per_min=1.5, outflow_l_per_min=1.5)


def feed(
    supervisor: Supervisor,
    readings: list[Reading],
    command: Command = HEATING,
) -> list[set[str]]:
    """Feed readings (their own time stamps); the codes confirmed at each step."""
    return [{c.code for c in supervisor.check(r, command).conditions} for r in readings]


def steady(seconds: int, start: float = 0.0, **changes: object) -> list[Reading]:
    return [reading(time_s=start + t, **changes) for t in range(seconds + 1)]


def first_time(codes_per_step: list[set[str]], code: str) -> int | None:
    return next((i for i, codes in enumerate(codes_per_step) if code in codes), None)


def test_limits_from_plan() -> None:
    assert LIMITS.max_inflow_c == 43.0 and LIMITS.inflow_trip_c == pytest.approx(42.7)
    assert LIMITS.max_region_c == 43.0 and LIMITS.region_trip_c == pytest.approx(42.7)
    assert not LIMITS.closed and CLOSED.closed


# -- limit checks at their thresholds -----------------------------------------------------------

LIMIT_CASES = [
    # code, channel changes at the threshold, just beyond, persistence [s], safe action
    ("INFLOW_TEMP_HIGH", {"inflow_c": 42.7}, {"inflow_c": 42.71}, 2, SafeAction.STOP_INFLOW),
    (
        "CAVITY_TEMP_HIGH",
        {"cavity_c": (41.6, 42.7, 41.4)},
        {"cavity_c": (41.6, 42.71, 41.4)},
        2,
        SafeAction.SAFE_FLOW,
    ),
    ("CORE_TEMP_HIGH", {"core_c": 40.0}, {"core_c": 40.01}, 5, SafeAction.SAFE_FLOW),
    ("CORE_TEMP_WARNING", {"core_c": 39.5}, {"core_c": 39.51}, 10, SafeAction.NONE),
    (
        "LINE_PRESSURE_HIGH",
        {"line_pressure_mmhg": 300.0},
        {"line_pressure_mmhg": 300.5},
        2,
        SafeAction.STOP_INFLOW,
    ),
    (
        "RESERVOIR_LOW",
        {"reservoir_volume_l": 0.25},
        {"reservoir_volume_l": 0.249},
        2,
        SafeAction.STOP_INFLOW,
    ),
    ("AIR_IN_LINE", {"air_in_line": False}, {"air_in_line": True}, 0, SafeAction.STOP_ALL),
    ("POWER_ON_BATTERY", {"power": "mains"}, {"power": "battery"}, 0, SafeAction.HEATER_OFF),
]
CLOSED_CASES = [
    (
        "ABDOMINAL_PRESSURE_HIGH",
        {"abdominal_pressure_mmhg": 30.0},
        {"abdominal_pressure_mmhg": 30.1},
        3,
        SafeAction.STOP_INFLOW,
    ),
    (
        "ABDOMINAL_PRESSURE_WARNING",
        {"abdominal_pressure_mmhg": 20.0},
        {"abdominal_pressure_mmhg": 20.1},
        10,
        SafeAction.NONE,
    ),
]


@pytest.mark.parametrize(
    ("code", "at", "beyond", "persist", "action", "limits"),
    [(*case, LIMITS) for case in LIMIT_CASES] + [(*case, CLOSED) for case in CLOSED_CASES],
)
def test_limit_check_at_its_threshold(
    code: str,
    at: dict[str, object],
    beyond: dict[str, object],
    persist: int,
    action: SafeAction,
    limits: SafetyLimits,
) -> None:
    base = {"abdominal_pressure_mmhg": 10.0} if limits.closed else {}
    quiet = Supervisor(limits)
    assert all(code not in c for c in feed(quiet, steady(30, **{**base, **at})))
    supervisor = Supervisor(limits)
    codes = feed(supervisor, steady(30, **{**base, **beyond}))
    assert first_time(codes, code) == persist
    assert supervisor.safe_action == action
    command = supervisor.constrain(Command(2000.0, 2.0, 2.0))
    if action > SafeAction.NONE:
        assert command.heater_power_w == 0.0
    if action == SafeAction.SAFE_FLOW:
        assert (command.inflow_l_per_min, command.outflow_l_per_min) == (0.5, 0.5)
    if action == SafeAction.STOP_INFLOW:
        assert command.inflow_l_per_min == 0.0 and not command.inflow_clamp_open
        assert command.outflow_l_per_min == 0.5
    if action == SafeAction.STOP_ALL:
        assert command.inflow_l_per_min == command.outflow_l_per_min == 0.0
        assert not (command.inflow_clamp_open or command.outflow_clamp_open)
    if action == SafeAction.HEATER_OFF:
        assert (command.inflow_l_per_min, command.outflow_l_per_min) == (2.0, 2.0)


def test_abdominal_pressure_is_ignored_in_the_open_technique() -> None:
    supervisor = Supervisor(LIMITS)
    assert all(not c for c in feed(supervisor, steady(20, abdominal_pressure_mmhg=50.0)))


def test_hazard_turns_the_heater_off_before_confirmation() -> None:
    supervisor = Supervisor(LIMITS)
    verdict = supervisor.check(reading(inflow_c=42.9), HEATING)
    assert verdict.conditions == () and verdict.heater_inhibited
    assert supervisor.constrain(HEATING).heater_power_w == 0.0
    # a single noisy sample does not latch anything
    verdict = supervisor.check(reading(time_s=1.0), HEATING)
    assert not verdict.heater_inhibited and supervisor.constrain(HEATING) == HEATING


breaching = st.one_of(
    st.floats(42.71, 60.0).map(lambda v: {"inflow_c": v}),
    st.floats(42.71, 60.0).map(lambda v: {"cavity_c": (41.0, v, 41.0)}),
    st.floats(40.01, 45.0).map(lambda v: {"core_c": v}),
    st.floats(300.1, 1000.0).map(lambda v: {"line_pressure_mmhg": v}),
    st.floats(0.0, 0.249).map(lambda v: {"reservoir_volume_l": v}),
    st.just({"air_in_line": True}),
    st.just({"power": "battery"}),
)
commands = st.builds(
    Command,
    heater_power_w=st.one_of(st.floats(-1e4, 1e5), st.sampled_from([math.nan, math.inf])),
    inflow_l_per_min=st.floats(-10.0, 10.0),
    outflow_l_per_min=st.floats(-10.0, 10.0),
    inflow_clamp_open=st.booleans(),
    outflow_clamp_open=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(changes=breaching, command=commands, last=commands)
def test_safe_state_forced_over_any_command(
    changes: dict[str, object], command: Command, last: Command
) -> None:
    supervisor = Supervisor(LIMITS)
    verdict = supervisor.check(reading(**changes), last)
    constrained = supervisor.constrain(command)
    assert constrained.heater_power_w == 0.0
    assert verdict.forced_command is not None and verdict.forced_command.heater_power_w == 0.0


@settings(max_examples=200, deadline=None)
@given(command=commands)
def test_constrain_always_within_actuator_limits(command: Command) -> None:
    supervisor = Supervisor(LIMITS, device=DeviceInfo("t", 2500.0, 3.0))
    supervisor.check(reading(), None)
    out = supervisor.constrain(command)
    assert 0.0 <= out.heater_power_w <= 2500.0
    assert 0.0 <= out.inflow_l_per_min <= 3.0 and 0.0 <= out.outflow_l_per_min <= 3.0


# -- latching and release -----------------------------------------------------------------------


def test_trip_latches_until_reset_after_the_condition_clears() -> None:
    supervisor = Supervisor(LIMITS)
    feed(supervisor, steady(3, inflow_c=43.0))
    assert supervisor.safe_action == SafeAction.STOP_INFLOW
    assert supervisor.reset(3.0) == []  # the condition is still there
    feed(supervisor, steady(5, start=4.0))
    assert supervisor.safe_action == SafeAction.STOP_INFLOW  # cleared but latched
    events = supervisor.reset(10.0)
    assert [e.kind for e in events] == ["supervisor.released"]
    assert supervisor.safe_action == SafeAction.NONE
    assert supervisor.constrain(HEATING) == HEATING


def test_auto_release_when_configured() -> None:
    supervisor = Supervisor(LIMITS, SupervisorConfig(auto_release_after_s=5.0))
    feed(supervisor, steady(3, inflow_c=43.0))
    kinds = []
    for r in steady(6, start=4.0):
        kinds += [e.kind for e in supervisor.check(r, HEATING).events]
    assert kinds == ["supervisor.released"]
    assert supervisor.safe_action == SafeAction.NONE


def test_trip_event_carries_value_and_limit() -> None:
    supervisor = Supervisor(LIMITS)
    events = [e for r in steady(3, inflow_c=43.0) for e in supervisor.check(r, HEATING).events]
    (event,) = events
    assert event.kind == "supervisor.tripped" and event.code == "INFLOW_TEMP_HIGH"
    assert event.data["value"] == 43.0 and event.data["limit"] == pytest.approx(42.7)


# -- fluid and actuator checks ------------------------------------------------------------------


def test_leak_reservoir_falling_with_balanced_pumps() -> None:
    supervisor = Supervisor(LIMITS)
    # 0.31 L/min lost from a reservoir while the pumps are balanced
    leak = [reading(time_s=t, reservoir_volume_l=2.0 - 0.31 * t / 60) for t in range(30)]
    codes = feed(supervisor, leak)
    assert first_time(codes, "LEAK") == 8  # 6 s window + 2 s persistence
    assert supervisor.safe_action == SafeAction.STOP_ALL
    quiet = Supervisor(LIMITS)
    slow = [reading(time_s=t, reservoir_volume_l=2.0 - 0.29 * t / 60) for t in range(30)]
    assert all(not c for c in feed(quiet, slow))


def test_reservoir_change_explained_by_the_pumps_is_no_leak() -> None:
    supervisor = Supervisor(LIMITS)
    filling = [
        reading(time_s=t, inflow_l_per_min=2.0, outflow_l_per_min=0.0,
                reservoir_volume_l=3.0 - 2.0 * t / 60)
        for t in range(60)
    ]  # fmt: skip
    codes = feed(supervisor, filling, Command(150.0, 2.0, 0.0))
    assert all("LEAK" not in c and "VOLUME_IMBALANCE" not in c for c in codes)


def test_volume_imbalance_pumped_versus_commanded() -> None:
    supervisor = Supervisor(LIMITS)
    # the outflow pump delivers 1.0 instead of 1.5 L/min: 0.5 L/min accumulates
    codes = feed(supervisor, steady(120, outflow_l_per_min=1.0))
    first = first_time(codes, "VOLUME_IMBALANCE")
    assert first is not None and 60 < first < 90
    assert supervisor.safe_action == SafeAction.NONE


@pytest.mark.parametrize(("pump", "field"), [("inflow pump", "inflow_l_per_min"),
                                              ("outflow pump", "outflow_l_per_min")])  # fmt: skip
def test_pump_stall(pump: str, field: str) -> None:
    supervisor = Supervisor(LIMITS)
    # 5 s: these synthetic readings keep the reservoir level constant although the pumps are
    # unbalanced, which the 6 s leak window would (rightly) call a leak
    codes = feed(supervisor, steady(5, **{field: 0.29}))  # < 20 % of 1.5 L/min
    assert first_time(codes, "PUMP_STALL") == 3
    verdict = supervisor.check(reading(time_s=6, **{field: 0.29}), HEATING)
    assert any(c.source == pump for c in verdict.conditions)
    assert supervisor.safe_action == SafeAction.SAFE_FLOW
    quiet = Supervisor(LIMITS)
    assert all(not c for c in feed(quiet, steady(5, **{field: 0.31})))


def test_no_pump_stall_when_the_clamp_is_closed() -> None:
    supervisor = Supervisor(LIMITS)
    clamped = Command(0.0, 1.5, 1.5, inflow_clamp_open=False)
    codes = feed(supervisor, steady(10, inflow_l_per_min=0.0, outflow_l_per_min=1.5), clamped)
    assert all("PUMP_STALL" not in c for c in codes)


def test_heater_stuck_on_from_power_feedback() -> None:
    supervisor = Supervisor(LIMITS)
    off = Command(0.0, 1.5, 1.5)
    codes = feed(supervisor, steady(10, heater_power_w=100.1), off)  # tolerance 100 W
    assert first_time(codes, "HEATER_STUCK_ON") == 3
    assert supervisor.safe_action == SafeAction.STOP_INFLOW
    quiet = Supervisor(LIMITS)
    assert all(not c for c in feed(quiet, steady(10, heater_power_w=100.0), off))


def test_heater_stuck_on_from_inflow_rising_with_the_heater_off() -> None:
    supervisor = Supervisor(LIMITS)
    off = Command(0.0, 1.5, 1.5)
    calm = steady(70, inflow_c=41.0, heater_power_w=float("nan"))
    rising = [
        reading(time_s=71 + t, inflow_c=41.0 + 1.2 * (t + 1) / 60, heater_power_w=float("nan"))
        for t in range(20)
    ]
    codes = feed(supervisor, calm + rising, off)
    first = first_time(codes, "HEATER_STUCK_ON")
    assert first is not None and 71 + 3 <= first <= 71 + 14


def test_heater_failed_from_power_feedback_and_not_on_battery() -> None:
    supervisor = Supervisor(LIMITS)
    on = Command(2000.0, 1.5, 1.5)
    codes = feed(supervisor, steady(10, heater_power_w=1699.0), on)
    assert first_time(codes, "HEATER_FAILED") == 5
    assert supervisor.safe_action == SafeAction.HEATER_OFF
    battery = Supervisor(LIMITS)
    codes = feed(battery, steady(10, heater_power_w=0.0, power="battery"), on)
    assert all("HEATER_FAILED" not in c for c in codes)


def test_heater_failed_from_no_temperature_rise() -> None:
    supervisor = Supervisor(LIMITS)
    on = Command(2000.0, 1.5, 1.5)  # >= 50 % of 3000 W
    cold = steady(60, inflow_c=40.0, reservoir_c=39.1, heater_power_w=float("nan"))
    codes = feed(supervisor, cold, on)
    assert first_time(codes, "HEATER_FAILED") == 45 + 5
    quiet = Supervisor(LIMITS)
    warm = steady(60, inflow_c=40.2, reservoir_c=39.1, heater_power_w=float("nan"))
    assert all("HEATER_FAILED" not in c for c in feed(quiet, warm, on))


# -- sensor plausibility ------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["inflow", "outflow", "reservoir", "core", "cavity[6]"])
def test_probe_disconnected_is_detected_and_masked(channel: str) -> None:
    supervisor = Supervisor(LIMITS)
    changes: dict[str, object] = (
        {"cavity_c": (41.6, math.nan, 41.4)}
        if channel == "cavity[6]"
        else {f"{channel}_c": math.nan}
    )
    codes = feed(supervisor, steady(5, **changes))
    assert first_time(codes, "PROBE_DISCONNECTED") == 2
    verdict = supervisor.check(reading(time_s=6), HEATING)  # the probe reads again
    assert channel in verdict.masked_channels
    trusted = verdict.trusted_reading
    value = trusted.cavity_probe(6) if channel == "cavity[6]" else getattr(trusted, f"{channel}_c")
    assert math.isnan(value)
    # any lost probe puts the heater off until the operator resets (pumps keep circulating)
    assert verdict.heater_inhibited and supervisor.safe_action == SafeAction.HEATER_OFF
    supervisor.reset(7.0)
    assert supervisor.check(reading(time_s=8), HEATING).masked_channels == ()


def test_a_lost_cavity_probe_is_left_out_and_heating_resumes_once_acknowledged() -> None:
    supervisor = Supervisor(LIMITS)
    lost = {"cavity_c": (41.6, math.nan, 41.4)}  # the pelvic probe stays disconnected
    feed(supervisor, steady(5, **lost))
    assert supervisor.check(reading(time_s=6, **lost), HEATING).heater_inhibited
    events = supervisor.reset(7.0)  # the operator has checked it and acknowledges
    assert [e.data.get("masked") for e in events] == [True]
    verdict = supervisor.check(reading(time_s=8, **lost), HEATING)
    assert not verdict.heater_inhibited
    assert supervisor.constrain(HEATING).heater_power_w == HEATING.heater_power_w
    assert verdict.masked_channels == ("cavity[6]",)  # still left out of control and checks
    assert math.isnan(verdict.trusted_reading.cavity_probe(6))


def test_a_second_lost_cavity_probe_keeps_the_heater_off() -> None:
    supervisor = Supervisor(LIMITS)
    feed(supervisor, steady(5, cavity_c=(41.6, math.nan, 41.4)))
    supervisor.reset(6.0)  # first probe left out: two remain
    two_lost = {"cavity_c": (41.6, math.nan, math.nan)}
    feed(supervisor, steady(5, start=7.0, **two_lost))
    supervisor.reset(13.0)  # only one probe would remain: no cross-check, no heating
    verdict = supervisor.check(reading(time_s=14, **two_lost), HEATING)
    assert verdict.heater_inhibited
    assert supervisor.constrain(HEATING).heater_power_w == 0.0


def test_a_lost_inflow_probe_keeps_the_heater_off_whatever_the_operator_does() -> None:
    supervisor = Supervisor(LIMITS)
    feed(supervisor, steady(5, inflow_c=math.nan))
    supervisor.reset(6.0)
    assert supervisor.check(reading(time_s=7, inflow_c=math.nan), HEATING).heater_inhibited


def test_pressure_channel_disconnected_in_closed_technique() -> None:
    supervisor = Supervisor(CLOSED)
    codes = feed(supervisor, steady(5))  # the healthy reading has no abdominal pressure
    assert first_time(codes, "PROBE_DISCONNECTED") == 2


def test_probe_stuck_while_the_others_move() -> None:
    supervisor = Supervisor(LIMITS)
    rng = random.Random(1)
    samples = []
    for t in range(40):
        samples.append(
            reading(
                time_s=t,
                inflow_c=42.0 + rng.gauss(0, 0.05),
                outflow_c=41.0 + rng.gauss(0, 0.05),
                reservoir_c=40.8 + rng.gauss(0, 0.05),
                cavity_c=(41.6 + rng.gauss(0, 0.05), 41.2, 41.4 + rng.gauss(0, 0.05)),
            )
        )
    codes = feed(supervisor, samples)
    assert first_time(codes, "PROBE_STUCK") == 20
    assert supervisor.masked_channels == frozenset({"cavity[6]"})


def test_probe_implausible_against_the_redundant_probes() -> None:
    supervisor = Supervisor(LIMITS)
    # others: 41.6, 41.4 and the outflow 41.0 -> median 41.4; the limit is 4.0 K
    codes = feed(supervisor, steady(15, cavity_c=(41.6, 37.35, 41.4)))
    assert first_time(codes, "PROBE_IMPLAUSIBLE") == 3
    assert "cavity[6]" in supervisor.masked_channels
    quiet = Supervisor(LIMITS)
    assert all(not c for c in feed(quiet, steady(15, cavity_c=(41.6, 37.45, 41.4))))


PRIME_S, FILL_S = 60, 40  # then 2 L/min into the abdomen, nothing out: 1.3 L


def _noisy_steady(
    seconds: int,
    rng: random.Random,
    drift_k_per_min: float = 0.0,
    common_k_per_min: float = 0.0,
    onset: int = 0,
    fill: bool = True,
) -> list[tuple[Reading, Command]]:
    """Priming (``PRIME_S``, 1 L/min through an empty abdomen), a fill (``FILL_S``) then steady
    perfusion readings with 0.03 K probe noise, with the
    commands that go with them; cavity[6] drifts from ``onset`` on and every temperature moves
    together at ``common_k_per_min``."""
    out = []
    for t in range(seconds + 1):
        common = common_k_per_min * t / 60
        drift = drift_k_per_min * max(t - onset, 0) / 60
        priming, filling = t < PRIME_S, fill and PRIME_S <= t < PRIME_S + FILL_S
        flows = (1.0, 1.0) if priming else (2.0, 0.0) if filling else (1.5, 1.5)
        out.append(
            (
                reading(
                    time_s=t,
                    inflow_c=42.0 + common + rng.gauss(0, 0.03),
                    outflow_c=41.0 + common + rng.gauss(0, 0.03),
                    reservoir_c=40.8 + rng.gauss(0, 0.03),
                    cavity_c=(41.6 + common + rng.gauss(0, 0.03),
                              41.2 + common + drift + rng.gauss(0, 0.03),
                              41.4 + common + rng.gauss(0, 0.03)),
                    inflow_l_per_min=flows[0],
                    outflow_l_per_min=flows[1],
                ),
                Command(150.0, *flows),
            )
        )  # fmt: skip
    return out


def feed_run(supervisor: Supervisor, run: list[tuple[Reading, Command]]) -> list[set[str]]:
    """Feed (reading, command) pairs, each command applied since the previous reading."""
    codes, last = [], None
    for r, command in run:
        codes.append({c.code for c in supervisor.check(r, last).conditions})
        last = command
    return codes


def test_probe_drift_by_its_model_residual() -> None:
    # 0.5 K/min from t = 200 s: within 30 s, only 0.25 K by then
    supervisor = Supervisor(LIMITS)
    codes = feed_run(
        supervisor, _noisy_steady(260, random.Random(3), drift_k_per_min=0.5, onset=200)
    )
    first = first_time(codes, "PROBE_IMPLAUSIBLE")
    assert first is not None and 200 + 15 <= first <= 200 + 30
    assert supervisor.masked_channels == frozenset({"cavity[6]"})
    assert supervisor.safe_action == SafeAction.HEATER_OFF


@pytest.mark.parametrize("seed", range(3))
def test_no_drift_alarm_on_noise_or_common_movement(seed: int) -> None:
    rng = random.Random(seed)
    assert all(not c for c in feed_run(Supervisor(LIMITS), _noisy_steady(400, rng)))
    # the whole circuit cools at 0.4 K/min: no probe is lying
    assert all(not c for c in feed_run(Supervisor(LIMITS), _noisy_steady(400, rng, 0.0, -0.4)))


def test_model_residual_waits_for_a_filled_abdomen() -> None:
    # circulation through an empty abdomen (priming): the probes read no perfusate, no model
    # applies, and the drift is left to the distance checks (far below their limits here)
    rng = random.Random(4)
    run = _noisy_steady(150, rng, drift_k_per_min=0.5, onset=60, fill=False)
    assert all("PROBE_IMPLAUSIBLE" not in c for c in feed_run(Supervisor(LIMITS), run))
    filled = _noisy_steady(150, rng, drift_k_per_min=0.5, onset=100)
    assert any("PROBE_IMPLAUSIBLE" in c for c in feed_run(Supervisor(LIMITS), filled))


def test_probe_drift_against_its_own_baseline() -> None:
    # a step of 2 K (above drift_k, below disagree_k) once the baseline has settled
    supervisor = Supervisor(LIMITS)
    settle = steady(310)
    stepped = [reading(time_s=311 + t, cavity_c=(41.6, 43.2, 41.4)) for t in range(10)]
    codes = feed(supervisor, settle + stepped)
    assert first_time(codes, "PROBE_IMPLAUSIBLE") == 311 + 3


def test_inflow_warmer_than_reservoir_with_the_heater_off_is_implausible() -> None:
    supervisor = Supervisor(LIMITS)
    off = Command(0.0, 1.5, 1.5)
    codes = feed(supervisor, steady(80, inflow_c=42.4, reservoir_c=40.8, heater_power_w=0.0), off)
    assert first_time(codes, "PROBE_IMPLAUSIBLE") == 60 + 3
    assert supervisor.check(reading(time_s=81), off).heater_inhibited  # inflow is critical


# -- no false alarms ----------------------------------------------------------------------------


def healthy_run(seconds: int, seed: int) -> tuple[list[Reading], list[Command]]:
    """A plausible healthy perfusion: heat-up from 38 C, then holding 41.5 C, with sensor noise
    and regional differences; commands follow a simple heater rule."""
    rng = random.Random(seed)
    readings, commands = [], []
    inflow, cavity, reservoir, core = 38.0, [37.0, 36.5, 36.8], 37.8, 37.0
    for t in range(seconds):
        power = max(0.0, min(3000.0, 800.0 * (41.5 - inflow) + 400.0))
        inflow += (reservoir + power / 104.0 - inflow) * 0.08
        reservoir += (sum(cavity) / 3 - 0.3 - reservoir) * 0.02
        cavity = [c + (inflow - 0.4 * (i + 1) - c) * 0.01 for i, c in enumerate(cavity)]
        core += (min(cavity) - 2.0 - core) * 0.0005
        noise = lambda: rng.gauss(0.0, 0.03)  # noqa: E731
        readings.append(
            reading(
                time_s=float(t),
                inflow_c=inflow + noise(),
                outflow_c=sum(cavity) / 3 - 0.2 + noise(),
                reservoir_c=reservoir + noise(),
                cavity_c=tuple(c + noise() for c in cavity),
                core_c=core + noise(),
                inflow_l_per_min=1.5 + rng.gauss(0, 0.01),
                outflow_l_per_min=1.5 + rng.gauss(0, 0.01),
                line_pressure_mmhg=120.0 + rng.gauss(0, 2.0),
                reservoir_volume_l=0.4 + rng.gauss(0, 0.003),
                heater_power_w=power,
            )
        )
        commands.append(Command(power, 1.5, 1.5))
    return readings, commands


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_false_alarms_on_a_healthy_run(seed: int) -> None:
    readings, commands = healthy_run(1800, seed)
    assert max(r.inflow_c for r in readings) < LIMITS.inflow_trip_c
    supervisor = Supervisor(LIMITS)
    last: Command | None = None
    for r, command in zip(readings, commands, strict=True):
        verdict = supervisor.check(r, last)
        assert verdict.conditions == (), (r.time_s, verdict.conditions)
        assert not verdict.heater_inhibited
        last = supervisor.constrain(command)
        assert last == command
