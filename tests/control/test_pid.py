"""The PID: limits, anti-windup, derivative on measurement, setpoint weight, bumpless transfer."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipec.control.pid import Pid, PidGains
from hipec.errors import InvalidInputError

finite = st.floats(-200.0, 200.0, allow_nan=False)
gains_st = st.builds(
    PidGains,
    kp=st.floats(0.0, 50.0),
    ki=st.floats(0.0, 5.0),
    kd=st.floats(0.0, 5.0),
    output_min=st.just(-10.0),
    output_max=st.just(10.0),
    setpoint_weight=st.floats(0.0, 1.0),
    anti_windup=st.sampled_from(["back_calculation", "conditional"]),
    derivative_filter_s=st.floats(0.0, 5.0),
)
step_st = st.tuples(finite, finite, st.floats(0.01, 5.0), st.floats(-20.0, 20.0))


@settings(max_examples=150, deadline=None)
@given(gains=gains_st, steps=st.lists(step_st, min_size=1, max_size=60))
def test_output_always_within_limits(gains: PidGains, steps: list[tuple[float, ...]]) -> None:
    pid = Pid(gains)
    for setpoint, measurement, dt_s, feedforward in steps:
        output = pid.update(setpoint, measurement, dt_s, feedforward=feedforward)
        assert gains.output_min <= output <= gains.output_max
        assert math.isfinite(pid.integral)


@settings(max_examples=100, deadline=None)
@given(
    kp=st.floats(0.5, 20.0),
    ki=st.floats(0.01, 2.0),
    mode=st.sampled_from(["back_calculation", "conditional"]),
    saturated_steps=st.integers(10, 2000),
)
def test_no_windup_output_leaves_limit_promptly(
    kp: float, ki: float, mode: str, saturated_steps: int
) -> None:
    gains = PidGains(kp=kp, ki=ki, output_min=0.0, output_max=10.0, anti_windup=mode)  # type: ignore[arg-type]
    pid = Pid(gains)
    for _ in range(saturated_steps):  # a large error the output cannot follow
        assert pid.update(100.0, 0.0, 1.0) == 10.0
    # the error reverses slightly: the output must leave the upper limit within two steps
    outputs = [pid.update(50.0, 50.5, 1.0) for _ in range(2)]
    assert min(outputs) < 10.0


def test_the_windup_check_fails_without_anti_windup() -> None:
    """Back-calculation switched off (an endless tracking time): the same run stays saturated."""
    gains = PidGains(kp=1.0, ki=0.5, output_min=0.0, output_max=10.0, tracking_time_s=1e12)
    pid = Pid(gains)
    for _ in range(200):
        pid.update(100.0, 0.0, 1.0)
    assert [pid.update(50.0, 50.5, 1.0) for _ in range(20)] == [10.0] * 20


@settings(max_examples=150, deadline=None)
@given(
    gains=gains_st,
    manual=st.floats(-10.0, 10.0),
    history=st.lists(step_st, min_size=1, max_size=20),
)
def test_auto_after_manual_starts_from_the_manual_output(
    gains: PidGains, manual: float, history: list[tuple[float, ...]]
) -> None:
    pid = Pid(gains)
    pid.set_manual(manual)
    for setpoint, measurement, dt_s, feedforward in history:
        assert pid.update(setpoint, measurement, dt_s, feedforward=feedforward) == manual
    setpoint, measurement, dt_s, feedforward = history[-1]
    pid.set_auto()
    first_auto = pid.update(setpoint, measurement, dt_s, feedforward=feedforward)
    assert first_auto == pytest.approx(manual, abs=1e-9)


def test_derivative_acts_on_measurement_not_on_setpoint_steps() -> None:
    pid = Pid(PidGains(kp=0.0, kd=10.0, output_min=-100.0, output_max=100.0))
    pid.update(10.0, 5.0, 1.0)
    assert pid.update(30.0, 5.0, 1.0) == 0.0  # a setpoint step: no kick
    assert pid.update(30.0, 6.0, 1.0) == pytest.approx(-10.0)  # measurement rising 1 K/s


def test_setpoint_weight_softens_setpoint_steps() -> None:
    plain = Pid(PidGains(kp=2.0, output_min=-100.0, output_max=100.0))
    weighted = Pid(PidGains(kp=2.0, output_min=-100.0, output_max=100.0, setpoint_weight=0.5))
    assert plain.update(10.0, 4.0, 1.0) == pytest.approx(12.0)
    assert weighted.update(10.0, 4.0, 1.0) == pytest.approx(2.0 * (5.0 - 4.0))


def test_integral_feedforward_gain_scale_and_hold() -> None:
    pid = Pid(PidGains(kp=1.0, ki=0.5, output_min=-100.0, output_max=100.0))
    assert pid.update(2.0, 0.0, 1.0) == pytest.approx(2.0)  # integral applies from the next step
    assert pid.update(2.0, 0.0, 1.0) == pytest.approx(3.0)
    assert pid.update(2.0, 0.0, 1.0, hold_integral=True) == pytest.approx(4.0)
    assert pid.update(2.0, 0.0, 1.0) == pytest.approx(4.0)  # held: no growth in the last step
    assert pid.update(2.0, 0.0, 1.0, feedforward=10.0) == pytest.approx(15.0)
    scaled = Pid(PidGains(kp=1.0, output_min=-100.0, output_max=100.0))
    assert scaled.update(2.0, 0.0, 1.0, gain_scale=2.0) == pytest.approx(4.0)


def test_reset_forgets_integral_and_manual_mode() -> None:
    pid = Pid(PidGains(kp=1.0, ki=1.0, output_min=-100.0, output_max=100.0))
    for _ in range(5):
        pid.update(1.0, 0.0, 1.0)
    pid.set_manual(3.0)
    pid.reset()
    assert pid.integral == 0.0 and pid.auto
    assert pid.update(1.0, 0.0, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kp": 1.0, "output_min": 1.0, "output_max": 1.0}, "output_max"),
        ({"kp": -1.0}, "gains"),
        ({"kp": 1.0, "setpoint_weight": 1.5}, "setpoint_weight"),
    ],
)
def test_invalid_gains_are_refused(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        PidGains(**kwargs)
    assert error.value.field == field


def test_nan_measurement_and_bad_dt_are_refused() -> None:
    pid = Pid(PidGains(kp=1.0))
    with pytest.raises(InvalidInputError):
        pid.update(1.0, float("nan"), 1.0)
    with pytest.raises(InvalidInputError):
        pid.update(1.0, 0.0, 0.0)
